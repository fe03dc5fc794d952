"""Pure tests of CSV validation (exact messages; nothing is created on any error)."""

# ruff: noqa: RUF001 - Turkish dotless i and full-width Latin letters, on purpose

from __future__ import annotations

import re
from pathlib import Path

import pytest

from jhub_kit.cli.csvimport import (
    CsvError,
    Row,
    derive_username,
    detect_delimiter,
    hub_form,
    is_valid_username,
    parse_csv,
)

UNICODE_RULE = (
    "letters of any script, digits, '.', '_', '-', starting with a letter or digit; at most 64"
)
DOCKER_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")


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
    assert [r.username for r in rows(data)] == ["maria.rossi", "josé.núñez", "maria.rossi2"]
    ascii_rows = parse_csv(data, source="s.csv", ascii_names=True).rows
    assert [r.username for r in ascii_rows] == ["maria.rossi", "jose.nunez", "maria.rossi2"]
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
            "s.csv:1: unknown column(s) 'user' (did you mean 'username'?), "
            "'mail' (did you mean 'email'?); "
            "expected some of admin, email, groups, name, quota, username "
            "(the header was read with ',' as the separator)",
        ),
        (
            b"email\nx@y.z\n",
            "s.csv:1: needs a 'username' or a 'name' column "
            "(the header was read with ',' as the separator)",
        ),
        (b"username,admin\nalice,maybe\n", "s.csv:2: admin must be yes or no, not 'maybe'"),
        (
            b"username,email\nalice,not-an-email\n",
            "s.csv:2: 'not-an-email' is not an email address",
        ),
        (
            b"username\n../etc\n",
            f"s.csv:2: '../etc' is not a valid username ({UNICODE_RULE})",
        ),
        (b"username,groups\nalice,a/b\n", "s.csv:2: group 'a/b' cannot contain '/'"),
        (b"username,email\nalice\n", "s.csv:2: 1 fields, the header has 2"),
        (b"name\n!!!\n", "s.csv:2: no username, and no name to derive one from"),
        (b'username\n"alice\n', "s.csv:2: unexpected end of data"),
        (
            b"username,admin\nok,no\nx y,no\nz,maybe\n",
            f"s.csv:3: 'x y' is not a valid username ({UNICODE_RULE})\n"
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


# Names of the kit's users, in both modes: (name, as JupyterHub stores it, --ascii-names)
NAMES = [
    ("山田太郎", "山田太郎", "shantiantailang"),
    ("山田 太郎", "山田.太郎", "shantian.tailang"),
    ("山田\u3000太郎", "山田.太郎", "shantian.tailang"),  # an ideographic space
    ("ﾔﾏﾀﾞ ﾀﾛｳ", "ヤマダ.タロウ", "yamada.tarou"),  # half-width katakana: NFKC
    ("김민수", "김민수", "gimminsu"),
    ("王小明", "王小明", "wangxiaoming"),
    ("Łukasz Żółć", "łukasz.żółć", "lukasz.zolc"),
    ("İsmail Çağlar", "ismail.çağlar", "ismail.caglar"),  # not "i̇smail"
    ("IŞIK Ilgın", "işik.ilgın", "isik.ilgin"),
    ("Ｍａｒｉａ　Ｒｏｓｓｉ", "maria.rossi", "maria.rossi"),  # full-width Latin
    ("Anne-Marie d/Arc", "anne.marie.d.arc", "anne.marie.d.arc"),  # never a "/"
]
NAME_IDS = ["ja", "ja-space", "ja-ideographic-space", "ja-halfwidth", "ko", "zh", "pl", "tr",
            "tr-dotless", "fullwidth", "slash"]  # fmt: skip


@pytest.mark.parametrize("name, unicode_name, ascii_name", NAMES, ids=NAME_IDS)
def test_names_of_any_language(name, unicode_name, ascii_name):
    assert derive_username(name) == unicode_name
    assert derive_username(name, ascii_only=True) == ascii_name
    data = f"name,groups\n{name},class-a\n".encode()
    assert rows(data) == [Row(unicode_name, 2, groups=("class-a",))]
    assert parse_csv(data, ascii_names=True).rows == [Row(ascii_name, 2, groups=("class-a",))]


@pytest.mark.parametrize("name, unicode_name, ascii_name", NAMES, ids=NAME_IDS)
def test_usernames_are_what_jupyterhub_stores_and_map_to_safe_names(name, unicode_name, ascii_name):
    from jupyterhub.auth import Authenticator

    from jhub_kit.names import MAX_LENGTH, safe_name

    auth = Authenticator()
    for username in (unicode_name, ascii_name):
        # the hub's own normalization keeps it, and the hub accepts it
        assert auth.normalize_username(username) == username
        assert auth.validate_username(username)
        assert hub_form(username) == username and is_valid_username(username)
        # the kit's mapping gives a valid Docker name and a plain directory name
        safe = safe_name(username)
        assert DOCKER_NAME.fullmatch(safe) and len(safe) <= MAX_LENGTH
        home = Path("/srv/homes") / safe
        assert home.parent == Path("/srv/homes") and home.name == safe
        assert safe not in (".", "..") and len(safe.encode()) <= 255
    assert is_valid_username(ascii_name, ascii_only=True)


@pytest.mark.parametrize(
    "given, write",
    [("ｙａｍａｄａ", "yamada"), ("ﾔﾏﾀﾞ", "ヤマダ"), ("ﬁona", "fiona"), ("Ｙａｍａｄａ", "yamada")],
    ids=["fullwidth", "halfwidth-kana", "ligature", "fullwidth-capital"],
)
def test_a_given_username_in_a_compatibility_form_is_refused_with_what_to_write(given, write):
    """JupyterHub stores a login name lowercased, not NFKC: a converted username would
    not be the one its owner types, so the import names the form to write instead."""
    from jupyterhub.auth import Authenticator

    assert Authenticator().normalize_username(given) != write  # what the hub would keep
    with pytest.raises(CsvError) as e:
        parse_csv(f"username\n{given}\n".encode(), source="s.csv")
    assert str(e.value).startswith(f"s.csv:2: username {given!r} has full-width, half-width")
    assert f"write {write!r}" in str(e.value)
    assert rows(f"username\n{write}\n".encode()) == [Row(write, 2)]


def test_all_of_a_class_get_distinct_safe_names():
    from jhub_kit.names import safe_name

    usernames = [r.username for r in rows(("name\n" + "\n".join(n for n, _, _ in NAMES)).encode())]
    # 山田 太郎 and 山田　太郎 are one name: the second is numbered, not merged
    assert usernames[2] == "山田.太郎2"
    assert len({safe_name(u) for u in usernames}) == len(NAMES)


@pytest.mark.parametrize(
    "text, delimiter",
    [
        ("name;email;groups\nŁukasz Żółć;l@x.pl;a b\n", ";"),
        ("name\temail\tgroups\nŁukasz Żółć\tl@x.pl\ta b\n", "\t"),
        ("name|email|groups\nŁukasz Żółć|l@x.pl|a b\n", "|"),
        ('name,email,groups\nŁukasz Żółć,l@x.pl,"a;b"\n', ","),
        ("name;email;groups\r\nŁukasz Żółć;l@x.pl;a b\r\n", ";"),  # Excel, CRLF
    ],
    ids=["semicolon", "tab", "pipe", "comma-with-quoted-semicolons", "semicolon-crlf"],
)
def test_separators_are_detected(text, delimiter):
    assert detect_delimiter(text) == delimiter
    parsed = parse_csv(("\ufeff" + text).encode(), source="s.csv")
    assert parsed.delimiter == delimiter
    assert parsed.rows == [Row("łukasz.żółć", 2, "l@x.pl", False, ("a", "b"))]


def test_one_column_and_short_rows_fall_back_on_the_header():
    assert detect_delimiter("username\nalice\n") == ","
    with pytest.raises(CsvError) as e:
        parse_csv(b"username;email\nalice\n", source="s.csv")
    assert str(e.value) == "s.csv:2: 1 fields, the header has 2"


def test_explicit_delimiter_and_a_header_that_does_not_parse():
    data = b"name;email\nJan Kowalski;jan@x.pl\n"
    assert [r.username for r in parse_csv(data, delimiter=";").rows] == ["jan.kowalski"]
    with pytest.raises(CsvError) as e:
        parse_csv(data, source="s.csv", delimiter=",")
    assert str(e.value) == (
        "s.csv:1: unknown column(s) 'name;email'; expected some of admin, email, groups, "
        "name, quota, username (the header was read with ',' as the separator; if the file "
        "uses ';', pass --delimiter)"
    )
    with pytest.raises(CsvError) as e:
        parse_csv("Imię i nazwisko;E-mail\nJan;j@x.pl\n".encode(), source="s.csv")
    assert str(e.value) == (
        "s.csv:1: unknown column(s) 'imię i nazwisko', 'e-mail' (did you mean 'email'?); "
        "expected some of admin, email, groups, name, quota, username "
        "(the header was read with ';' as the separator)"
    )
    with pytest.raises(ValueError, match="delimiter must be one of"):
        parse_csv(data, delimiter=":")


def test_a_group_column_gets_a_hint():
    with pytest.raises(CsvError) as e:
        parse_csv(b"username,group\nalice,class-a\n", source="s.csv")
    assert str(e.value) == (
        "s.csv:1: unknown column(s) 'group' (did you mean 'groups'?); expected some of admin, "
        "email, groups, name, quota, username (the header was read with ',' as the separator)"
    )


@pytest.mark.parametrize(
    "text, ascii_names, message",
    [
        (
            "name\nŁukasz Żółć\nLukasz Zolc\n",
            True,
            "s.csv:3: line 2 (name 'Łukasz Żółć') and line 3 (name 'Lukasz Zolc') would both "
            "be the user lukasz.zolc; give one of them another username (in a 'username' column)",
        ),
        (
            "username,name\n,山田 太郎\n山田.太郎,\n",
            False,
            "s.csv:3: line 2 (name '山田 太郎') and line 3 (username '山田.太郎') would both "
            "be the user 山田.太郎; give one of them another username (in a 'username' column)",
        ),
        (
            "username,name\nmaria.rossi2,\n,Maria Rossi\n,Maria Rossi\n",
            False,
            "s.csv:4: line 2 (username 'maria.rossi2') and line 4 (name 'Maria Rossi') would "
            "both be the user maria.rossi2; give one of them another username "
            "(in a 'username' column)",
        ),
        (
            "name\nÇağlar Işık\nCaglar Isik\n",
            True,
            "s.csv:3: line 2 (name 'Çağlar Işık') and line 3 (name 'Caglar Isik') would both be "
            "the user caglar.isik; give one of them another username (in a 'username' column)",
        ),
    ],
    ids=["ascii-transliteration", "username-vs-name", "numbered-vs-username", "turkish"],
)
def test_two_people_with_one_username_are_refused(text, ascii_names, message):
    with pytest.raises(CsvError) as e:
        parse_csv(text.encode(), source="s.csv", ascii_names=ascii_names)
    assert str(e.value) == message


def test_usernames_given_are_put_in_the_hubs_form():
    data = "username\nYamada\nİpek\n김민수\n".encode()
    assert [r.username for r in rows(data)] == ["yamada", "ipek", "김민수"]
    with pytest.raises(CsvError) as e:
        parse_csv("username\n김민수\n".encode(), source="s.csv", ascii_names=True)
    assert str(e.value) == (
        "s.csv:2: '김민수' is not a valid username "
        "(lowercase letters, digits, '.', '_', '-'; at most 64)"
    )


def test_the_cli_reads_the_options(tmp_path):
    from click.testing import CliRunner

    from jhub_kit.cli import main

    p = tmp_path / "class.csv"
    p.write_text("name;email\nŁukasz Żółć;l@x.pl\nLukasz Zolc;z@x.pl\n")
    r = CliRunner().invoke(main, ["users", "import", str(p), "--delimiter", ","])
    assert r.exit_code == 1
    assert "'name;email'" in r.output and "read with ',' as the separator" in r.output
    r = CliRunner().invoke(main, ["users", "import", str(p), "--ascii-names"])
    assert r.exit_code == 1
    assert r.output == (
        f"{p}:3: line 2 (name 'Łukasz Żółć') and line 3 (name 'Lukasz Zolc') would both be the "
        "user lukasz.zolc; give one of them another username (in a 'username' column)\n"
    )
    p.write_text("name\tgroup\nJan\tx\n")
    r = CliRunner().invoke(main, ["users", "import", str(p), "--delimiter", "tab"])
    assert r.exit_code == 1 and "'group' (did you mean 'groups'?)" in r.output
    assert "read with tab as the separator" in r.output
