"""A small client for the JupyterHub REST API, for the admin CLI.

The token comes from ``$JUPYTERHUB_API_TOKEN`` or a file, never the command
line (where ``ps`` shows it), and is never printed. :meth:`HubAPI.require`
checks the token's scopes before any change is made.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

#: what asks the hub for a paginated list (JupyterHub 2.0 and later)
PAGINATED = {"Accept": "application/jupyterhub-pagination+json"}


class HubAPIError(RuntimeError):
    """A request failed; the message says which and why. ``status`` is the HTTP
    status code, or None when the hub could not be reached or no request was made."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def read_token(token_file: str | None) -> str:
    if token_file:
        try:
            token = Path(token_file).read_text().strip()
        except OSError as e:
            raise HubAPIError(f"cannot read the token file {token_file}: {e.strerror}") from None
    else:
        token = os.environ.get("JUPYTERHUB_API_TOKEN", "").strip()
    if not token:
        raise HubAPIError(
            "no API token: set JUPYTERHUB_API_TOKEN or pass --token-file "
            "(create one in the hub's Token page, or as a service's api_token)"
        )
    return token


def _message(r: requests.Response) -> str:
    try:
        body = r.json()
    except ValueError:
        return r.text[:500]
    return str(body.get("message", r.text[:500])) if isinstance(body, dict) else r.text[:500]


class HubAPI:
    def __init__(self, url: str, token: str, timeout: float = 60):
        self.base = url.rstrip("/") + "/hub/api"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {token}"
        self.timeout = timeout

    def request(self, method: str, path: str, ok: tuple[int, ...] = (200,), **kw: Any) -> Any:
        url = self.base + path
        try:
            r = self.session.request(method, url, timeout=self.timeout, **kw)
        except requests.RequestException as e:
            raise HubAPIError(f"cannot reach the hub at {self.base}: {e}") from None
        if r.status_code == 403 and r.status_code not in ok:
            raise HubAPIError(f"{method} {path}: forbidden; the token lacks a needed scope", 403)
        if r.status_code not in ok:
            raise HubAPIError(
                f"{method} {path}: {r.status_code} {_message(r)}".strip(), r.status_code
            )
        if not r.content or not r.headers.get("content-type", "").startswith("application/json"):
            return None
        try:
            return r.json()
        except ValueError:
            raise HubAPIError(
                f"{method} {path}: the hub answered with invalid JSON", r.status_code
            ) from None

    def scopes(self) -> set[str]:
        model = self.request("GET", "/user")
        return set(model.get("scopes", []))

    def require(self, *needed: str) -> None:
        """Fail, before any change, unless the token has every ``needed`` scope."""
        try:
            have = self.scopes()
        except HubAPIError as e:
            if e.status in (401, 403):
                raise HubAPIError("the token is invalid or expired", e.status) from None
            raise
        missing = [s for s in needed if s not in have]
        if missing:
            raise HubAPIError(
                f"the token lacks the scope(s) {', '.join(missing)}; use a token of an admin "
                "or of a service with a role granting them"
            )

    def user(self, name: str, include_stopped_servers: bool = False) -> dict[str, Any] | None:
        """User ``name``'s model (None: no such user); ``include_stopped_servers``:
        their stopped servers too (JupyterHub's query parameter)."""
        params = {"include_stopped_servers": 1} if include_stopped_servers else {}
        try:
            return self.request("GET", f"/users/{quote(name, safe='')}", params=params)
        except HubAPIError as e:
            if e.status == 404:
                return None
            raise

    def users(self) -> list[dict[str, Any]]:
        """Every user, following JupyterHub's pagination (as ``jupyterhub_idle_culler``
        does): asked for ``application/jupyterhub-pagination+json``, the hub answers
        ``{"items": [...], "_pagination": {"next": {"offset", "limit", "url"} | null}}``
        and pages at most ``c.JupyterHub.api_page_max_limit`` users at a time. A hub
        before 2.0 answers with the whole list.

        The next page is asked for with ``next``'s offset and limit on this client's
        own URL: ``next.url`` is the hub's idea of its address (behind a proxy, maybe
        not one this host reaches), and the token goes nowhere else."""
        out: list[dict[str, Any]] = []
        params = {"offset": 0, "limit": 200}  # the hub gives at most its max limit
        while True:
            page = self.request("GET", "/users", params=params, headers=PAGINATED)
            if isinstance(page, list):  # no pagination: every user at once
                return out + page
            try:
                items, following = page["items"], page["_pagination"]["next"]
                if not isinstance(items, list):
                    raise TypeError
                if following:
                    offset, limit = int(following["offset"]), int(following["limit"])
            except (TypeError, KeyError, ValueError):
                raise HubAPIError(
                    "GET /users: expected a list of users, or a page of them", 200
                ) from None
            out.extend(items)
            if not following:
                return out
            if offset <= params["offset"] or limit <= 0:
                raise HubAPIError(
                    f"GET /users: the hub's next page ({offset=}, {limit=}) does not move on",
                    200,
                )
            params = {"offset": offset, "limit": limit}

    def create_users(self, names: list[str], admin: bool) -> list[str]:
        """Create users (those that exist are skipped); returns the names created."""
        if not names:
            return []
        try:
            created = self.request(
                "POST", "/users", json={"usernames": names, "admin": admin}, ok=(201,)
            )
        except HubAPIError as e:
            if e.status == 409:  # every one of them exists already
                return []
            raise
        if not isinstance(created, list):
            raise HubAPIError(
                f"POST /users: expected a list of users, got {type(created).__name__}", 201
            )
        return [u["name"] for u in created if isinstance(u, dict) and "name" in u]

    def add_to_group(self, group: str, names: list[str]) -> None:
        g = quote(group, safe="")
        self.request("POST", f"/groups/{g}", ok=(201, 409))
        self.request("POST", f"/groups/{g}/users", ok=(200,), json={"users": names})

    def delete_user(self, name: str) -> None:
        self.request("DELETE", f"/users/{quote(name, safe='')}", ok=(204, 404))
