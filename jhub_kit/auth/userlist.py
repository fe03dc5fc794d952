"""The userlist file: who may log in, who is admin, which groups they are in.

The format of jupyterhub-deploy-docker and the seeds works unchanged::

    # comments and blank lines are fine
    jtyberg admin
    friend1
    alice  admin  group:teachers
    bob    group:class-a,class-b

One user per line; after the name, ``admin`` (or ``user``, the default) and any
number of ``group:NAME[,NAME...]``. CRLF line ends, a UTF-8 BOM and tabs are
accepted. Anything else on a line is an error that names ``file:line``: a
broken file is never guessed at, and never makes anyone admin.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

log = logging.getLogger(__name__)

ROLES = ("admin", "user")
MAX_ERRORS = 20


class UserlistError(ValueError):
    """The userlist cannot be used; the message lists ``file:line: problem`` lines."""


class Entry(NamedTuple):
    admin: bool = False
    groups: frozenset[str] = frozenset()
    line: int = 0


@dataclass
class Userlist:
    users: dict[str, Entry] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def admins(self) -> set[str]:
        return {name for name, e in self.users.items() if e.admin}

    @property
    def groups(self) -> dict[str, set[str]]:
        """Group name to its members."""
        out: dict[str, set[str]] = {}
        for name, e in self.users.items():
            for g in e.groups:
                out.setdefault(g, set()).add(name)
        return out


def _default_validate(name: str) -> bool:
    # what JupyterHub's Authenticator.validate_username rejects by default
    return bool(name) and "/" not in name and name.strip() == name


def parse_userlist(
    text: str,
    *,
    source: str = "userlist",
    normalize: Callable[[str], str] = str.lower,
    validate: Callable[[str], bool] = _default_validate,
) -> Userlist:
    """Parse userlist text. Raises :class:`UserlistError` listing every bad line."""
    if text.startswith("\ufeff"):
        text = text[1:]
    result = Userlist()
    users = result.users
    errors: list[str] = []
    no_groups: frozenset[str] = frozenset()
    group_sets: dict[frozenset[str], frozenset[str]] = {}  # share equal sets
    for lineno, raw in enumerate(text.splitlines(), start=1):
        if "#" in raw:
            raw = raw.split("#", 1)[0]
        tokens = raw.split()
        if not tokens:
            continue
        given = tokens[0]
        name = normalize(given)
        if not validate(name):
            errors.append(f"{source}:{lineno}: {given!r} is not a valid username")
            continue
        admin = False
        groups = no_groups
        if len(tokens) > 1:
            problem, admin, groups = _parse_attributes(given, tokens[1:])
            if problem:
                errors.append(f"{source}:{lineno}: {problem}")
                if len(errors) >= MAX_ERRORS:
                    errors.append(f"{source}: stopped after {MAX_ERRORS} errors")
                    break
                continue
            groups = group_sets.setdefault(groups, groups)
        previous = users.get(name)
        if previous is not None:
            result.warnings.append(
                f"{source}:{lineno}: {given!r} is {name!r} again "
                f"(first on line {previous.line}); merged"
            )
            users[name] = Entry(previous.admin or admin, previous.groups | groups, previous.line)
        else:
            users[name] = Entry(admin, groups, lineno)
    if errors:
        raise UserlistError("\n".join(errors))
    if not users:
        result.warnings.append(f"{source}: lists no users, so nobody can log in through it")
    return result


def _parse_attributes(given: str, words: list[str]) -> tuple[str, bool, frozenset[str]]:
    """Role and groups after a name: (problem or "", admin, groups)."""
    roles: list[str] = []
    groups: set[str] = set()
    for tok in words:
        low = tok.lower()
        if low in ROLES:
            roles.append(low)
        elif low.startswith(("group:", "groups:")):
            names = tok.split(":", 1)[1].split(",")
            if not all(names):
                return f"empty group name in {tok!r}", False, frozenset()
            bad = [g for g in names if "/" in g]
            if bad:
                return f"group name {bad[0]!r} cannot contain '/'", False, frozenset()
            groups.update(names)
        else:
            return (
                f"unknown word {tok!r} after {given!r}; expected 'admin', 'user' or group:NAME",
                False,
                frozenset(),
            )
    if len(roles) > 1:
        return f"more than one role for {given!r}: {' '.join(roles)}", False, frozenset()
    return "", "admin" in roles, frozenset(groups)


class UserlistFile:
    """A userlist file, parsed again only when its stat signature changes.

    :meth:`current` never raises: a missing, unreadable or broken file gives
    ``None`` (fail closed: nobody gets in through the file) and logs why,
    once per version of the file.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        normalize: Callable[[str], str] = str.lower,
        validate: Callable[[str], bool] = _default_validate,
        logger: logging.Logger | logging.LoggerAdapter[logging.Logger] | None = None,
    ):
        self.path = Path(path)
        self.normalize = normalize
        self.validate = validate
        self.log = logger or log
        self._sig: tuple[int, int, int] | None = None
        self._result: Userlist | None = None
        self._error: str | None = None

    def _signature(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def load(self) -> Userlist:
        """Read and parse the file now. Raises :class:`UserlistError`."""
        try:
            data = self.path.read_bytes()
        except OSError as e:
            raise UserlistError(f"{self.path}: cannot read the userlist: {e.strerror}") from None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise UserlistError(
                f"{self.path}: not UTF-8 (byte 0x{data[e.start]:02x} at offset {e.start})"
            ) from None
        return parse_userlist(
            text, source=str(self.path), normalize=self.normalize, validate=self.validate
        )

    def current(self) -> Userlist | None:
        sig = self._signature()
        if sig is not None and sig == self._sig:
            return self._result
        if sig is None and self._sig is None and self._error is not None:
            return None  # still missing: already reported
        self._sig = sig
        try:
            result = self.load()
        except UserlistError as e:
            self._result, self._error = None, str(e)
            self.log.error("Userlist unusable, nobody gets in through it until fixed:\n%s", e)
            return None
        for w in result.warnings:
            self.log.warning("%s", w)
        self._result, self._error = result, None
        self.log.info("Loaded userlist %s: %d users", self.path, len(result.users))
        return result
