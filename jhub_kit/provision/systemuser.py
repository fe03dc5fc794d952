"""A Unix account and home per user, for spawners that run servers as system users.

Seed 000 runs ``adduser`` from a shell script in a ``pre_spawn_hook``; this
does it with an argument list and a name check, before the first spawn::

    from jhub_kit.provision import pre_spawn_hook
    c.Spawner.pre_spawn_hook = pre_spawn_hook("system-user")

A name comes from whoever signs up. So the provisioner makes accounts, and uses
only the accounts it made: an existing account (``root``, ``daemon``,
``postgres``, a colleague's login) is refused, unless the admin lists it in
:attr:`SystemUserProvisioner.adopt_accounts`; a system account (uid below
``UID_MIN`` of ``/etc/login.defs``) only by its name there, never by ``"*"``.
Removing, resetting or restoring a home touches only a home the kit made for
that account (the record's uid and path must still be the account's), under
``base_dir`` or the login accounts' home root (``HOME`` of
``/etc/default/useradd``, ``/home``).
"""

from __future__ import annotations

import os
import pwd
import re
from pathlib import Path
from typing import Any

from traitlets import Int, List, Unicode, default

from .. import offloop
from ..quota.policy import Quota
from .base import HomeMount, HomeProvisioner, ProvisionError, Undo

# POSIX-portable user names, as useradd's default NAME_REGEX
UNIX_NAME = re.compile(r"[a-z_][a-z0-9_-]{0,31}")


class SystemUserProvisioner(HomeProvisioner):
    """``useradd --create-home`` when the account is missing."""

    backend = "system-user"

    shell = Unicode("/bin/bash", help="Login shell of created accounts.").tag(config=True)

    uid_min = Int(
        help="""The lowest uid of a login account: accounts below it are the system's
        (daemons, ``root``, ``nobody``) and are never a student's. Default:
        ``UID_MIN`` of ``/etc/login.defs``, else 1000. Example: ``2000``.

        .. versionadded:: 0.4
        """,
    ).tag(config=True)

    @default("uid_min")
    def _uid_min_default(self) -> int:
        return login_defs_uid_min()

    uid_max = Int(
        help="""The highest uid of a login account (``nobody``, 65534, is above it).
        Default: ``UID_MAX`` of ``/etc/login.defs``, else 60000. Example: ``60000``.

        .. versionadded:: 0.4
        """,
    ).tag(config=True)

    @default("uid_max")
    def _uid_max_default(self) -> int:
        return login_defs_uid_max()

    def login_account(self, uid: int) -> bool:
        """Whether ``uid`` is in the login accounts' range (not the system's)."""
        return self.uid_min <= uid <= self.uid_max

    adopt_accounts = List(
        Unicode(),
        help="""Existing accounts the provisioner may use as students' accounts,
        though it did not make them (it makes the others). ``"*"``: any existing
        login account (uid at least :attr:`uid_min`), e.g. for PAM users; a system
        account only by its own name. Default: none: an existing account is refused,
        so nobody can sign up as ``root``, ``daemon`` or a colleague.
        Example: ``["alice", "bob"]``.

        .. versionadded:: 0.4
        """,
    ).tag(config=True)

    def may_adopt(self, username: str, uid: int) -> bool:
        """Whether the existing account ``username`` (``uid``) may serve a student."""
        if username in self.adopt_accounts:
            return True
        return "*" in self.adopt_accounts and self.login_account(uid)

    async def _provision(
        self, username: str, record: dict[str, Any], quota: Quota, undo: Undo
    ) -> HomeMount:
        if not UNIX_NAME.fullmatch(username):
            raise ProvisionError(
                f"{username!r} cannot be a Unix account name (lowercase letters, digits, "
                "'_' and '-', at most 32, not starting with a digit or '-')"
            )
        try:
            entry = await offloop.run_io(pwd.getpwnam, username)
        except KeyError:
            entry = None
        if entry is None:
            await self.run(
                "useradd", "--create-home", "--shell", self.shell, "--user-group", "--", username
            )
            undo.push(
                f"userdel {username}",
                lambda: self.run("userdel", "--remove", "--", username),
            )
            entry = await offloop.run_io(pwd.getpwnam, username)
            if not self.login_account(entry.pw_uid):  # useradd's range is not the kit's
                raise ProvisionError(
                    f"useradd gave {username} uid {entry.pw_uid}, outside the login range "
                    f"{self.uid_min}-{self.uid_max}"
                )
            record.update(made=True, uid=entry.pw_uid)
        elif record.get("made"):
            self._check_ours(username, record, entry)
        elif not self.may_adopt(username, entry.pw_uid):
            kind = "an existing account" if self.login_account(entry.pw_uid) else "a system account"
            raise ProvisionError(
                f"{username!r} is {kind} (uid {entry.pw_uid}) that the kit did not make: "
                "refusing to give it to a student. If this person should use it, add it to "
                f"c.SystemUserProvisioner.adopt_accounts",
            )
        record.update(home=entry.pw_dir, user=username)
        return HomeMount(entry.pw_dir)

    def _check_ours(self, username: str, record: dict[str, Any], entry: Any) -> None:
        """The account the kit made is still that account (same uid, same home)."""
        if entry.pw_uid != record.get("uid") or entry.pw_dir != record.get("home", entry.pw_dir):
            raise ProvisionError(
                f"account {username!r} is not the one the kit made (uid {record.get('uid')}, "
                f"home {record.get('home')}; now uid {entry.pw_uid}, home {entry.pw_dir}): "
                "refusing to touch it"
            )

    def owner_of(self, username: str, record: dict[str, Any] | None) -> tuple[int, int]:
        """The account's own uid and group."""
        entry = pwd.getpwnam((record or {}).get("user", username))
        return (entry.pw_uid, entry.pw_gid)

    def may_touch(self, username: str, record: dict[str, Any]) -> str | None:
        """Why the kit must not remove, reset or restore this home (None: it may)."""
        if not record.get("made"):
            return f"{username}'s account was not made by the kit"
        try:
            entry = pwd.getpwnam(record.get("user", username))
        except KeyError:
            entry = None
        if entry is not None:
            try:
                self._check_ours(username, record, entry)
            except ProvisionError as e:
                return str(e)
        home = os.path.realpath(record.get("home", ""))
        roots = [os.path.realpath(self.base_dir), os.path.realpath(useradd_home_root())]
        if not any(home.startswith(r.rstrip("/") + "/") for r in roots):
            return f"{username}'s home {home} is outside {' and '.join(roots)}"
        if not self.login_account(int(record.get("uid", -1))):
            return f"{username}'s account has uid {record.get('uid')}, not a login account's"
        return None

    async def _home_path(self, record: dict[str, Any]) -> Path:
        return Path(record["home"])

    async def _missing(self, record: dict[str, Any]) -> str | None:
        if record.get("user"):
            try:
                await offloop.run_io(pwd.getpwnam, record["user"])
            except KeyError:
                return f"its account {record['user']!r} is missing"
        if not await offloop.run_io(os.path.isdir, record["home"]):
            return f"its home directory {record['home']} is missing"
        return None


def login_defs(key: str, fallback: int, path: str = "/etc/login.defs") -> int:
    """A number of ``login.defs`` (``fallback`` where it does not say)."""
    try:
        for line in Path(path).read_text().splitlines():
            fields = line.split()
            if len(fields) >= 2 and fields[0] == key and fields[1].isdigit():
                return int(fields[1])
    except OSError:
        pass
    return fallback


def login_defs_uid_min() -> int:
    """``UID_MIN`` of ``login.defs``: the lowest uid of a login account (1000)."""
    return login_defs("UID_MIN", 1000)


def login_defs_uid_max() -> int:
    """``UID_MAX`` of ``login.defs``: the highest uid of a login account (60000);
    above it are ``nobody`` (65534) and other accounts of the system's."""
    return login_defs("UID_MAX", 60000)


def useradd_home_root(path: str = "/etc/default/useradd") -> str:
    """Where ``useradd`` makes homes (``HOME`` of its defaults, ``/home`` by default)."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith("HOME="):
                return line.split("=", 1)[1].strip() or "/home"
    except OSError:
        pass
    return "/home"


def existing_accounts(names: list[str]) -> dict[str, int]:
    """Of ``names``, those that are system accounts of this machine (outside the
    login range of ``login.defs``: daemons, ``root``, ``nobody``), with their uids."""
    low, high = login_defs_uid_min(), login_defs_uid_max()
    found = {}
    for name in names:
        try:
            uid = pwd.getpwnam(name).pw_uid
        except (KeyError, ValueError):
            continue
        if not low <= uid <= high:
            found[name] = uid
    return found
