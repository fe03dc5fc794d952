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


class HubAPIError(RuntimeError):
    """A request failed; the message says which and why."""


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
            raise HubAPIError(f"{method} {path}: forbidden; the token lacks a needed scope")
        if r.status_code not in ok:
            try:
                message = r.json().get("message", r.text)
            except ValueError:
                message = r.text
            raise HubAPIError(f"{method} {path}: {r.status_code} {message}".strip())
        return (
            r.json()
            if r.content and r.headers.get("content-type", "").startswith("application/json")
            else None
        )

    def scopes(self) -> set[str]:
        model = self.request("GET", "/user")
        return set(model.get("scopes", []))

    def require(self, *needed: str) -> None:
        """Fail, before any change, unless the token has every ``needed`` scope."""
        try:
            have = self.scopes()
        except HubAPIError as e:
            if "403" in str(e) or "forbidden" in str(e) or "401" in str(e):
                raise HubAPIError("the token is invalid or expired") from None
            raise
        missing = [s for s in needed if s not in have]
        if missing:
            raise HubAPIError(
                f"the token lacks the scope(s) {', '.join(missing)}; use a token of an admin "
                "or of a service with a role granting them"
            )

    def user(self, name: str) -> dict[str, Any] | None:
        try:
            return self.request("GET", f"/users/{quote(name, safe='')}")
        except HubAPIError as e:
            if " 404 " in f" {e} ":
                return None
            raise

    def users(self) -> list[dict[str, Any]]:
        """Every user, page by page (the hub returns at most 200 at a time)."""
        out: list[dict[str, Any]] = []
        while True:
            page = self.request("GET", "/users", params={"offset": len(out), "limit": 200})
            out.extend(page)
            if len(page) < 200:
                return out

    def create_users(self, names: list[str], admin: bool) -> list[str]:
        """Create users (those that exist are skipped); returns the names created."""
        if not names:
            return []
        created = self.request(
            "POST", "/users", ok=(201, 409), json={"usernames": names, "admin": admin}
        )
        return [u["name"] for u in created or []]

    def add_to_group(self, group: str, names: list[str]) -> None:
        g = quote(group, safe="")
        self.request("POST", f"/groups/{g}", ok=(201, 409))
        self.request("POST", f"/groups/{g}/users", ok=(200,), json={"users": names})

    def delete_user(self, name: str) -> None:
        self.request("DELETE", f"/users/{quote(name, safe='')}", ok=(204, 404))
