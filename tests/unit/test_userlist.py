"""Pure tests of the userlist parser and file cache."""

from __future__ import annotations

import logging
import os
import time

import pytest

from jhub_kit.auth.userlist import Entry, UserlistError, UserlistFile, parse_userlist

SEED_001_004 = "jtyberg admin\n"
SEED_003 = "raikoug admin\nfriend1\nfriend2\n"


@pytest.mark.parametrize(
    "text, users",
    [
        (SEED_001_004, {"jtyberg": Entry(admin=True, line=1)}),
        (
            SEED_003,
            {
                "raikoug": Entry(admin=True, line=1),
                "friend1": Entry(line=2),
                "friend2": Entry(line=3),
            },
        ),
        ("\ufeffalice admin\r\nbob\r\n", {"alice": Entry(True, line=1), "bob": Entry(line=2)}),
        ("alice\tadmin\n\n\n   \nbob", {"alice": Entry(True, line=1), "bob": Entry(line=5)}),
        ("# class of 2026\nalice  # the teacher\n", {"alice": Entry(line=2)}),
        ("Alice ADMIN\n", {"alice": Entry(True, line=1)}),
        ("bob user\n", {"bob": Entry(line=1)}),
        (
            "alice admin group:teachers\nbob groups:class-a,class-b group:x\n",
            {
                "alice": Entry(True, frozenset({"teachers"}), 1),
                "bob": Entry(False, frozenset({"class-a", "class-b", "x"}), 2),
            },
        ),
        ("$(id)\n..\n-rf\n", {"$(id)": Entry(line=1), "..": Entry(line=2), "-rf": Entry(line=3)}),
    ],
    ids=[
        "seed-001-004",
        "seed-003",
        "bom-crlf",
        "tabs-blank",
        "comments",
        "case",
        "user-role",
        "groups",
        "odd-but-valid-names",
    ],
)
def test_parse(text, users):
    assert parse_userlist(text).users == users


def test_duplicates_after_normalization_merge_with_a_warning():
    ul = parse_userlist("alice group:a\nbob\nALICE admin group:b\n")
    assert ul.users["alice"] == Entry(True, frozenset({"a", "b"}), 1)
    assert ul.warnings == ["userlist:3: 'ALICE' is 'alice' again (first on line 1); merged"]


def test_empty_file_warns():
    ul = parse_userlist("# nobody yet\n\n")
    assert ul.users == {}
    assert ul.warnings == ["userlist: lists no users, so nobody can log in through it"]


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "alice admn\n",
            "userlist:1: unknown word 'admn' after 'alice'; expected 'admin', 'user' or group:NAME",
        ),
        (
            "bob\nalice admin yes\n",
            "userlist:2: unknown word 'yes' after 'alice'; expected 'admin', 'user' or group:NAME",
        ),
        ("a/b\n", "userlist:1: 'a/b' is not a valid username"),
        ("alice group:\n", "userlist:1: empty group name in 'group:'"),
        ("alice group:a,,b\n", "userlist:1: empty group name in 'group:a,,b'"),
        ("alice group:a/b\n", "userlist:1: group name 'a/b' cannot contain '/'"),
        ("alice admin user\n", "userlist:1: more than one role for 'alice': admin user"),
        (
            "ok\nx y\nz admin\nw q\n",
            "userlist:2: unknown word 'y' after 'x'; expected 'admin', 'user' or group:NAME\n"
            "userlist:4: unknown word 'q' after 'w'; expected 'admin', 'user' or group:NAME",
        ),
    ],
    ids=[
        "unknown-role",
        "junk",
        "slash-name",
        "empty-group",
        "empty-group-in-list",
        "slash-group",
        "two-roles",
        "all-errors-listed",
    ],
)
def test_errors(text, message):
    with pytest.raises(UserlistError) as e:
        parse_userlist(text)
    assert str(e.value) == message


def test_error_count_is_bounded():
    with pytest.raises(UserlistError) as e:
        parse_userlist("x junk\n" * 100)
    lines = str(e.value).splitlines()
    assert len(lines) == 21 and lines[-1] == "userlist: stopped after 20 errors"


def test_custom_validation():
    with pytest.raises(UserlistError, match="'root' is not a valid username"):
        parse_userlist("root\n", validate=lambda n: n != "root")


def test_file_missing_unreadable_bad_utf8(tmp_path, caplog):
    f = UserlistFile(tmp_path / "userlist")
    with caplog.at_level(logging.ERROR):
        assert f.current() is None  # fail closed
        assert f.current() is None
    assert caplog.text.count("cannot read the userlist: No such file or directory") == 1
    (tmp_path / "userlist").write_bytes(b"alice\n\xffbob\n")
    with pytest.raises(UserlistError, match=r"not UTF-8 \(byte 0xff at offset 6\)"):
        f.load()
    assert f.current() is None


def test_file_reloads_on_change_only(tmp_path, monkeypatch):
    path = tmp_path / "userlist"
    path.write_text("alice admin\n")
    f = UserlistFile(path)
    first = f.current()
    assert first is not None and first.admins == {"alice"}
    import jhub_kit.auth.userlist as mod

    monkeypatch.setattr(mod, "parse_userlist", lambda *a, **k: pytest.fail("re-parsed"))
    assert f.current() is first
    monkeypatch.undo()
    path.write_text("alice\nbob admin\n")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert f.current().admins == {"bob"}
    path.write_text("alice admn\n")  # a broken edit fails closed
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 2 * 10**9))
    assert f.current() is None


def test_hundred_thousand_lines_load(tmp_path):
    """A whole school's file loads; the time is printed, not asserted (shared machines are
    noisy: docs/benchmarks.md quotes the measured medians)."""
    path = tmp_path / "userlist"
    path.write_text("".join(f"student{i:06d} group:class-{i % 40}\n" for i in range(100_000)))
    t0 = time.perf_counter()
    ul = UserlistFile(path).current()
    elapsed = time.perf_counter() - t0
    assert ul is not None and len(ul.users) == 100_000
    print(f"100,000-line userlist loaded in {elapsed:.3f} s")
