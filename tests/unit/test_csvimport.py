"""Pure tests of CSV validation (exact messages; nothing is created on any error)."""

from __future__ import annotations

import pytest

from jhub_kit.cli.csvimport import CsvError, Row, derive_username, parse_csv


def rows(data: bytes):
    return parse_csv(data, source="s.csv").rows


def test_full_example_with_bom_crlf_and_quotes():
    data = (
        "\ufeffusername,email,admin,groups,quota\r\n"
        'alice,alice@school.org,yes,"teachers;staff",big\r\n'
        'Bob,,no,"class-a class-b",\r\n'
        "\r\n"
    ).encode()
    assert rows(data) == [
        Row("alice", 2, "alice@school.org", True, ("teachers", "staff", "big")),
        Row("bob", 3, "", False, ("class-a", "class-b")),
    ]


def test_usernames_derived_deterministically_from_names():
    data = "name,email\nMaria Rossi,m@x.it\nJosé Núñez,\nMaria Rossi,m2@x.it\n".encode()
    assert [r.username for r in rows(data)] == ["maria.rossi", "jose.nunez", "maria.rossi2"]
    assert derive_username("  O'Brien-Smith ") == "o.brien.smith"


def test_duplicates_are_skipped_with_a_warning():
    parsed = parse_csv(b"username\nalice\nALICE\n", source="s.csv")
    assert [r.username for r in parsed.rows] == ["alice"]
    assert parsed.warnings == ["s.csv:3: alice is listed again (first on line 2); skipped"]


@pytest.mark.parametrize(
    "data, message",
    [
        (b"username\nalice\n\xffbob\n", "s.csv:3: not UTF-8 (byte 0xff)"),
        (b"", "s.csv: empty file; expected a header like username,email,admin,groups"),
        (
            b"user,mail\nx,y\n",
            "s.csv:1: unknown column(s) 'user', 'mail'; "
            "expected some of admin, email, groups, name, quota, username",
        ),
        (b"email\nx@y.z\n", "s.csv:1: needs a 'username' or a 'name' column"),
        (b"username,admin\nalice,maybe\n", "s.csv:2: admin must be yes or no, not 'maybe'"),
        (
            b"username,email\nalice,not-an-email\n",
            "s.csv:2: 'not-an-email' is not an email address",
        ),
        (
            b"username\n../etc\n",
            "s.csv:2: '../etc' is not a valid username "
            "(lowercase letters, digits, '.', '_', '-'; at most 64)",
        ),
        (b"username,groups\nalice,a/b\n", "s.csv:2: group 'a/b' cannot contain '/'"),
        (b"username,email\nalice\n", "s.csv:2: 1 fields, the header has 2"),
        (b"name\n!!!\n", "s.csv:2: no username, and no name to derive one from"),
        (b'username\n"alice\n', "s.csv:2: unexpected end of data"),
        (
            b"username,admin\nok,no\nx y,no\nz,maybe\n",
            "s.csv:3: 'x y' is not a valid username "
            "(lowercase letters, digits, '.', '_', '-'; at most 64)\n"
            "s.csv:4: admin must be yes or no, not 'maybe'",
        ),
    ],
    ids=[
        "bad-utf8",
        "empty",
        "unknown-columns",
        "no-name-column",
        "bad-admin",
        "bad-email",
        "hostile-name",
        "slash-group",
        "short-row",
        "underivable",
        "unterminated-quote",
        "all-errors",
    ],
)
def test_errors(data, message):
    with pytest.raises(CsvError) as e:
        parse_csv(data, source="s.csv")
    assert str(e.value) == message
