"""A teacher's actions on their students, as REST endpoints of the dashboard service.

Every request is checked against the caller's own scopes, as the hub gave them
to the token the request came with (the service's OAuth cookie, or an API
token in the ``Authorization`` header, e.g. from ``jhub-kit class``): a
teacher holds the scopes of :data:`jhub_kit.quota.teaching.TEACHER_SCOPES`
filtered to the groups they teach; an admin holds them unfiltered. Anyone else
gets 403, and so does a teacher asking about a student of another group.

A request with the login cookie must carry JupyterHub's XSRF token (the page's
``X-XSRFToken`` header): JupyterHub's ``HubOAuth`` refuses the cookie without it,
and the request is answered 403. Stop and start go to the hub with the caller's
own token (the hub checks the scopes again); a change of limits is written by
the service to the live policy file (:mod:`.limits`), within the admin's ceiling.

Endpoints, under ``/services/class-dashboard/api/``:

- ``POST users/NAME/stop``, ``POST users/NAME/start``
- ``POST users/NAME/limits``, ``POST groups/NAME/limits`` with a JSON body such
  as ``{"mem_limit": "1G", "cpu_limit": 2, "disk_limit": "5G"}`` (``null``
  removes that override)
- ``POST users/NAME/open``: record that the caller opens NAME's running server to
  help them (needs ``access:servers`` on NAME, which the hub checks again at
  ``/user/NAME/``); answers the server's URL; the student's hub page shows it
- ``POST users/NAME/extend``, ``POST groups/NAME/extend``: lift the idle timeout
  of NAME (or of each member of the group) until the end of today, in the hub's
  local time (:mod:`jhub_kit.quota.extensions`)
- ``GET audit``: the last changes, newest first, those about the students and
  groups the caller acts on (an admin: all)
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from typing import Any
from urllib.parse import quote

from jupyterhub.services.auth import HubOAuthenticated
from tornado import web

from ...hubapi import HubAPI, HubAPIError
from ...quota.extensions import extensions_file_for
from ...quota.policy import QuotaError
from ...quota.teaching import ACTION_SCOPES, may_act_on_group, may_act_on_user, visible_records
from . import idle_time, limits, settings

log = logging.getLogger("jhub_kit.views.dashboard")


class ActionHandler(HubOAuthenticated, web.RequestHandler):
    """Base of the actions: JSON in and out, the caller's scopes checked."""

    def set_default_headers(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Content-Type", "application/json")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        reason = self._reason
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, web.HTTPError) and exc.log_message:
            reason = exc.log_message % exc.args if exc.args else exc.log_message
        self.finish(json.dumps({"status": status_code, "message": reason}))

    @property
    def api(self) -> HubAPI:
        api: HubAPI = self.settings["collector"].api
        return api

    def caller(self) -> dict[str, Any]:
        user = self.current_user
        if not user:
            raise web.HTTPError(403, "log in (and send JupyterHub's X-XSRFToken)")
        return user

    def who(self) -> str:
        user = self.caller()
        return str(user.get("name"))

    async def student(self, name: str, action: str) -> dict[str, Any]:
        """The student's model, once the caller may do ``action`` to them (else 403;
        404 only for a caller who may act on everyone)."""
        scopes = set(self.caller().get("scopes") or [])
        needed = ACTION_SCOPES[action]
        model = await asyncio.to_thread(self.api.user, name)
        groups = list((model or {}).get("groups") or [])
        if not may_act_on_user(scopes, needed, name, groups):
            log.warning("Refused %s on %s to %s (no %s for them)", action, name, self.who(), needed)
            raise web.HTTPError(403, f"you may not {action} for {name}")
        if model is None:
            raise web.HTTPError(404, f"no user {name}")
        return model

    def group(self, name: str, action: str) -> None:
        scopes = set(self.caller().get("scopes") or [])
        needed = ACTION_SCOPES[action]
        if not may_act_on_group(scopes, needed, name):
            log.warning("Refused %s on group %s to %s", action, name, self.who())
            raise web.HTTPError(403, f"you may not {action} for the group {name}")

    def callers_api(self) -> HubAPI:
        """The hub's API with the caller's own token: the hub checks again."""
        token = self.hub_auth.get_token(self)
        if not token:
            raise web.HTTPError(403, "no token")
        return HubAPI(self.api.base.rsplit("/hub/api", 1)[0], token, timeout=30)

    def body(self) -> dict[str, Any]:
        try:
            value = json.loads(self.request.body or b"{}")
        except ValueError:
            raise web.HTTPError(400, "the body is not JSON") from None
        if not isinstance(value, dict):
            raise web.HTTPError(400, "expected a JSON object")
        return value


class ServerAction(ActionHandler):
    """``POST api/users/NAME/(stop|start)``: the default server."""

    @web.authenticated
    async def post(self, name: str, action: str) -> None:
        await self.student(name, action)
        api = self.callers_api()
        path = f"/users/{quote(name, safe='')}/server"
        try:
            if action == "stop":
                await asyncio.to_thread(api.request, "DELETE", path, (202, 204))
            else:
                await asyncio.to_thread(api.request, "POST", path, (201, 202))
        except HubAPIError as e:
            status = e.status if e.status in (400, 403, 404, 409) else 502
            raise web.HTTPError(status, str(e)) from None
        limits.record_action(self.settings["audit_log"], self.who(), action, f"user:{name}")
        log.info("%s: %s %s's server", self.who(), action, name)
        self.finish(json.dumps({"user": name, "action": action, "done": True}))


class LimitsAction(ActionHandler):
    """``POST api/(users|groups)/NAME/limits`` with the limits to set."""

    @web.authenticated
    async def post(self, kind: str, name: str) -> None:
        wanted = self.body()
        if kind == "users":
            await self.student(name, "limits")
        else:
            self.group(name, "limits")
        found = settings.read(self.settings["collector"].settings_path) or {}
        # the teachers' own file where the hub has one, else the admin's policy file
        file = found.get("teacher_policy_file") or found.get("policy_file") or {}
        path = file.get("path") if isinstance(file, dict) else None
        if not path:
            raise web.HTTPError(
                409,
                "the hub has no file for teachers' changes: the admin sets "
                "c.QuotaDockerSpawner.teacher_policy_file (the bundle does when "
                "c.JhubKit.teachers or c.Courses.courses declare teachers) or "
                "quota_policy_file",
            )
        try:
            changes = await asyncio.to_thread(
                limits.write_limits, path, kind, name, wanted, self.settings["ceiling"]
            )
        except QuotaError as e:
            raise web.HTTPError(400, str(e)) from None
        except OSError as e:
            log.error(
                "Cannot write %s as %s: %s; the class dashboard's user must be able to "
                "write the file's directory (c.QuotaDockerSpawner.teacher_policy_file, "
                "c.JhubKit.dashboard_user)",
                path,
                _whoami(),
                e,
            )
            raise web.HTTPError(
                500, f"cannot write the teachers' limits ({e.strerror}); tell the hub's admin"
            ) from None
        limits.record(self.settings["audit_log"], self.who(), changes)
        for ch in changes:
            log.info("%s: %s %s %s -> %s", self.who(), name, ch.key, ch.old, ch.new)
        self.finish(
            json.dumps(
                {
                    "changes": [c.record() for c in changes],
                    "effective": "at the next start of each server",
                }
            )
        )


class AuditHandler(ActionHandler):
    """``GET api/audit``: the record of changes (for those who may open the dashboard)."""

    @web.authenticated
    async def get(self) -> None:
        scopes = self.caller().get("scopes") or []
        records = limits.read_log(self.settings["audit_log"], 500)
        # the students' groups now (the page's rows may be up to a refresh old)
        everyone = await asyncio.to_thread(self.api.users)
        groups = {u["name"]: list(u.get("groups") or []) for u in everyone}
        shown = visible_records(scopes, records, groups)[:50]
        self.finish(json.dumps({"records": shown}))


class OpenAction(ActionHandler):
    """``POST api/users/NAME/open``: the caller opens NAME's server to help them."""

    @web.authenticated
    async def post(self, name: str) -> None:
        model = await self.student(name, "open")
        if name == self.who():
            raise web.HTTPError(400, "that is your own server")
        url = model.get("server")
        if not url:
            raise web.HTTPError(409, f"{name}'s server is not running")
        limits.record_action(self.settings["audit_log"], self.who(), "open", f"user:{name}")
        log.info("%s: opens %s's server", self.who(), name)
        self.finish(json.dumps({"user": name, "action": "open", "url": url, "done": True}))


class ExtendAction(ActionHandler):
    """``POST api/(users|groups)/NAME/extend``: more idle time for today."""

    @web.authenticated
    async def post(self, kind: str, name: str) -> None:
        if not may_extend(self.settings["ceiling"]):
            raise web.HTTPError(
                403,
                "the hub's admin lets teachers change no idle time "
                "(c.JhubKit.teacher_ceiling names no idle_timeout)",
            )
        if kind == "users":
            await self.student(name, "extend")
            users = [name]
        else:
            self.group(name, "extend")
            everyone = await asyncio.to_thread(self.api.users)
            users = sorted(u["name"] for u in everyone if name in (u.get("groups") or []))
            if not users:
                raise web.HTTPError(404, f"the group {name} has no members in the hub")
        path = extensions_file_for(self.settings["audit_log"])
        if not path:
            raise web.HTTPError(
                409, "the hub keeps no teachers' record (c.JhubKit.teacher_audit_log)"
            )
        try:
            until = await asyncio.to_thread(idle_time.extend_for_today, path, users, self.who())
        except OSError as e:
            log.error("Cannot write %s as %s: %s", path, _whoami(), e)
            raise web.HTTPError(
                500, f"cannot write the idle time ({e.strerror}); tell the hub's admin"
            ) from None
        target = f"{'user' if kind == 'users' else 'group'}:{name}"
        limits.record_action(
            self.settings["audit_log"], self.who(), "extend", target, until.isoformat()
        )
        log.info("%s: idle time of %s lifted until %s", self.who(), target, until)
        self.finish(
            json.dumps(
                {"target": target, "action": "extend", "users": users, "until": until.isoformat()}
            )
        )


def groups_of(rows: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Each user's groups, from the dashboard's rows (a comma-separated column)."""
    out: dict[str, list[str]] = {}
    for row in rows:
        out.setdefault(row["user"], [g for g in str(row.get("groups") or "").split(",") if g])
    return out


def may_extend(ceiling: dict[str, Any]) -> bool:
    """Whether teachers may give more idle time for today: the admin's ceiling names
    ``idle_timeout`` (teachers manage idle time); with none, they change no idle time,
    as they change no other limit the ceiling leaves out."""
    return "idle_timeout" in ceiling


def what_caller_may(
    user: dict[str, Any] | None,
    rows: list[dict[str, Any]],
    audit_log: str,
    ceiling: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """For the page: the actions the caller may take on each user of ``rows``, the
    groups whose limits they may change, and the records about those (the
    endpoints check again on each request)."""
    scopes = set((user or {}).get("scopes") or [])
    extend = may_extend(ceiling or {})
    may: dict[str, list[str]] = {}
    groups: set[str] = set()
    for row in rows:
        member_of = [g for g in str(row.get("groups") or "").split(",") if g]
        groups.update(member_of)
        allowed = [
            action
            for action, needed in sorted(ACTION_SCOPES.items())
            if may_act_on_user(scopes, needed, row["user"], member_of)
            and not (action == "open" and row["user"] == (user or {}).get("name"))
            and (action != "extend" or extend)
        ]
        if allowed:
            may[row["user"]] = allowed
    group_limits = sorted(g for g in groups if may_act_on_group(scopes, ACTION_SCOPES["limits"], g))
    records = visible_records(scopes, limits.read_log(audit_log, 200), groups_of(rows))[:20]
    return {"actions": may, "group_limits": group_limits, "audit": records}


def routes(prefix: str) -> list[tuple[str, type[web.RequestHandler]]]:
    from jupyterhub.utils import url_path_join

    name = r"([^/]+)"
    return [
        (url_path_join(prefix, rf"api/users/{name}/(stop|start)"), ServerAction),
        (url_path_join(prefix, rf"api/(users|groups)/{name}/limits"), LimitsAction),
        (url_path_join(prefix, rf"api/users/{name}/open"), OpenAction),
        (url_path_join(prefix, rf"api/(users|groups)/{name}/extend"), ExtendAction),
        (url_path_join(prefix, "api/audit"), AuditHandler),
    ]


def _whoami() -> str:
    """This process's user, for the admin's log line."""
    import pwd

    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return f"uid {os.geteuid()}"
