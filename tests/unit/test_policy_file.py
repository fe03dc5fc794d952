"""Pure tests of the policy file loader (a temp file, no services)."""

from __future__ import annotations

import logging
import os

import pytest

from jhub_kit.quota.policy import QuotaError
from jhub_kit.quota.policy_file import PolicyFile

G = 1024**3

TOML = """
[defaults]
mem_limit = "1G"

[groups.teachers]
mem_limit = "4G"

[users.alice]
cpu_limit = 2
"""

YAML = """
defaults:
  mem_limit: 1G
groups:
  teachers: {mem_limit: 4G}
users:
  alice: {cpu_limit: 2}
"""


@pytest.mark.parametrize("name, text", [("q.toml", TOML), ("q.yaml", YAML), ("q.yml", YAML)])
def test_load_formats(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    policy = PolicyFile(path).load()
    assert policy.resolve("bob", ["teachers"]).mem_limit == 4 * G
    assert policy.resolve("alice").cpu_limit == 2.0


def test_reload_on_change_and_keep_last_good(tmp_path, caplog):
    path = tmp_path / "q.toml"
    path.write_text('[defaults]\nmem_limit = "1G"\n')
    pf = PolicyFile(path)
    assert pf.load().resolve("x").mem_limit == G
    path.write_text('[defaults]\nmem_limit = "2G"\n')
    os.utime(path, ns=(1, 1))  # make sure the stat signature moves
    assert pf.load().resolve("x").mem_limit == 2 * G
    path.write_text('[defaults]\nmem_limit = "two gigs"\n')
    with caplog.at_level(logging.ERROR):
        assert pf.load().resolve("x").mem_limit == 2 * G
    assert "Keeping the previous quota policy" in caplog.text
    assert "'two gigs' is not a size" in caplog.text


def test_unchanged_file_is_not_reparsed(tmp_path, monkeypatch):
    path = tmp_path / "q.toml"
    path.write_text(TOML)
    pf = PolicyFile(path)
    first = pf.load()
    import jhub_kit.quota.policy_file as mod

    monkeypatch.setattr(mod, "parse_policy_text", lambda *a, **k: pytest.fail("re-parsed"))
    assert pf.load() is first


@pytest.mark.parametrize(
    "text, message",
    [
        ("[defaults\n", "not valid TOML"),
        (
            "[limits]\nmem_limit = 1\n",
            "unknown section(s) limits; valid sections are defaults, groups, users",
        ),
        ('[defaults]\nmemory = "1G"\n', "unknown resource 'memory'"),
        ('groups = "teachers"\n', "[groups] must map names to resources"),
    ],
)
def test_broken_first_read_raises(tmp_path, text, message):
    path = tmp_path / "q.toml"
    path.write_text(text)
    with pytest.raises(QuotaError) as e:
        PolicyFile(path).load()
    assert message in str(e.value)
    assert str(path) in str(e.value)


def test_missing_file_raises(tmp_path):
    with pytest.raises(QuotaError, match="No such file"):
        PolicyFile(tmp_path / "nope.toml").load()


def test_wrong_suffix(tmp_path):
    with pytest.raises(QuotaError, match=r"must end in \.toml, \.yaml or \.yml"):
        PolicyFile(tmp_path / "q.json")
