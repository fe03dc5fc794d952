"""Pure tests of username -> safe name mapping, with a property test."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jhub_kit.names import MAX_LENGTH, is_safe, safe_name

DOCKER_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")


@pytest.mark.parametrize(
    "username, expected",
    [
        ("alice", "alice"),
        ("bob-2", "bob-2"),
        ("a", "a"),
        ("Alice", "alice--3bc51062973c458d"),
        ("al.ice@x", "al-ice-x--"),
        ("..", "x--"),
        ("-rf", "rf--"),
        ("$(id)", "id--"),
        ("a--b", "a-b--"),
        ("snapshot", "snapshot"),
        ("山田", "x--"),
        ("x" * 64, "x" * 45 + "--"),
    ],
)
def test_table(username, expected):
    name = safe_name(username)
    assert name.startswith(expected) if expected.endswith("--") else name == expected
    assert len(name) <= MAX_LENGTH


def test_safe_names_are_kept_and_hashed_ones_carry_double_dash():
    assert is_safe("alice") and not is_safe("a--b") and not is_safe("-a") and not is_safe("A")


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=80), min_size=2, max_size=2, unique=True))
def test_no_collisions_and_always_valid(pair):
    a, b = (safe_name(u) for u in pair)
    assert a != b
    for n in (a, b):
        assert DOCKER_NAME.fullmatch(n), n
        assert n not in (".", "..") and "/" not in n and "\0" not in n
        assert not n.startswith("-") and len(n) <= MAX_LENGTH


@pytest.mark.parametrize("username", ["0\n", "alice\n", "a\r", "a\x00"])
def test_control_characters_are_never_safe(username):
    assert safe_name(username) != username
