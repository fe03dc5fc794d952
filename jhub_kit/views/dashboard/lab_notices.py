"""The student's notices for the kit's JupyterLab extension in their server (issue 39).

``GET /services/class-dashboard/api/notices?server=NAME`` with ``Authorization:
token T`` answers what the student's hub page says
(:class:`~jhub_kit.views.notices.StudentNotices`): the idle warning of their server
``NAME`` ("": the default one), more idle time, a teacher's opening, and once that
server has stopped, why (the page of JupyterLab stays open).

- **Whose**: T is the token JupyterLab's page holds (``PageConfig.token``, which
  jupyterhub-singleuser sets to the user's OAuth token for the server). The hub
  says whose it is (``GET /hub/api/user`` with it, remembered :data:`TOKEN_TTL`
  seconds: the hub counts each asking as the user's activity, never as the
  server's); the answer is that user's own, and no other user can be named. No
  token, or one the hub does not know: 403.
- **Why here**: JupyterHub adds HTTP endpoints through services (its
  ``extra_handlers`` is deprecated since 3.1), and this service already reads the
  servers' state (``admin:server_state``), the teachers' audit log and extensions,
  in the hub's time zone. A running server is answered from the users it read
  last (every 10 s, :class:`~jhub_kit.views.dashboard.app.Collector`); a server
  just started or stopped from one ``GET /users/NAME`` (its stopped servers too).
- **Off** unless the hub hands the settings over (:data:`NOTICES_ENV`, set by
  :func:`jhub_kit.config.configure` with ``c.JhubKit.lab_notices``): then 404.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from jupyterhub.utils import url_path_join
from tornado import web

from ...quota.policy import read_kit_state
from ..notices import StudentNotices, idle_inputs_of

#: the hub's settings for the notices (JSON: ``warning``, ``culler_timeout``,
#: ``check_every``, in seconds, as :class:`StudentNotices` takes them)
NOTICES_ENV = "JHUB_KIT_LAB_NOTICES"
#: the path under the service's prefix
PATH = "api/notices"
#: how often an open JupyterLab asks, in seconds
POLL_SECONDS = 60
#: the fields of a notice the extension reads (``at``: only a stop's)
FIELDS = ("kind", "key", "text", "at")
#: how long the hub's word on whose a token is holds here, in seconds: each asking
#: counts as the user's activity in the hub (a write to its database), and an open
#: JupyterLab asks every minute
TOKEN_TTL = 600


class TokenOwners:
    """Whose each token is, as the hub said in the last :data:`TOKEN_TTL` seconds (by
    the token's digest; at most ``most`` remembered)."""

    def __init__(self, ttl: float = TOKEN_TTL, most: int = 10_000):
        self.ttl, self.most = ttl, most
        self._known: dict[str, tuple[str, float]] = {}

    async def name(self, auth: Any, token: str, now: float | None = None) -> str | None:
        """The user's name for ``token`` (``auth``: a HubAuth), None for no user's."""
        now = time.monotonic() if now is None else now
        digest = hashlib.sha256(token.encode()).hexdigest()
        known = self._known.get(digest)
        if known is not None and known[1] > now:
            return known[0]
        who = await auth.user_for_token(token, sync=False)
        if not who or who.get("kind", "user") != "user":
            self._known.pop(digest, None)
            return None
        if len(self._known) >= self.most:
            self._known = {k: v for k, v in self._known.items() if v[1] > now}
            if len(self._known) >= self.most:
                self._known.clear()
        self._known[digest] = (str(who["name"]), now + self.ttl)
        return str(who["name"])


def payload(
    user: str,
    server: str,
    notices: Iterable[Mapping[str, Any]],
    now: datetime,
    poll: int = POLL_SECONDS,
) -> dict[str, Any]:
    """The answer: whose, which server, the notices (``kind``: ``warning`` stays on
    screen until it no longer applies, ``info`` is shown once, ``stopped`` once if
    it is later than the page's first answer; a notice's ``short`` text where it has
    one: JupyterLab shows 140 characters of a notification), the hub's time, when
    to ask again."""
    said = [{**n, "text": n.get("short") or n.get("text", "")} for n in notices]
    return {
        "user": user,
        "server": server,
        "notices": [{k: str(n[k]) for k in FIELDS if k in n} for n in said],
        "now": now.astimezone(timezone.utc).isoformat(),
        "poll": poll,
    }


def stop_notice(server: Mapping[str, Any] | None) -> list[dict[str, str]]:
    """Why the server stopped (its spawner's last event, kept in its state: the idle
    culler past the server's rule, out of memory...), while it is stopped; none
    while it runs or starts."""
    if not server or server.get("ready") or server.get("pending"):
        return []
    event = read_kit_state(server.get("state")).get("last_event")
    if not isinstance(event, Mapping) or not event.get("text") or not event.get("at"):
        return []
    return [
        {"kind": "stopped", "key": "stopped", "text": str(event["text"]), "at": str(event["at"])}
    ]


def answer(
    notices: StudentNotices, user: Mapping[str, Any], server_name: str, now: datetime
) -> dict[str, Any]:
    """The answer for ``user`` (the hub's REST model, its stopped servers included)
    about their server ``server_name``."""
    server = (user.get("servers") or {}).get(server_name)
    said = [*notices.of(user["name"], idle_inputs_of(server)), *stop_notice(server)]
    return payload(user["name"], server_name, said, now)


def settings_from_env(env: Mapping[str, str]) -> dict[str, int] | None:
    """:data:`NOTICES_ENV`'s settings, None when unset (the notices are off)."""
    text = env.get(NOTICES_ENV, "")
    if not text:
        return None
    found = json.loads(text)
    return {k: int(found.get(k, 0)) for k in ("warning", "culler_timeout", "check_every")}


class NoticesHandler(web.RequestHandler):
    """``GET`` the notices of the token's user (see the module)."""

    def initialize(self, notices: StudentNotices | None, owners: TokenOwners) -> None:
        self.notices, self.owners = notices, owners

    def set_default_headers(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Content-Type", "application/json; charset=UTF-8")

    def _refuse(self, status: int, message: str) -> None:
        self.set_status(status)
        self.finish(json.dumps({"message": message}))

    async def get(self) -> None:
        if self.notices is None:
            return self._refuse(404, "The hub gives no notices for JupyterLab")
        auth = self.settings["hub_auth"]
        token = auth.get_token(self, in_cookie=False)
        name = await self.owners.name(auth, token) if token else None
        if name is None:
            return self._refuse(403, "No user's token")
        server = self.get_argument("server", "")
        collector = self.settings["collector"]
        user = collector.users.get(name)
        if not running(user, server):  # just started, or stopped: ask the hub now
            from .app import _on_daemon_thread  # (app imports this module)

            user = await _on_daemon_thread(lambda: collector.api.user(name, True))
            if user is None:  # removed since the hub said whose the token is
                return self._refuse(403, "No user's token")
        self.finish(json.dumps(answer(self.notices, user, server, datetime.now(timezone.utc))))


def running(user: Mapping[str, Any] | None, server_name: str) -> bool:
    """Whether ``user``'s model has their server ``server_name`` ready."""
    server = ((user or {}).get("servers") or {}).get(server_name)
    return bool(server and server.get("ready"))


def routes(prefix: str, audit_log: str) -> list[tuple[str, type, dict[str, Any]]]:
    """The notices' route under the service's ``prefix``, with the hub's settings
    (:data:`NOTICES_ENV`) and the teachers' ``audit_log`` (and its extensions)."""
    from ...quota.extensions import extensions_file_for

    found = settings_from_env(os.environ)
    notices = None
    if found is not None:
        notices = StudentNotices(audit_log, extensions_file_for(audit_log), **found)
    handler = {"notices": notices, "owners": TokenOwners()}
    return [(url_path_join(prefix, PATH), NoticesHandler, handler)]
