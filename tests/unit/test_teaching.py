"""A teacher's rights and actions, without services: the roles the bundle makes, the
check of a caller's (expanded) scopes for each action, and a change of limits in
the live policy file (the ceiling, the atomic write, the audit record)."""

from __future__ import annotations

import json
import os

import pytest
from jupyterhub.scopes import expand_scopes, scope_definitions
from traitlets.config import Config

from jhub_kit.config import add_dashboard
from jhub_kit.quota.courses import parse_courses
from jhub_kit.quota.policy import QuotaError
from jhub_kit.quota.policy_file import PolicyFile
from jhub_kit.quota.teaching import (
    ACTION_SCOPES,
    LIMITS_SCOPE,
    TEACHER_SCOPES,
    change_limits,
    may_act_on_group,
    may_act_on_user,
    teacher_roles,
    visible_records,
)
from jhub_kit.views.dashboard import limits


def expanded(scopes: set[str]) -> set[str]:
    """What the hub hands a token of these scopes: JupyterHub's own expansion
    (the kit's custom scope has no subscopes)."""
    custom = {s for s in scopes if s.startswith("custom:")}
    return set(expand_scopes(frozenset(scopes - custom))) | custom


def test_teacher_scopes_are_jupyterhubs():
    for scope in TEACHER_SCOPES:
        assert scope.startswith("custom:") or scope in scope_definitions, scope
    for scope in ACTION_SCOPES.values():
        assert scope.startswith("custom:") or scope in scope_definitions, scope


def test_roles_from_the_mapping_and_the_courses():
    courses = parse_courses(
        {
            "physics-101": {
                "teachers": {"users": ["Ada"], "groups": ["physics-staff"]},
                "students": {"groups": ["p101"], "users": ["guest"]},
                "size_limit": "2G",
            }
        }
    )
    roles = {r["name"]: r for r in teacher_roles({"bo": ["g1", "g2"], "nobody": []}, courses)}
    assert set(roles) == {
        "class-dashboard-teacher-user-bo",
        "class-dashboard-teacher-course-physics-101",
    }
    bo = roles["class-dashboard-teacher-user-bo"]
    assert bo["users"] == ["bo"]
    assert "servers!group=g1" in bo["scopes"] and f"{LIMITS_SCOPE}!group=g2" in bo["scopes"]
    assert all("!" in s for s in bo["scopes"]), "a teacher's scope without a filter"
    course = roles["class-dashboard-teacher-course-physics-101"]
    assert course["users"] == ["ada"] and course["groups"] == ["physics-staff"]
    assert "access:servers!group=p101" in course["scopes"]
    assert "servers!user=guest" in course["scopes"]
    with pytest.raises(QuotaError, match="list of groups"):
        teacher_roles({"bo": "g1"})


def test_add_dashboard_registers_the_scope_and_the_roles():
    c = Config()
    add_dashboard(c, teachers={"bo": ["g1"]}, ceiling={"mem_limit": "2G"}, audit_log="/x.jsonl")
    assert LIMITS_SCOPE in c.JupyterHub.custom_scopes
    role = next(r for r in c.JupyterHub.load_roles if r["name"].endswith("-user-bo"))
    assert "access:services!service=class-dashboard" in role["scopes"]
    service = c.JupyterHub.services[0]
    assert json.loads(service["environment"][limits.CEILING_ENV]) == {"mem_limit": "2G"}
    assert service["environment"][limits.AUDIT_ENV] == "/x.jsonl"
    assert LIMITS_SCOPE in service["oauth_client_allowed_scopes"]
    # a teacher's token to the dashboard carries access:servers (filtered to the groups
    # they teach, the hub intersects): the open endpoint checks it
    assert "access:servers" in service["oauth_client_allowed_scopes"]
    assert "access:servers!group=g1" in role["scopes"]


def test_the_audit_a_caller_reads():
    """A teacher reads the records of the groups they teach (their students' and the
    groups'), an admin all of them, a student none."""
    records = [
        {"target": "user:ann", "action": "open"},
        {"target": "user:bob", "action": "stop"},
        {"target": "group:a", "action": "extend"},
        {"target": "group:b", "action": "limits"},
        {"target": "user:gone", "action": "stop"},  # no longer in the hub
        {"target": "?", "action": "stop"},
    ]
    groups = {"ann": ["a"], "bob": ["b"], "t": []}

    def targets(scopes: set[str]) -> list[str]:
        return [str(r["target"]) for r in visible_records(expanded(scopes), records, groups)]

    assert targets(TEACHER_A) == ["user:ann", "group:a"]
    assert targets(TEACHER_B) == ["user:bob", "group:b"]
    assert targets(ADMIN) == [str(r["target"]) for r in records]
    assert targets(STUDENT) == ["user:bob"]  # the records about themselves only
    assert targets(set()) == []


#: the parts of the hub's admin role the actions need (and the kit's scope)
ADMIN = {"admin:servers", "admin:users", "access:servers", LIMITS_SCOPE}
TEACHER_A = {s for r in teacher_roles({"t": ["a"]}) for s in r["scopes"]}
TEACHER_B = {s for r in teacher_roles({"u": ["b"]}) for s in r["scopes"]}
#: the hub's ``user`` role, expanded for bob (another student)
STUDENT = {"servers!user=bob", "read:users!user=bob", "access:servers!user=bob", "tokens!user=bob"}

# (caller, student ann of group a) -> allowed?
USER_TABLE = [
    ("admin", ADMIN, True),
    ("teacher-of-a", TEACHER_A, True),
    ("teacher-of-b", TEACHER_B, False),
    ("student", STUDENT, False),
    ("nothing", set(), False),
]


@pytest.mark.parametrize("action", sorted(ACTION_SCOPES))
@pytest.mark.parametrize(
    "scopes,allowed", [(s, a) for _, s, a in USER_TABLE], ids=[n for n, _, _ in USER_TABLE]
)
def test_who_may_act_on_a_student(scopes, allowed, action):
    needed = ACTION_SCOPES[action]
    assert may_act_on_user(expanded(scopes), needed, "ann", ["a"]) is allowed
    # the group as a whole, for the limits
    assert may_act_on_group(expanded(scopes), needed, "a") is allowed


def test_a_scope_on_one_user_or_server_is_not_the_group():
    scopes = expanded({"servers!user=ann", f"{LIMITS_SCOPE}!user=ann", "servers!server=bob/"})
    assert may_act_on_user(scopes, "delete:servers", "ann", [])
    assert not may_act_on_user(scopes, "delete:servers", "bob", [])
    assert not may_act_on_group(scopes, LIMITS_SCOPE, "a")
    # a student's own scopes give nothing of the kit's limits, even on themselves
    assert not may_act_on_user(expanded(STUDENT), LIMITS_SCOPE, "bob", ["a"])


CEILING = {"mem_limit": "2G", "cpu_limit": 2, "disk_limit": "10G", "idle_timeout": "8h"}


@pytest.mark.parametrize(
    "limits_,error",
    [
        ({"mem_limit": "3G"}, "above the ceiling of 2G"),
        ({"cpu_limit": 4}, "above the ceiling of 2"),
        ({"mem_limit": "unlimited"}, "cannot be unlimited"),
        ({"idle_timeout": "9h"}, "above the ceiling of 8h"),
        ({"idle_timeout": "unlimited"}, "cannot be unlimited"),
        ({"idle_timeout": "soon"}, "not a time span"),
        ({"mem_limit": "lots"}, "not a size"),
        ({"pids_limit": 10}, "cannot be changed"),
        ({}, "no limit to change"),
    ],
    ids=[
        "memory-over",
        "cpu-over",
        "unlimited",
        "idle-over",
        "idle-never",
        "bad-idle",
        "bad-size",
        "other-key",
        "nothing",
    ],
)
def test_change_refused(limits_, error):
    with pytest.raises(QuotaError, match=error):
        change_limits({}, "users", "ann", limits_, CEILING)


def test_a_teacher_gives_a_student_more_time_before_the_idle_culler(tmp_path):
    """idle_timeout within the ceiling: the student's server is culled later, from
    its next start (the rule is kept with the running server)."""
    from jhub_kit.quota.policy_file import PolicyFile
    from jhub_kit.views.dashboard import limits

    path = tmp_path / "policy.toml"
    changes = limits.write_limits(str(path), "users", "ann", {"idle_timeout": "3h"}, CEILING)
    assert [(c.key, c.new) for c in changes] == [("idle_timeout", "3h")]
    assert PolicyFile(path).load().resolve("ann", []).idle_timeout == 3 * 3600


def test_no_ceiling_no_change():
    with pytest.raises(QuotaError, match="no ceiling for disk_limit"):
        change_limits({}, "users", "ann", {"disk_limit": "1G"}, {"mem_limit": "2G"})


def test_change_keeps_the_rest():
    data = {
        "defaults": {"mem_limit": "512M"},
        "users": {"ann": {"mem_limit": "1G", "pids_limit": 9}},
    }
    out, changes = change_limits(data, "users", "ann", {"mem_limit": "2G"}, CEILING)
    assert out["users"]["ann"] == {"mem_limit": "2G", "pids_limit": 9}
    assert out["defaults"] == {"mem_limit": "512M"} and data["users"]["ann"]["mem_limit"] == "1G"
    assert [(c.key, c.old, c.new) for c in changes] == [("mem_limit", "1G", "2G")]
    out, changes = change_limits(out, "users", "ann", {"mem_limit": None}, CEILING)
    assert out["users"]["ann"] == {"pids_limit": 9} and changes[0].new is None


TOML = """\
# the admin's own words stay
[defaults]
mem_limit = "512M"  # every student

[groups.a]
cpu_limit = 1
"""


def test_write_limits_toml_atomic_with_comments_and_audit(tmp_path):
    path = tmp_path / "quotas.toml"
    path.write_text(TOML)
    os.chmod(path, 0o640)
    inode = path.stat().st_ino
    audit = tmp_path / "audit.jsonl"

    changes = limits.write_limits(str(path), "users", "ann", {"mem_limit": "1G"}, CEILING)
    limits.record(str(audit), "teacher", changes)
    text = path.read_text()
    assert "# the admin's own words stay" in text and "# every student" in text
    assert path.stat().st_ino != inode, "written in place, not renamed over"
    assert path.stat().st_mode & 0o777 == 0o640
    policy = PolicyFile(path).load()
    assert policy.resolve("ann", ["a"]).mem_limit == 1024**3
    assert policy.resolve("bob", ["a"]).mem_limit == 512 * 1024**2

    changes = limits.write_limits(str(path), "groups", "a", {"cpu_limit": "2"}, CEILING)
    limits.record(str(audit), "teacher", changes)
    assert PolicyFile(path).load().resolve("bob", ["a"]).cpu_limit == 2
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [(r["who"], r["target"], r["limit"], r["old"], r["new"]) for r in records] == [
        ("teacher", "user:ann", "mem_limit", None, "1G"),
        ("teacher", "group:a", "cpu_limit", 1, 2),
    ]
    assert all(r["when"].endswith("+00:00") for r in records)
    assert limits.read_log(str(audit))[0]["target"] == "group:a"  # newest first

    # refused above the ceiling: the file is not touched
    before = (path.read_bytes(), path.stat().st_ino)
    with pytest.raises(QuotaError, match="ceiling"):
        limits.write_limits(str(path), "users", "ann", {"mem_limit": "8G"}, CEILING)
    assert (path.read_bytes(), path.stat().st_ino) == before
    # the same value again: nothing written, nothing recorded
    assert limits.write_limits(str(path), "users", "ann", {"mem_limit": "1G"}, CEILING) == []
    assert path.stat().st_ino == before[1]


def test_write_limits_yaml_and_a_broken_file(tmp_path):
    path = tmp_path / "quotas.yaml"
    path.write_text("defaults:\n  mem_limit: 512M\n")
    limits.write_limits(str(path), "users", "ann", {"disk_limit": "5G"}, CEILING)
    assert PolicyFile(path).load().resolve("ann", []).disk_limit == 5 * 1024**3
    broken = tmp_path / "broken.toml"
    broken.write_text("[defaults\n")
    with pytest.raises(QuotaError, match="not valid TOML"):
        limits.write_limits(str(broken), "users", "ann", {"mem_limit": "1G"}, CEILING)
    assert broken.read_text() == "[defaults\n"


def test_what_the_page_offers_follows_the_callers_scopes(tmp_path):
    from jhub_kit.views.dashboard.actions import what_caller_may

    audit = tmp_path / "audit.jsonl"
    limits.record(
        str(audit), "t", change_limits({}, "users", "ann", {"mem_limit": "1G"}, CEILING)[1]
    )
    limits.record(
        str(audit), "u", change_limits({}, "users", "bob", {"mem_limit": "1G"}, CEILING)[1]
    )
    rows = [
        {"user": "ann", "groups": "a"},
        {"user": "bob", "groups": "b"},
        {"user": "t", "groups": ""},
    ]
    teacher = {"name": "t", "scopes": sorted(expanded(TEACHER_A))}
    offered = what_caller_may(teacher, rows, str(audit), {"idle_timeout": "4h"})
    assert offered["actions"] == {"ann": ["extend", "limits", "open", "start", "stop"]}
    # a ceiling that names no idle_timeout: teachers change no idle time, so no extension
    assert what_caller_may(teacher, rows, str(audit), {"mem_limit": "1G"})["actions"] == {
        "ann": ["limits", "open", "start", "stop"]
    }
    assert offered["group_limits"] == ["a"]
    assert [r["target"] for r in offered["audit"]] == ["user:ann"]  # not bob's record
    admin = what_caller_may({"name": "admin", "scopes": sorted(expanded(ADMIN))}, rows, str(audit))
    assert set(admin["actions"]) == {"ann", "bob", "t"} and len(admin["audit"]) == 2
    nobody = what_caller_may({"name": "bob", "scopes": sorted(expanded(STUDENT))}, rows, str(audit))
    assert nobody["actions"] == {"bob": ["start", "stop"]}  # their own: nothing to open
    assert nobody["group_limits"] == []
