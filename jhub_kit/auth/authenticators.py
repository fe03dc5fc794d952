"""Userlist-driven access for any Authenticator: a mixin and ready-made classes.

The userlist file is the source of truth, re-read when it changes:

- a listed user may log in; a user whose line is removed is logged out at the
  next auth refresh (``auth_refresh_age``, 30 s by default here) and refused;
- ``admin`` on the line makes the user admin at login and refresh; removing it
  demotes them (JupyterHub's ``admin_users`` never demotes);
- ``group:NAME`` entries become JupyterHub groups (``manage_groups`` is on by
  default; groups the file never mentions are left alone on refresh);
- a missing or broken file fails closed: nobody gets in through it, nobody
  becomes admin, and the reason is logged. Sessions already open stay open
  until the file is good again and says otherwise.

Other allow config (``allowed_users``, OAuth ``allowed_organizations``...)
still adds to it: the mixin calls ``super()`` for users the file does not list.
"""

from __future__ import annotations

import inspect
from hmac import compare_digest
from typing import Any

from jupyterhub.auth import Authenticator, DummyAuthenticator, PAMAuthenticator
from jupyterhub.authenticators.shared import SharedPasswordAuthenticator
from traitlets import Unicode, default

from ..provision.systemuser import existing_accounts
from .userlist import Userlist, UserlistFile


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


class UserlistMixin(Authenticator):
    """Mix into an Authenticator class, *before* it.

    Example: ``class A(UserlistMixin, GitHubOAuthenticator): pass``. Configure any
    of the classes with ``c.UserlistMixin.userlist_file = "/srv/jupyterhub/userlist"``.
    """

    userlist_file = Unicode(
        "",
        help="""Path of the userlist file: one user per line, optionally ``admin``
        and ``group:NAME`` entries. Example: ``"/srv/jupyterhub/userlist"``.

        Re-read when it changes; no hub restart needed.

        .. versionadded:: 0.1
        """,
    ).tag(config=True, allow_config=True)

    @default("allow_all")
    def _userlist_allow_all(self) -> bool:
        # the file is the allow config (DummyAuthenticator would otherwise allow all)
        return False

    @default("auth_refresh_age")
    def _userlist_refresh_age(self) -> int:
        # how soon a removed line or a demotion takes effect; a refresh costs one stat()
        return 30

    @default("auth_refresh_strict")
    def _userlist_refresh_strict(self) -> bool:
        # a removed user's API tokens stop working too
        return True

    @default("manage_groups")
    def _userlist_manage_groups(self) -> bool:
        return True

    _userlist_obj: UserlistFile | None = None
    _userlist_seen: Userlist | None = None
    # every group the file has named since the hub started: removing a group
    # from the file removes its members from it, without touching other groups
    _file_managed_groups: frozenset[str] | set[str] = frozenset()

    def userlist(self) -> Userlist | None:
        """The current userlist, or None when there is none or it is unusable."""
        path = self.userlist_file
        if not path:
            return None
        obj = self._userlist_obj
        if obj is None or str(obj.path) != path:
            obj = self._userlist_obj = UserlistFile(
                path,
                normalize=self.normalize_username,
                validate=self.validate_username,
                logger=self.log,
            )
        ul = obj.current()
        if ul is not None and ul is not self._userlist_seen:
            self._userlist_seen = ul
            self._file_managed_groups = self._file_managed_groups | set(ul.groups)
            found = existing_accounts(list(ul.users))
            if found:  # the names are fine here; a Unix account for them is not
                self.log.warning(
                    "The userlist names system accounts of this machine: %s. The system-user "
                    "home provisioner refuses them",
                    ", ".join(f"{n} (uid {u})" for n, u in sorted(found.items())),
                )
        return ul

    async def check_allowed(self, username: str, authentication: Any = None) -> bool:
        ul = self.userlist()
        if ul is not None and username in ul.users:
            return True
        return bool(await _maybe_await(super().check_allowed(username, authentication)))

    async def is_admin(self, handler: Any, authentication: dict[str, Any]) -> bool | None:
        base = await _maybe_await(super().is_admin(handler, authentication))
        ul = self.userlist()
        entry = ul.users.get(authentication["name"]) if ul is not None else None
        if entry is None:
            return base
        return bool(entry.admin or base)

    def _file_groups(self, username: str, current: list[str] | set[str] | None) -> list[str]:
        ul = self.userlist()
        entry = ul.users.get(username) if ul is not None else None
        keep = set(current or ()) - self._file_managed_groups
        return sorted(keep | (entry.groups if entry else frozenset()))

    async def run_post_auth_hook(self, handler: Any, auth_model: dict[str, Any]) -> dict[str, Any]:
        auth_model = await super().run_post_auth_hook(handler, auth_model)
        if self.manage_groups and self.userlist() is not None:
            auth_model["groups"] = self._file_groups(auth_model["name"], auth_model.get("groups"))
        elif self.manage_groups and "groups" not in auth_model:
            auth_model["groups"] = None  # unknown: leave membership as it is
        return auth_model

    async def refresh_user(self, user: Any, handler: Any = None) -> Any:
        result = await _maybe_await(super().refresh_user(user, handler))
        if not result:
            return result
        ul = self.userlist()
        if ul is None:
            return result  # unusable file: never revoke on a typo
        entry = ul.users.get(user.name)
        if entry is None:
            if await _maybe_await(super().check_allowed(user.name, None)):
                return result
            self.log.info("%s is no longer in the userlist: login revoked", user.name)
            return False
        model: dict[str, Any] = dict(result) if isinstance(result, dict) else {"name": user.name}
        changed = isinstance(result, dict)
        want_admin = entry.admin or user.name in self.admin_users
        if bool(user.admin) != want_admin:
            model["admin"] = want_admin
            changed = True
        if self.manage_groups:
            # JupyterHub requires "groups" in any model it is given when managing groups
            have = sorted(g.name for g in user.groups)
            model["groups"] = self._file_groups(user.name, model.get("groups", have))
            changed = changed or model["groups"] != have
        return model if changed else result


class UserlistDummyAuthenticator(UserlistMixin, DummyAuthenticator):
    """DummyAuthenticator (demos and tests) limited to the userlist."""


class UserlistPAMAuthenticator(UserlistMixin, PAMAuthenticator):
    """PAMAuthenticator (system accounts) limited to the userlist."""


class UserlistSharedPasswordAuthenticator(UserlistMixin, SharedPasswordAuthenticator):
    """JupyterHub's SharedPasswordAuthenticator (a workshop, a demo: one password
    for everyone; what replaced ``DummyAuthenticator.password`` in JupyterHub 5.3),
    limited to the userlist. The userlist's admins log in with ``admin_password``
    only, never with the shared ``user_password``.

    Example::

        c.JupyterHub.authenticator_class = "userlist-shared-password"
        c.SharedPasswordAuthenticator.user_password = "at least 8 characters"
        c.SharedPasswordAuthenticator.admin_password = "another, for the admins"
    """

    async def authenticate(self, handler: Any, data: dict[str, Any]) -> Any:
        ul = self.userlist()
        name = self.normalize_username(str(data.get("username", "")))
        entry = ul.users.get(name) if ul is not None else None
        if entry is not None and entry.admin:
            password = str(data.get("password", ""))
            if self.admin_password and compare_digest(password, self.admin_password):
                return {"name": name, "admin": True, "groups": []}
            return None
        return await super().authenticate(handler, data)

    def check_allow_config(self) -> None:
        # admins come from the userlist, not admin_users: skip the base class's
        # "admin_password set, but admin_users is not" warning
        if self.admin_users:
            super().check_allow_config()


def with_userlist(cls: type[Authenticator]) -> type[Authenticator]:
    """A subclass of any Authenticator class with the userlist mixin.

    Example: ``c.JupyterHub.authenticator_class = with_userlist(LDAPAuthenticator)``.
    """
    return type(f"Userlist{cls.__name__}", (UserlistMixin, cls), {"__module__": __name__})
