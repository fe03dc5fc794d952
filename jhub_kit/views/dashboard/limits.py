"""A teacher's change of limits, written to the live policy file, and its record.

The hub's spawner re-reads ``c.QuotaDockerSpawner.quota_policy_file`` at each
start, so a change takes effect at the student's next start. The file is
rewritten whole or not at all (:func:`jhub_kit.files.atomic_write`), and only
after the new text parses as a policy with the hub's own parser; the read, the
change and the write happen under an exclusive lock on ``.<file>.lock`` beside it
(:func:`jhub_kit.files.locked`), so two changes at once (two teachers, a teacher
and ``jhub-kit class limits``) both land. A TOML file
keeps its comments and layout (``tomlkit``); a YAML file is written again by
PyYAML (its comments are lost). Each change is appended to the audit log (JSON
lines: who, when, target, limit, old, new), which the dashboard shows.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ...files import atomic_write, locked
from ...quota.policy import QuotaError
from ...quota.policy_file import _format_for, parse_policy_text
from ...quota.teaching import Change, change_limits

#: the service's environment: the admin's ceiling (JSON) and the audit log's path
CEILING_ENV = "JHUB_KIT_DASHBOARD_CEILING"
AUDIT_ENV = "JHUB_KIT_DASHBOARD_AUDIT_LOG"
#: how much of the audit log's end :func:`read_log` reads, in bytes
TAIL = 512 * 1024


def _load(text: str, fmt: str) -> Any:
    if fmt == "toml":
        import tomlkit

        return tomlkit.parse(text)
    import yaml

    return yaml.safe_load(text) or {}


def _dump(doc: Any, fmt: str) -> str:
    if fmt == "toml":
        import tomlkit

        return tomlkit.dumps(doc)
    import yaml

    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


def _apply(doc: Any, changes: list[Change], fmt: str) -> None:
    """Set each change on the document itself (a tomlkit document keeps its
    comments: only the changed entries are touched)."""
    for ch in changes:
        if ch.section not in doc or doc[ch.section] is None:
            if fmt == "toml":
                import tomlkit

                doc[ch.section] = tomlkit.table(is_super_table=True)
            else:
                doc[ch.section] = {}
        section = doc[ch.section]
        if ch.name not in section:
            if ch.new is None:
                continue
            if fmt == "toml":
                import tomlkit

                section[ch.name] = tomlkit.table()
            else:
                section[ch.name] = {}
        entry = section[ch.name]
        if ch.new is None:
            entry.pop(ch.key, None)
        else:
            entry[ch.key] = ch.new
        if not entry:
            del section[ch.name]


def _normalized(limits: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in limits.items():
        if isinstance(value, str):
            value = value.strip()
            if key == "cpu_limit":
                with contextlib.suppress(ValueError):  # parse_cpu names the problem
                    value = float(value)
        if isinstance(value, float) and value.is_integer() and key == "cpu_limit":
            value = int(value)
        out[key] = value if value != "" else None
    return out


def write_limits(
    path: str,
    section: str,
    name: str,
    limits: Mapping[str, Any],
    ceiling: Mapping[str, Any],
) -> list[Change]:
    """Change ``limits`` of ``name`` (a user or a group, by ``section``) in the
    policy file at ``path``; returns the changes (none written if none). Raises
    :class:`QuotaError` (a bad value, above the ceiling, a broken file) or OSError."""
    target = Path(path)
    with locked(target):  # concurrent writers (threads, processes) lose no change
        fmt = _format_for(target)
        exists = target.exists()  # the teachers' file: made by the first change
        text = target.read_text(encoding="utf-8-sig") if exists else ""
        parse_policy_text(text, path=path, fmt=fmt)  # never build on a broken file
        doc = _load(text, fmt)
        plain = json.loads(json.dumps(doc, default=str)) if fmt == "toml" else doc
        _, changes = change_limits(plain, section, name, _normalized(limits), ceiling)
        if not changes:
            return []
        _apply(doc, changes, fmt)
        new_text = _dump(doc, fmt)
        parse_policy_text(new_text, path=path, fmt=fmt)  # what the hub will read
        mode = target.stat().st_mode & 0o777 if exists else 0o644  # the hub reads it
        atomic_write(target, new_text, mode)
        return changes


def record(audit_log: str, who: str, changes: list[Change], action: str = "limits") -> None:
    """Append one JSON line per change: when (UTC), who, the action, target, old, new."""
    if not audit_log or not changes:
        return
    when = datetime.now(timezone.utc).isoformat(timespec="seconds")
    lines = "".join(
        json.dumps({"when": when, "who": who, "action": action, **ch.record()}) + "\n"
        for ch in changes
    )
    fd = os.open(audit_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    with os.fdopen(fd, "a") as f:  # one write: lines of concurrent writers do not mix
        f.write(lines)


def record_action(
    audit_log: str, who: str, action: str, target: str, until: str | None = None
) -> None:
    """Append one JSON line for an action without old and new values (stop, start,
    open; extend with ``until``)."""
    if not audit_log:
        return
    when = datetime.now(timezone.utc).isoformat(timespec="seconds")
    item = {"when": when, "who": who, "action": action, "target": target}
    if until is not None:
        item["until"] = until
    line = json.dumps(item)
    fd = os.open(audit_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    with os.fdopen(fd, "a") as f:
        f.write(line + "\n")


def read_log(audit_log: str, last: int = 50) -> list[dict[str, Any]]:
    """The last ``last`` records, newest first (lines that do not parse are skipped);
    only the file's last :data:`TAIL` bytes are read (a long-lived log stays cheap)."""
    try:
        with open(audit_log, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - TAIL))
            raw = f.read()
    except OSError:
        return []
    lines = raw.decode("utf-8", "replace").splitlines()
    if size > TAIL:
        lines = lines[1:]  # the first is cut
    out = []
    for line in reversed(lines):
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict):
            out.append(item)
        if len(out) >= last:
            break
    return out


def ceiling_from_env() -> dict[str, Any]:
    """The admin's ceiling handed over by the hub ({}: teachers change nothing)."""
    return ceiling_from_env_of(os.environ)


def ceiling_from_env_of(env: Mapping[str, str]) -> dict[str, Any]:
    """:func:`ceiling_from_env` of the environment ``env`` (the service's, in the hub)."""
    raw = env.get(CEILING_ENV, "")
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        raise QuotaError(f"${CEILING_ENV} is not JSON: {raw[:80]!r}") from None
    if not isinstance(value, dict):
        raise QuotaError(f"${CEILING_ENV}: expected a JSON object, got {raw[:80]!r}")
    return value


def prepare_for(user: str, paths: list[str]) -> list[str]:
    """Run by the hub at its start: the directory of each of ``paths`` (the teachers'
    policy file, the audit log) exists, and the class dashboard, which becomes
    ``user`` when the hub runs as root, may write it. A directory made here is given
    to ``user``; an existing one is never changed: where ``user`` cannot write it,
    or an existing file in it, the returned lines say so and what to do."""
    import pwd

    problems: list[str] = []
    root = os.geteuid() == 0 and bool(user)
    entry = None
    if root:
        try:
            entry = pwd.getpwnam(user)
        except KeyError:
            return [
                f"the class dashboard's user {user!r} does not exist (c.JhubKit.dashboard_user)"
            ]
    for path in dict.fromkeys(p for p in paths if p):
        folder = Path(path).parent
        if not folder.exists():
            folder.mkdir(parents=True, mode=0o755)
            if entry is not None:
                os.chown(folder, entry.pw_uid, entry.pw_gid)
        if entry is None:
            continue
        for what in (folder, Path(path)):
            if what.exists() and not _writable_by(what.stat(), entry):
                problems.append(
                    f"the class dashboard runs as {user} and cannot write {what}: teachers' "
                    f"changes will fail; run `chown {user} {what}`, or set "
                    "c.QuotaDockerSpawner.teacher_policy_file and c.JhubKit.teacher_audit_log "
                    f"to a directory {user} may write"
                )
    return problems


def _writable_by(st: os.stat_result, entry: Any) -> bool:
    """Whether the owner, group or other write bit of ``st`` is ``entry``'s."""
    if st.st_uid == entry.pw_uid:
        return bool(st.st_mode & 0o200)
    if st.st_gid == entry.pw_gid:
        return bool(st.st_mode & 0o020)
    return bool(st.st_mode & 0o002)
