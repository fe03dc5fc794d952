"""The dashboard service: a tornado app behind JupyterHub OAuth, and the
collector that refreshes its rows in the background (never per request)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import secrets
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler, HubOAuthenticated
from jupyterhub.utils import url_path_join
from tornado import web
from tornado.httpserver import HTTPServer
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from ... import resolve
from ...hubapi import HubAPI
from ...provision import HomeProvisioner
from ...spawners import oom
from .. import report
from . import rows

log = logging.getLogger("jhub_kit.views.dashboard")
PAGE = Path(__file__).with_name("templates") / "index.html"


def load_config(path: str | None) -> Config | None:
    if not path:
        log.warning("No config file (--config, $JHUB_KIT_CONFIG): quotas from running servers only")
        return None
    p = Path(path).resolve()
    # the config may read the hub's environment (os.environ["..."]): JupyterHub starts
    # services with a clean one, so take what is missing from the hub, our parent
    for key, value in parent_environ().items():
        os.environ.setdefault(key, value)
    try:
        return PyFileConfigLoader(p.name, str(p.parent)).load_config()
    except BaseException as e:  # a config that cannot run here must not stop the hub
        log.error("Cannot load %s (%s): quotas from running servers only", p, e)
        return None


def parent_environ() -> dict[str, str]:
    """The environment of the process that started this one (the hub), where
    readable; the hub's own API settings are left out."""
    try:
        raw = Path(f"/proc/{os.getppid()}/environ").read_bytes()
    except OSError:
        return {}
    env = {}
    for item in raw.split(b"\0"):
        key, sep, value = item.decode(errors="replace").partition("=")
        if sep and not key.startswith("JUPYTERHUB_"):
            env[key] = value
    return env


class Collector:
    """Keeps the latest rows: users every ``interval`` s, homes every ``disk_interval`` s."""

    def __init__(
        self,
        api: HubAPI,
        config: Config | None,
        interval: float = 10,
        disk_interval: float = 60,
    ):
        self.api, self.config = api, config
        self.interval, self.disk_interval = interval, disk_interval
        self.prov: HomeProvisioner | None = resolve.provisioner_for(config) if config else None
        self.rows: list[dict[str, Any]] = []
        self.generated: str | None = None
        self.error: str | None = None
        self._quota: dict[str, dict[str, Any]] = {}
        self._quota_at = 0.0
        self._cpu: dict[str, tuple[float, float]] = {}  # container id -> (wall, cpu) s

    async def refresh(self) -> None:
        users = await asyncio.to_thread(self.api.users)
        now = time.monotonic()
        missing = [u for u in users if u["name"] not in self._quota]
        if now - self._quota_at >= self.disk_interval:
            todo, self._quota_at = users, now
        else:
            todo = missing
        if todo and self.config is not None:
            for r in await report.quota_rows(self.config, todo, self.prov):
                self._quota[r["user"]] = r
        live = await asyncio.to_thread(self._read_containers, users)
        self.rows = rows.class_rows(users, self._quota, live)
        self.generated = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.error = None

    def _read_containers(self, users: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        live, seen = {}, set()
        for u in users:
            server = (u.get("servers") or {}).get("") or {}
            state = server.get("state") or {}
            kit_live = (state.get("jhub_kit") or {}).get("live")
            if kit_live:  # read by the hub from the node's engine (a swarm)
                live[u["name"]] = {
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
            live[u["name"]] = {"memory_used": oom.read_memory_used(cid), "cpu_percent": cpu}
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
        html = (
            PAGE.read_text()
            .replace("{{user}}", _html_escape(user["name"]))
            .replace("{{xsrf}}", _html_escape(xsrf))
        )
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
            "generated": c.generated,
            "error": c.error,
            "interval": c.interval,
            "columns": rows.COLUMNS,
            "rows": c.rows,
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
        self.finish(PAGE.with_name(f"dashboard.{ext}").read_text())


def _html_escape(text: str) -> str:
    from html import escape

    return escape(text, quote=True)


def make_app(collector: Collector, prefix: str) -> web.Application:
    auth = HubOAuth(api_token=os.environ["JUPYTERHUB_API_TOKEN"], cache_max_age=60)
    return web.Application(
        [
            (prefix, PageHandler),
            (url_path_join(prefix, r"data\.(json|csv)"), DataHandler),
            (url_path_join(prefix, r"dashboard\.(js|css)"), AssetHandler),
            (url_path_join(prefix, "oauth_callback"), HubOAuthCallbackHandler),
        ],
        hub_auth=auth,
        cookie_secret=secrets.token_bytes(32),
        collector=collector,
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m jhub_kit.views.dashboard", description=__doc__)
    ap.add_argument(
        "--config",
        default=os.environ.get("JHUB_KIT_CONFIG"),
        help="the hub's jupyterhub_config.py (quotas and homes); default $JHUB_KIT_CONFIG",
    )
    ap.add_argument("--interval", type=float, default=10, help="refresh every N s")
    ap.add_argument("--disk-interval", type=float, default=60, help="measure homes every N s")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s %(name)s] %(message)s")

    api_url = os.environ["JUPYTERHUB_API_URL"]  # http://HOST:PORT/hub/api
    api = HubAPI(api_url.rsplit("/hub/api", 1)[0], os.environ["JUPYTERHUB_API_TOKEN"])
    collector = Collector(api, load_config(args.config), args.interval, args.disk_interval)
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/class-dashboard/")
    url = urlparse(os.environ["JUPYTERHUB_SERVICE_URL"])

    async def serve() -> None:
        app = make_app(collector, prefix)
        HTTPServer(app, xheaders=True).listen(url.port or 80, url.hostname or "127.0.0.1")
        log.info("Class dashboard at %s, serving %s", url.geturl(), prefix)
        await collector.run()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:  # the hub stops its services with SIGINT
        log.info("Class dashboard stopped")
