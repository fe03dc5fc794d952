"""The teachers' files at the hub's start (:func:`jhub_kit.views.dashboard.limits.prepare_for`):
a folder the kit makes is given to the dashboard's user; one that exists is never
changed, and where that user cannot write it, the hub's log says what to run."""

from __future__ import annotations

import os
import pwd

import pytest

from jhub_kit.views.dashboard.limits import prepare_for, write_limits

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="gives a folder to another user")


def test_a_folder_made_for_nobody_and_one_nobody_cannot_write(tmp_path):
    nobody = pwd.getpwnam("nobody")
    made = tmp_path / "teachers" / "policy.toml"
    kept = tmp_path / "admins" / "audit.jsonl"
    kept.parent.mkdir(mode=0o755)
    assert prepare_for("nobody", [str(made), str(kept)]) == [
        f"the class dashboard runs as nobody and cannot write {kept.parent}: teachers' "
        f"changes will fail; run `chown nobody {kept.parent}`, or set "
        "c.QuotaDockerSpawner.teacher_policy_file and c.JhubKit.teacher_audit_log to a "
        "directory nobody may write"
    ]
    assert made.parent.stat().st_uid == nobody.pw_uid
    assert kept.parent.stat().st_uid == 0  # never changed
    assert prepare_for("nobody", [str(made)]) == []  # again: nothing to say
    assert prepare_for("no-such-user-here", [str(made)]) == [
        "the class dashboard's user 'no-such-user-here' does not exist (c.JhubKit.dashboard_user)"
    ]


def test_the_first_change_makes_the_teachers_file(tmp_path):
    target = tmp_path / "policy.toml"
    changes = write_limits(str(target), "users", "ann", {"mem_limit": "1G"}, {"mem_limit": "2G"})
    assert [(c.key, c.old, c.new) for c in changes] == [("mem_limit", None, "1G")]
    assert "[users.ann]" in target.read_text()
    assert oct(target.stat().st_mode & 0o777) == "0o644"  # the hub reads it
