"""Validate a CSV of users before anything is created (pure: bytes in, rows out).

Columns (header row required, any order, case-insensitive):

- ``username``, or ``name`` to derive one from (``Maria Rossi`` -> ``maria.rossi``,
  ``山田 太郎`` -> ``山田.太郎``; a second ``Maria Rossi`` -> ``maria.rossi2``,
  deterministically);
- optional ``email``, ``admin`` (yes/no, true/false, 1/0, blank = no),
  ``groups`` (separated by ``;`` or spaces) and ``quota`` (a quota profile,
  i.e. a group of the quota policy).

Usernames are kept in any script, in the form JupyterHub stores them (its
``Authenticator.normalize_username`` lowercases the name a user logs in with):
Unicode NFKC, lowercased (a Turkish ``İ`` becomes ``i``, not ``i`` and a
combining dot), and every run of spaces or punctuation (``/`` included) becomes
one ``.``. With ``ascii_names`` a name is transliterated instead
(:func:`anyascii.anyascii`: ``Łukasz Żółć`` -> ``lukasz.zolc``). The kit maps
any username to safe Docker and disk names itself (:mod:`jhub_kit.names`).

Two different rows that would get the same username are refused, naming both;
a username listed twice (the same person) is imported once, with a warning.

The separator is ``,``, ``;``, a tab or ``|``, detected with :class:`csv.Sniffer`
unless given. A ``username`` given in a compatibility form (full-width Latin,
half-width katakana, ligatures) is refused with the form to write instead:
JupyterHub keeps a login name as typed, so a converted one would not be the name
its owner types. Every problem is reported with its line number; any problem means
nothing is imported. A UTF-8 BOM, CRLF and quoted fields are fine.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
import unicodedata
from dataclasses import dataclass, field

from anyascii import anyascii

MAX_LENGTH = 64
USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
EMAIL = re.compile(r"[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+")
TRUE = {"yes", "y", "true", "1", "admin", "x"}
FALSE = {"no", "n", "false", "0", ""}
COLUMNS = {"username", "name", "email", "admin", "groups", "quota"}
#: the separators a file may use, and how messages name them
SEPARATORS = {",": "','", ";": "';'", "\t": "tab", "|": "'|'"}
RULES = {
    True: "lowercase letters, digits, '.', '_', '-'; at most 64",
    False: "letters of any script, digits, '.', '_', '-', starting with a letter or digit; "
    "at most 64",
}


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
    #: the separator the file was read with
    delimiter: str = ","


def hub_form(text: str) -> str:
    """``text`` as JupyterHub stores a username: NFKC, lowercased. ``İ`` (Turkish
    capital dotted I) becomes ``i``: ``str.lower`` would make it ``i`` and U+0307,
    which nobody types when they log in."""
    text = unicodedata.normalize("NFKC", text).replace("\u0130", "I")
    return unicodedata.normalize("NFKC", text.lower())


def _is_word(ch: str) -> bool:
    """A letter, a combining mark or a digit, of any script."""
    return unicodedata.category(ch)[0] in "LMN"


def derive_username(name: str, *, ascii_only: bool = False) -> str:
    """``Maria Rossi`` -> ``maria.rossi``, ``山田 太郎`` -> ``山田.太郎``: the name in
    :func:`hub_form`, runs of anything but letters and digits as one ``.``. With
    ``ascii_only``, transliterated: ``Łukasz Żółć`` -> ``lukasz.zolc``."""
    if ascii_only:
        text = anyascii(unicodedata.normalize("NFKC", name)).lower()
        words = re.split(r"[^a-z0-9]+", text)
    else:
        words = "".join(ch if _is_word(ch) else " " for ch in hub_form(name)).split()
    return ".".join(w for w in words if w)[:MAX_LENGTH].rstrip(".")


def is_valid_username(username: str, *, ascii_only: bool = False) -> bool:
    """Whether ``username`` may be imported: JupyterHub's form of itself, at most 64
    characters, letters, digits, ``.``, ``_`` and ``-`` (ASCII ones with ``ascii_only``),
    starting with a letter or a digit (so never ``/``, never ``.`` or ``..``)."""
    if ascii_only:
        return bool(USERNAME.fullmatch(username))
    return (
        0 < len(username) <= MAX_LENGTH
        and unicodedata.category(username[0])[0] in "LN"
        and all(ch in "._-" or _is_word(ch) for ch in username)
        and hub_form(username) == username
    )


def detect_delimiter(text: str) -> str:
    """The separator of ``text``, one of :data:`SEPARATORS`: :class:`csv.Sniffer`
    over the first lines; where it cannot tell (one column, short rows), the one
    separator the header holds, else ``,``."""
    lines = text.splitlines(keepends=True)
    header = lines[0] if lines else ""
    try:
        return csv.Sniffer().sniff("".join(lines[:50]), delimiters="".join(SEPARATORS)).delimiter
    except csv.Error:
        found = [d for d in SEPARATORS if d in header]
        return found[0] if len(found) == 1 else ","


def _header_error(source: str, columns: list[str], delimiter: str) -> str | None:
    seen = f"the header was read with {SEPARATORS[delimiter]} as the separator"
    unknown = [c for c in columns if c not in COLUMNS]
    if unknown:
        others = [d for d in SEPARATORS if d != delimiter and any(d in c for c in unknown)]
        named = []
        for c in unknown:  # a column holding a separator is several: no guess
            close = [] if others else difflib.get_close_matches(c, sorted(COLUMNS), n=1)
            named.append(f"{c!r} (did you mean {close[0]!r}?)" if close else repr(c))
        hint = f"; if the file uses {SEPARATORS[others[0]]}, pass --delimiter" if others else ""
        return (
            f"{source}:1: unknown column(s) {', '.join(named)}; expected some of "
            f"{', '.join(sorted(COLUMNS))} ({seen}{hint})"
        )
    if "username" not in columns and "name" not in columns:
        return f"{source}:1: needs a 'username' or a 'name' column ({seen})"
    return None


def parse_csv(
    data: bytes,
    *,
    source: str = "users.csv",
    ascii_names: bool = False,
    delimiter: str | None = None,
) -> Parsed:
    """The rows of ``data``, every one checked; :class:`CsvError` lists every problem.

    ``ascii_names``: derive ASCII usernames (transliterated) and accept only ASCII
    ones. ``delimiter``: one of :data:`SEPARATORS`; detected when None.
    """
    if delimiter is not None and delimiter not in SEPARATORS:
        raise ValueError(f"delimiter must be one of {', '.join(map(repr, SEPARATORS))}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise CsvError(f"{source}:{line}: not UTF-8 (byte 0x{data[e.start]:02x})") from None
    delimiter = delimiter or detect_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
    except csv.Error as e:
        raise CsvError(f"{source}:1: {e}") from None
    if not header:
        raise CsvError(f"{source}: empty file; expected a header like username,email,admin,groups")
    columns = [h.strip().lower() for h in header]
    problem = _header_error(source, columns, delimiter)
    if problem:
        raise CsvError(problem)
    rows = _Rows(columns, ascii_names, Parsed(delimiter=delimiter))
    try:
        for record in reader:
            if any(cell.strip() for cell in record):
                rows.take(record, reader.line_num, f"{source}:{reader.line_num}")
    except csv.Error as e:
        rows.errors.append(f"{source}:{reader.line_num}: {e}")
    if rows.errors:
        raise CsvError("\n".join(rows.errors))
    return rows.parsed


@dataclass
class _Rows:
    """The rows read so far, their problems, and who has each username:
    ``username -> (line, what gave it, given in a username column)``, and how many
    rows had each name (a name's second row gets ``2``, ...)."""

    columns: list[str]
    ascii_only: bool
    parsed: Parsed
    errors: list[str] = field(default_factory=list)
    owners: dict[str, tuple[int, str, bool]] = field(default_factory=dict)
    names: dict[str, int] = field(default_factory=dict)

    def take(self, record: list[str], line: int, where: str) -> None:
        """Check one row and add it, or add its problem to :attr:`errors`."""
        problem = self._check(record, line, where)
        if problem:
            self.errors.append(f"{where}: {problem}")

    def _username(self, cells: dict[str, str]) -> tuple[str, str, bool]:
        """The row's username ("" if none), what gave it, and whether it was given."""
        given = cells.get("username", "")
        if given:
            username = given.lower() if self.ascii_only else hub_form(given)
            return username, f"username {given!r}", True
        name = " ".join(cells.get("name", "").split())
        base = derive_username(name, ascii_only=self.ascii_only)
        if not base:
            return "", "", False
        key = hub_form(name)
        n = self.names[key] = self.names.get(key, 0) + 1
        return (base if n == 1 else f"{base}{n}"), f"name {name!r}", False

    def _check(self, record: list[str], line: int, where: str) -> str | None:
        if len(record) != len(self.columns):
            return f"{len(record)} fields, the header has {len(self.columns)}"
        cells = {c: v.strip() for c, v in zip(self.columns, record, strict=True)}
        typed = cells.get("username", "")
        if typed and unicodedata.normalize("NFKC", typed) != typed:
            # JupyterHub keeps a login name as typed, only lowercased: a stored NFKC
            # form would not be the name its owner types, so neither is guessed
            return (
                f"username {typed!r} has full-width, half-width or other compatibility "
                f"characters, which its owner would have to type exactly at login; write "
                f"{hub_form(typed)!r}, or give a 'name' column to derive the username from"
            )
        username, what, given = self._username(cells)
        if not username:
            return "no username, and no name to derive one from"
        if not is_valid_username(username, ascii_only=self.ascii_only):
            return f"{username!r} is not a valid username ({RULES[self.ascii_only]})"
        admin_raw = cells.get("admin", "").lower()
        if admin_raw not in TRUE | FALSE:
            return f"admin must be yes or no, not {cells['admin']!r}"
        email = cells.get("email", "")
        if email and not EMAIL.fullmatch(email):
            return f"{email!r} is not an email address"
        groups = [g for g in re.split(r"[;\s]+", cells.get("groups", "")) if g]
        if cells.get("quota"):
            groups.append(cells["quota"])
        bad = [g for g in groups if "/" in g]
        if bad:
            return f"group {bad[0]!r} cannot contain '/'"
        if username in self.owners:
            first, first_what, first_given = self.owners[username]
            if not (given and first_given):  # two rows, two people: never merged
                return (
                    f"line {first} ({first_what}) and line {line} ({what}) would both be "
                    f"the user {username}; give one of them another username "
                    "(in a 'username' column)"
                )
            # the same username written twice: the same person, imported once
            self.parsed.warnings.append(
                f"{where}: {username} is listed again (first on line {first}); skipped"
            )
            return None
        self.owners[username] = (line, what, given)
        self.parsed.rows.append(
            Row(username, line, email, admin_raw in TRUE, tuple(dict.fromkeys(groups)))
        )
        return None
