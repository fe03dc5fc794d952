"""The dashboard service: a tornado app behind JupyterHub OAuth, and the
collector that refreshes its rows in the background (never per request)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import logging
import os
import secrets
import signal
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler, HubOAuthenticated
from jupyterhub.utils import AnyTimeoutError, url_path_join
from tornado import web
from tornado.httpserver import HTTPServer

from ...hubapi import HubAPI
from ...quota.policy import QuotaPolicy, format_size, read_kit_state
from ...spawners import oom
from .. import report
from . import actions, lab_notices, limits, page, rows, settings

log = logging.getLogger("jhub_kit.views.dashboard")
ASSETS = Path(__file__).with_name("templates")
T = TypeVar("T")
#: the signals that stop the service: the hub sends SIGINT, then SIGTERM
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: how long a stop waits for open requests to finish, in seconds
STOP_GRACE = 1.0


async def _on_daemon_thread(fn: Callable[[], T]) -> T:
    """``fn()`` on a daemon thread of its own: a stop never waits for a request to
    the hub in flight (an executor's threads are joined at exit, for up to the
    request's timeout)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def finish(result: T) -> None:
        if not done.done():
            done.set_result(result)

    def fail(error: Exception) -> None:
        if not done.done():
            done.set_exception(error)

    def run() -> None:
        try:
            result = fn()
        except Exception as e:
            _call_soon(loop, fail, e)
        else:
            _call_soon(loop, finish, result)

    threading.Thread(target=run, name="dashboard-hub-api", daemon=True).start()
    return await done


def _call_soon(loop: asyncio.AbstractEventLoop, fn: Callable[[Any], None], arg: Any) -> None:
    with contextlib.suppress(RuntimeError):  # the loop has closed: the service stopped
        loop.call_soon_threadsafe(fn, arg)


class Collector:
    """Keeps the latest rows: users every ``interval`` s, quotas when the hub's
    settings change (:mod:`.settings`: the policy the hub resolves quotas with)."""

    def __init__(self, api: HubAPI, settings_path: str, interval: float = 10):
        self.api, self.settings_path, self.interval = api, settings_path, interval
        self.rows: list[dict[str, Any]] = []
        #: the hub's users as last read (by name), their running servers' state too
        self.users: dict[str, dict[str, Any]] = {}
        self.generated: str | None = None
        self.error: str | None = None
        self._policy: QuotaPolicy | None = None
        self._settings_mtime: float | None = None
        self._cpu: dict[str, tuple[float, float]] = {}  # container id -> (wall, cpu) s
        self.history = rows.History()
        self.roster: dict[str, list[str]] = {}  # from the hub's settings
        self.class_chart: list[list[float]] = []
        self.class_span = 0.0  # the seconds the chart spans (the samples kept)

    def policy(self) -> QuotaPolicy | None:
        """The hub's quota policy, re-read when the hub rewrites its settings."""
        try:
            mtime = os.stat(self.settings_path).st_mtime if self.settings_path else None
        except OSError:
            mtime = None
        if mtime != self._settings_mtime:
            self._settings_mtime = mtime
            found = settings.read(self.settings_path) if mtime is not None else None
            self._policy = settings.policy_of(found) if found else None
            self.roster = settings.roster_in(found)
        return self._policy

    def quota_rows(self, users: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Each user's quota, as the hub resolves it (none without the hub's settings)."""
        policy = self.policy()
        if policy is None:
            return {}
        out = {}
        known = {u["name"] for u in users}
        everyone = [
            *users,
            *({"name": n, "groups": g} for n, g in self.roster.items() if n not in known),
        ]
        for u in everyone:
            q = policy.resolve(u["name"], u.get("groups") or [])
            out[u["name"]] = {
                **report.quota_columns(q),
                "disk_limit": format_size(q.disk_limit) if q.disk_limit else "-",
            }
        return out

    async def refresh(self) -> None:
        users = await _on_daemon_thread(self.api.users)
        self.users = {u["name"]: u for u in users}
        quota = await asyncio.to_thread(self.quota_rows, users)
        live = await asyncio.to_thread(self._read_containers, users)
        now = time.time()
        status = [rows.server_status(u, n) for u in users for n in rows.server_names(u)]
        running = sum(s == "running" for s in status)
        queued = sum(s.startswith("queued") for s in status)
        self.history.add(now, live, running, queued)
        self.rows = rows.class_rows(users, quota, live, self.roster, self.history, now)
        self.class_chart = self.history.class_chart(now)
        self.class_span = self.history.chart_span(now, least=6 * self.interval)
        self.generated = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.error = None

    def _read_containers(self, users: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Memory and CPU of every server (named ones too), by :func:`rows.row_key`."""
        live, seen = {}, set()
        for u in users:
            for server_name, server in (u.get("servers") or {}).items():
                key = rows.row_key(u["name"], server_name)
                state = (server or {}).get("state") or {}
                kit_live = read_kit_state(state).get("live")
                if kit_live:  # read by the hub from the node's engine (a swarm)
                    live[key] = {
                        "memory_used": kit_live.get("memory_used"),
                        "cpu_percent": kit_live.get("cpu_percent"),
                    }
                    continue
                cid = state.get("object_id") or state.get("container_id")
                if not cid:
                    continue
                seen.add(cid)
                sample = oom.read_cpu_seconds(cid)
                cpu = None
                if sample is not None:
                    now = (time.monotonic(), sample)
                    cpu = rows.cpu_percent(self._cpu.get(cid), now)
                    self._cpu[cid] = now
                live[key] = {"memory_used": oom.read_memory_used(cid), "cpu_percent": cpu}
        for cid in set(self._cpu) - seen:
            del self._cpu[cid]
        return live

    async def run(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception as e:  # the hub restarting: keep the last rows, say so
                self.error = f"could not refresh: {e}"
                log.warning("Dashboard refresh failed: %s", e)
            await asyncio.sleep(self.interval)


class Base(HubOAuthenticated, web.RequestHandler):
    @property
    def collector(self) -> Collector:
        c: Collector = self.settings["collector"]
        return c

    def set_default_headers(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")


class PageHandler(Base):
    @web.authenticated
    def get(self) -> None:
        user = self.get_current_user()
        # fetch() with the login cookie needs JupyterHub's XSRF token in a header
        token = self.xsrf_token
        xsrf = token.decode() if isinstance(token, bytes) else str(token)
        the_page: page.Page = self.settings["page"]
        html, policy = the_page.render(user, self.hub_auth.hub_prefix, xsrf)
        self.set_header("Content-Security-Policy", policy)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(html)


class DataHandler(Base):
    @web.authenticated
    def get(self, fmt: str) -> None:
        c = self.collector
        if fmt == "csv":
            self.set_header("Content-Type", "text/csv; charset=utf-8")
            self.set_header("Content-Disposition", 'attachment; filename="class.csv"')
            self.finish(rows.to_csv(c.rows))
            return
        body = {
            **actions.what_caller_may(
                self.get_current_user(),
                c.rows,
                self.settings["audit_log"],
                self.settings["ceiling"],
            ),
            "generated": c.generated,
            "error": c.error,
            "interval": c.interval,
            "columns": rows.COLUMNS,
            "rows": c.rows,
            "class_chart": c.class_chart,
            "class_span": c.class_span,
            "column_hide": rows.HIDE_BELOW,
        }
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))


class AssetHandler(Base):
    """The page's script and style as files: the Content-Security-Policy allows
    nothing inline."""

    TYPES = {"js": "text/javascript", "css": "text/css"}

    @web.authenticated
    def get(self, ext: str) -> None:
        self.set_header("Content-Type", f"{self.TYPES[ext]}; charset=utf-8")
        self.finish((ASSETS / f"dashboard.{ext}").read_text())


def make_app(
    collector: Collector,
    prefix: str,
    the_page: page.Page | None = None,
    *,
    ceiling: dict[str, Any] | None = None,
    audit_log: str = "",
) -> web.Application:
    """The service's routes; ``ceiling`` and ``audit_log`` (default: from the
    environment the hub gives, :mod:`.limits`) serve the teachers' actions."""
    auth = HubOAuth(api_token=os.environ["JUPYTERHUB_API_TOKEN"], cache_max_age=60)
    audit_log = audit_log or os.environ.get(limits.AUDIT_ENV, "")
    return web.Application(
        [
            *actions.routes(prefix),
            *lab_notices.routes(prefix, audit_log),
            (prefix, PageHandler),
            (url_path_join(prefix, r"data\.(json|csv)"), DataHandler),
            (url_path_join(prefix, r"dashboard\.(js|css)"), AssetHandler),
            (url_path_join(prefix, "oauth_callback"), HubOAuthCallbackHandler),
        ],
        hub_auth=auth,
        cookie_secret=secrets.token_bytes(32),
        collector=collector,
        page=the_page or page.load(),
        ceiling=limits.ceiling_from_env() if ceiling is None else ceiling,
        audit_log=audit_log,
    )


def drop_privileges(user: str) -> None:
    """Become ``user`` (from root) before serving: what the hub hands over is read,
    every module this service uses is imported (a Python under a private home
    could not be read any more), then the uid, gid and groups are the user's."""
    import pwd

    entry = pwd.getpwnam(user)
    for name in PRELOAD:
        importlib.import_module(name)
    os.setgroups([])
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)
    log.info("Running as %s (uid %d)", user, entry.pw_uid)


#: what the service imports only when a request needs it (see :func:`drop_privileges`)
PRELOAD = (
    "csv",
    "html",
    "http.cookies",
    "email.utils",
    "encodings.idna",
    "hmac",
    "uuid",
    "tornado.simple_httpclient",
    "tornado.tcpclient",
    "tornado.netutil",
    "tornado.locale",
    "tornado.template",
    "jupyterhub.services.auth",
    "urllib3.contrib",
    "requests.adapters",
    # the teachers' actions: the policy files' formats and codec, the user's name
    "encodings.utf_8_sig",
    "tomlkit",
    "yaml",
    "pwd",
)


def main(argv: list[str] | None = None) -> None:
    # the hub stops its services with SIGINT, then SIGTERM: SIGINT is handled even
    # when inherited as ignored (a hub started with `jupyterhub &`); :func:`serve`
    # handles both once its loop runs
    signal.signal(signal.SIGINT, signal.default_int_handler)
    ap = argparse.ArgumentParser(prog="python -m jhub_kit.views.dashboard", description=__doc__)
    ap.add_argument(
        "--settings",
        default=os.environ.get(settings.ENV, ""),
        help=f"the file the hub writes for this service (quotas); default ${settings.ENV}",
    )
    ap.add_argument(
        "--user",
        default=os.environ.get(settings.USER_ENV, ""),
        help="when started as root, become this user before serving "
        "(default $JHUB_KIT_DASHBOARD_USER)",
    )
    ap.add_argument("--interval", type=float, default=10, help="refresh every N s")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s %(name)s] %(message)s")

    api_url = os.environ["JUPYTERHUB_API_URL"]  # http://HOST:PORT/hub/api
    api = HubAPI(api_url.rsplit("/hub/api", 1)[0], os.environ["JUPYTERHUB_API_TOKEN"])
    if not args.settings:
        log.warning("No settings from the hub (%s): quotas of running servers only", settings.ENV)
    collector = Collector(api, args.settings, args.interval)
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/class-dashboard/")
    url = urlparse(os.environ["JUPYTERHUB_SERVICE_URL"])
    the_page = page.load()  # the hub's templates and static files: read before the drop
    if args.user and os.geteuid() == 0:
        drop_privileges(args.user)

    with contextlib.suppress(KeyboardInterrupt):  # a SIGINT before the loop ran
        address = url.hostname or "127.0.0.1"
        asyncio.run(serve(collector, prefix, url.port or 80, address, the_page))
    log.info("Class dashboard stopped")


async def serve(
    collector: Collector, prefix: str, port: int, address: str, the_page: page.Page | None = None
) -> None:
    """Serve until SIGINT or SIGTERM, then stop listening, stop collecting and close
    the open connections (waiting :data:`STOP_GRACE` s at most)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def stopping(sig: signal.Signals) -> None:
        log.info("Received %s, stopping", sig.name)
        stop.set()

    for sig in STOP_SIGNALS:  # as JupyterHub's own init_signal does
        loop.add_signal_handler(sig, stopping, sig)
    server = HTTPServer(make_app(collector, prefix, the_page), xheaders=True)
    server.listen(port, address)
    log.info("Class dashboard at http://%s:%d, serving %s", address, port, prefix)
    collecting = asyncio.create_task(collector.run())
    stopped = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait([collecting, stopped], return_when=asyncio.FIRST_COMPLETED)
    finally:
        server.stop()
        for task in (collecting, stopped):
            task.cancel()
        await asyncio.wait([collecting, stopped])
        try:
            await asyncio.wait_for(server.close_all_connections(), STOP_GRACE)
        except AnyTimeoutError:
            log.warning("Closed with requests still open after %.1f s", STOP_GRACE)
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)
    error = None if collecting.cancelled() else collecting.exception()
    if error is not None:
        raise error
