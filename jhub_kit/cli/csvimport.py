"""Validate a CSV of users before anything is created (pure: bytes in, rows out).

Columns (header row required, any order, case-insensitive):

- ``username``, or ``name`` to derive one from (``Maria Rossi`` -> ``maria.rossi``;
  a second ``Maria Rossi`` -> ``maria.rossi2``, deterministically);
- optional ``email``, ``admin`` (yes/no, true/false, 1/0, blank = no),
  ``groups`` (separated by ``;`` or spaces) and ``quota`` (a quota profile,
  i.e. a group of the quota policy).

Every problem is reported with its line number; any problem means nothing is
imported. A UTF-8 BOM, CRLF and quoted fields are fine.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field

USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
EMAIL = re.compile(r"[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+")
TRUE = {"yes", "y", "true", "1", "admin", "x"}
FALSE = {"no", "n", "false", "0", ""}
COLUMNS = {"username", "name", "email", "admin", "groups", "quota"}


class CsvError(ValueError):
    """The CSV cannot be imported; the message lists ``file:line: problem`` lines."""


@dataclass(frozen=True)
class Row:
    username: str
    line: int
    email: str = ""
    admin: bool = False
    groups: tuple[str, ...] = ()


@dataclass
class Parsed:
    rows: list[Row] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def derive_username(name: str) -> str:
    """``Maria Rossi`` -> ``maria.rossi``; accents dropped, other characters become dots."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", ".", ascii_name.lower()).strip(".")[:64].rstrip(".")


def parse_csv(data: bytes, *, source: str = "users.csv") -> Parsed:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise CsvError(f"{source}:{line}: not UTF-8 (byte 0x{data[e.start]:02x})") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    errors: list[str] = []
    try:
        header = next(reader, None)
    except csv.Error as e:
        raise CsvError(f"{source}:1: {e}") from None
    if not header:
        raise CsvError(f"{source}: empty file; expected a header like username,email,admin,groups")
    columns = [h.strip().lower() for h in header]
    unknown = [c for c in columns if c not in COLUMNS]
    if unknown:
        raise CsvError(
            f"{source}:1: unknown column(s) {', '.join(map(repr, unknown))}; "
            f"expected some of {', '.join(sorted(COLUMNS))}"
        )
    if "username" not in columns and "name" not in columns:
        raise CsvError(f"{source}:1: needs a 'username' or a 'name' column")

    parsed = Parsed()
    seen: dict[str, int] = {}
    derived_count: dict[str, int] = {}
    try:
        for record in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            where = f"{source}:{line}"
            if len(record) != len(columns):
                errors.append(f"{where}: {len(record)} fields, the header has {len(columns)}")
                continue
            cells = {c: v.strip() for c, v in zip(columns, record, strict=True)}
            username = cells.get("username", "").lower()
            if not username:
                base = derive_username(cells.get("name", ""))
                if not base:
                    errors.append(f"{where}: no username, and no name to derive one from")
                    continue
                n = derived_count[base] = derived_count.get(base, 0) + 1
                username = base if n == 1 else f"{base}{n}"
            if not USERNAME.fullmatch(username):
                errors.append(
                    f"{where}: {username!r} is not a valid username "
                    "(lowercase letters, digits, '.', '_', '-'; at most 64)"
                )
                continue
            admin_raw = cells.get("admin", "").lower()
            if admin_raw not in TRUE | FALSE:
                errors.append(f"{where}: admin must be yes or no, not {cells['admin']!r}")
                continue
            email = cells.get("email", "")
            if email and not EMAIL.fullmatch(email):
                errors.append(f"{where}: {email!r} is not an email address")
                continue
            groups = [g for g in re.split(r"[;\s]+", cells.get("groups", "")) if g]
            if cells.get("quota"):
                groups.append(cells["quota"])
            bad = [g for g in groups if "/" in g]
            if bad:
                errors.append(f"{where}: group {bad[0]!r} cannot contain '/'")
                continue
            if username in seen:
                parsed.warnings.append(
                    f"{where}: {username} is listed again (first on line {seen[username]}); skipped"
                )
                continue
            seen[username] = line
            parsed.rows.append(
                Row(username, line, email, admin_raw in TRUE, tuple(dict.fromkeys(groups)))
            )
    except csv.Error as e:
        errors.append(f"{source}:{reader.line_num}: {e}")
    if errors:
        raise CsvError("\n".join(errors))
    return parsed
