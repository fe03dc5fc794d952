"""Read a quota policy file (TOML or YAML), re-reading it when it changes.

File format (TOML shown; YAML has the same three sections)::

    [defaults]
    mem_limit = "1G"
    pids_limit = 256

    [groups.teachers]
    mem_limit = "4G"
    cpu_limit = 2

    [users.alice]
    disk_limit = "20G"

The file is stat()ed on each use and parsed again only when its size, mtime
or inode changed, so an admin can edit it while the hub runs. A broken edit
keeps the last good policy in force and logs the error; a file that is broken
on its first read raises, so the hub refuses to start with it.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

from .policy import QuotaError, QuotaPolicy
from .profiles import parse_profiles

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

log = logging.getLogger(__name__)

_SECTIONS = ("defaults", "groups", "users", "profiles")


def parse_policy_text(text: str, *, path: str, fmt: str) -> QuotaPolicy:
    """Parse policy text; ``fmt`` is ``"toml"`` or ``"yaml"``. Errors name ``path``."""
    try:
        if fmt == "toml":
            data: Any = tomllib.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text) or {}
    except Exception as e:  # the parsers' own errors carry line numbers
        raise QuotaError(f"{path}: not valid {fmt.upper()}: {e}") from None
    if not isinstance(data, dict):
        raise QuotaError(f"{path}: expected sections {', '.join(_SECTIONS)} at the top level")
    unknown = set(data) - set(_SECTIONS)
    if unknown:
        raise QuotaError(
            f"{path}: unknown section(s) {', '.join(sorted(map(str, unknown)))}; "
            f"valid sections are {', '.join(_SECTIONS)}"
        )
    for section in ("groups", "users"):
        if not isinstance(data.get(section) or {}, dict):
            raise QuotaError(f"{path}: [{section}] must map names to resources")
    policy = QuotaPolicy.from_config(
        data.get("defaults"), data.get("groups"), data.get("users"), where=path
    )
    if "profiles" in data:  # TOML: [[profiles]] tables; YAML: a list under profiles
        policy.profiles = parse_profiles(data["profiles"], where=f"{path} profiles")
    return policy


def _format_for(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".toml":
        return "toml"
    if suffix in (".yaml", ".yml"):
        return "yaml"
    raise QuotaError(f"{path}: policy files must end in .toml, .yaml or .yml")


class PolicyFile:
    """A policy file with a cache keyed on its stat signature."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.fmt = _format_for(self.path)
        self._sig: tuple[int, int, int] | None = None
        self._policy: QuotaPolicy | None = None

    def _signature(self) -> tuple[int, int, int]:
        st = self.path.stat()
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def cached(self) -> QuotaPolicy | None:
        """The policy, if the file is unchanged since it was parsed (one stat, no read)."""
        try:
            return self._policy if self._signature() == self._sig else None
        except OSError:
            return None

    def load(self) -> QuotaPolicy:
        """The current policy. Raises :class:`QuotaError` only when no good version is known."""
        try:
            sig = self._signature()
            if sig == self._sig and self._policy is not None:
                return self._policy
            text = self.path.read_text(encoding="utf-8-sig")
            policy = parse_policy_text(text, path=str(self.path), fmt=self.fmt)
        except (OSError, UnicodeDecodeError, QuotaError) as e:
            if self._policy is None:
                if isinstance(e, QuotaError):
                    raise
                raise QuotaError(f"quota policy file {self.path}: {e}") from None
            log.error("Keeping the previous quota policy; %s is broken: %s", self.path, e)
            return self._policy
        if self._policy is not None:
            log.info("Reloaded quota policy from %s", self.path)
        self._sig, self._policy = sig, policy
        return policy
