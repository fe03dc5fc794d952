"""The student's notices as JSON, for the kit's JupyterLab extension in their server.

``GET /hub/jhub-kit/notices?server=NAME`` answers what the student's hub page says
(:class:`~jhub_kit.views.notices.StudentNotices`) for the logged-in user, with the
idle warning of their server ``NAME`` ("" or none: the default server), and once
that server has stopped, why (the page of JupyterLab stays open). The bundle
adds it through JupyterHub's ``extra_handlers`` (:func:`jhub_kit.config.add_lab_notices`),
which JupyterHub 3.1 and later call deprecated in the hub's log at start: a service
would be a process of its own that reads every server's state through the REST
API, for one small page of the hub's own data.

- Who asks is the hub's login cookie, as for a page: a page's GET needs no XSRF
  token, while JupyterHub's API handlers want one on every cookie-authenticated
  request, which a page of the user's server cannot read (the hub's ``_xsrf``
  cookie is the hub's path's). Nobody logged in: 403. No other user can be named:
  the answer is the cookie's user's.
- A poll is not activity: JupyterLab asks every :data:`POLL_SECONDS` while it is
  open, and a user's last activity must stay the user's.
- The same origin only: with ``c.JupyterHub.subdomain_host`` each server has its
  own origin, the hub's cookie is not sent, and the extension does not ask.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from jupyterhub.handlers import BaseHandler

from .notices import server_of

#: the path under the hub's prefix (``/hub/``)
PATH = "jhub-kit/notices"
#: how often an open JupyterLab asks, in seconds
POLL_SECONDS = 60
#: the fields of a notice the extension reads (``at``: only a stop's)
FIELDS = ("kind", "key", "text", "at")


def payload(
    user: str,
    server: str,
    notices: Iterable[Mapping[str, Any]],
    now: datetime,
    poll: int = POLL_SECONDS,
) -> dict[str, Any]:
    """The answer: whose, which server, the notices (``kind``: ``warning`` stays on
    screen until it no longer applies, ``info`` is shown once, ``stopped`` once if
    it is later than the page's first answer), the hub's time, when to ask again."""
    return {
        "user": user,
        "server": server,
        "notices": [{k: str(n[k]) for k in FIELDS if k in n} for n in notices],
        "now": now.astimezone(timezone.utc).isoformat(),
        "poll": poll,
    }


def stop_notice(spawner: Any) -> list[dict[str, str]]:
    """Why the server stopped (the spawner's last event: the idle culler past the
    server's rule, out of memory...), while it is not running; none while it is."""
    if spawner is None or getattr(spawner, "active", False):
        return []
    event = getattr(spawner, "last_event", None) or {}
    if not event.get("text") or not event.get("at"):
        return []
    return [{"kind": "stopped", "key": "stopped", "text": event["text"], "at": event["at"]}]


class NoticesHandler(BaseHandler):
    """``GET`` the logged-in user's notices (see the module)."""

    def initialize(self, notices: Callable[[Any, str], list[dict[str, str]]]) -> None:
        self.notices = notices

    def _record_activity(self, obj: Any, timestamp: Any = None) -> bool:
        # JupyterHub's own hook (its UserUrlHandler does the same for redirects): a
        # poll of an open JupyterLab is not the user's activity
        return False

    async def get(self) -> None:
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")
        user = self.current_user
        if user is None:
            self.set_status(403)
            self.finish(json.dumps({"message": "Not logged in to the hub"}))
            return
        server = self.get_argument("server", "")
        said = [*self.notices(user, server), *stop_notice(server_of(user, server))]
        self.finish(json.dumps(payload(user.name, server, said, datetime.now(timezone.utc))))


def handler(notices: Callable[[Any, str], list[dict[str, str]]]) -> tuple[str, type, dict]:
    """The ``c.JupyterHub.extra_handlers`` entry (JupyterHub adds the hub's prefix)."""
    return (rf"/{PATH}", NoticesHandler, {"notices": notices})
