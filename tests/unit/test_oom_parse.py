"""Pure tests of the OOM counter reader (files under a temp cgroup root)."""

from __future__ import annotations

from jhub_kit.spawners.oom import parse_oom_kill, read_oom_kills

V1 = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n"
V2 = "low 0\nhigh 0\nmax 12\noom 2\noom_kill 2\noom_group_kill 0\n"


def test_parse_v1_and_v2():
    assert parse_oom_kill(V1) == 3
    assert parse_oom_kill(V2) == 2
    assert parse_oom_kill("oom_kill_disable 0\nunder_oom 0\n") is None  # kernel < 4.13


def test_read_from_each_layout(tmp_path):
    cid = "abc123"
    v1 = tmp_path / "v1" / "memory" / "docker" / cid
    v1.mkdir(parents=True)
    (v1 / "memory.oom_control").write_text(V1)
    assert read_oom_kills(cid, str(tmp_path / "v1")) == 3
    v2 = tmp_path / "v2" / "system.slice" / f"docker-{cid}.scope"
    v2.mkdir(parents=True)
    (v2 / "memory.events").write_text(V2)
    assert read_oom_kills(cid, str(tmp_path / "v2")) == 2
    assert read_oom_kills(cid, str(tmp_path / "none")) is None
    assert read_oom_kills("", str(tmp_path / "v1")) is None
