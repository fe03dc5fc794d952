"""The class dashboard's rows, CSV and readings: pure, no services."""

from __future__ import annotations

import csv
import io
import os

from jhub_kit.quota.policy import Quota
from jhub_kit.spawners import oom
from jhub_kit.views.dashboard import rows

M = 1024**2


def model(name, server=None, groups=(), admin=False):
    return {
        "name": name,
        "groups": list(groups),
        "admin": admin,
        "last_activity": "2026-11-30T09:00:00Z",
        "servers": {"": server} if server else {},
    }


def running(kit=None, **server):
    return {"ready": True, "pending": None, "state": {"jhub_kit": kit or {}}, **server}


def test_rows_merge_quota_report_live_readings_and_kit_state():
    users = [
        model("zoe"),
        model(
            "ann",
            running(
                {
                    "oom_kills": 2,
                    "last_event": {"text": "A program in your server ... 300M"},
                    "home_usage": {"used": 5 * M, "limit": 60 * M},
                },
                last_activity="2026-11-30T10:00:00Z",
            ),
            groups=["class-a"],
        ),
        model(
            "bob", {"ready": False, "pending": "spawn", "state": {"jhub_kit": {"queue_ahead": 3}}}
        ),
    ]
    quota = {
        "ann": {"memory": "300M", "cpu": "1", "disk_used": "4M", "disk_limit": "60M"},
        "zoe": {"memory": "300M", "cpu": "1", "disk_used": "-", "disk_limit": "60M"},
    }
    live = {"ann": {"memory_used": 120 * M, "cpu_percent": 37.4}}
    ann, bob, zoe = rows.class_rows(users, quota, live)
    assert ann == {
        "user": "ann",
        "server_name": "",
        "groups": "class-a",
        "admin": False,
        "server": "running",
        "profile": "",
        "memory_peak": "-",  # no history given
        "memory_peak_bytes": None,
        "cpu_peak": "-",
        "history": None,
        "queue_ahead": None,
        "memory_used": "120M",  # a reading: quota.approx_size
        "memory_used_bytes": 120 * M,
        "memory": "300M",
        "cpu_used": "37%",
        "cpu": "1",
        "disk_used": "5.0M (8%)",  # the hub's own, newer measure of a running home
        "disk_used_bytes": 5 * M,
        "disk_limit": "60M",
        "last_activity": "2026-11-30T10:00:00Z",
        "oom_kills": 2,
        "last_event": "A program in your server ... 300M",
    }
    assert (bob["server"], bob["queue_ahead"], bob["memory"]) == ("queued, 3 ahead", 3, "-")
    assert (zoe["server"], zoe["memory_used"], zoe["disk_used"]) == ("stopped", "-", "-")


def test_quota_from_the_servers_state_when_the_config_is_unknown():
    q = Quota(mem_limit=512 * M, cpu_limit=2.0)
    [row] = rows.class_rows([model("ann", running({"quota": q.to_state()}))], {}, {})
    assert (row["memory"], row["cpu"]) == ("512M", "2")


def test_server_status():
    assert rows.server_status(model("a")) == "stopped"
    pending = {"pending": "spawn", "ready": False, "state": {"jhub_kit": {"queue_ahead": 0}}}
    assert rows.server_status(model("a", pending)) == "queued, next"
    assert rows.server_status(model("a", {"pending": "spawn", "ready": False})) == "pending spawn"
    assert rows.server_status(model("a", {"pending": "stop", "ready": True})) == "pending stop"
    assert rows.server_status(model("a", {"pending": None, "ready": False})) == "starting"


def test_cpu_percent():
    assert rows.cpu_percent(None, (10.0, 1.0)) is None
    assert rows.cpu_percent((10.0, 1.0), (12.0, 2.0)) == 50.0
    assert rows.cpu_percent((10.0, 1.0), (12.0, 5.0)) == 200.0  # two cores busy
    assert rows.cpu_percent((10.0, 5.0), (12.0, 1.0)) is None  # a new container


def test_csv_quotes_formulas_and_keeps_names():
    users = [model('=HYPERLINK("http://x")'), model("ann")]
    text = rows.to_csv(rows.class_rows(users, {}, {}))
    table = list(csv.reader(io.StringIO(text)))
    assert table[0][:4] == ["user", "groups", "server_name", "server"]
    assert table[1][0] == '\'=HYPERLINK("http://x")' and table[2][0] == "ann"
    assert table[2][table[0].index("memory_used")] == "-"  # a dash stays a dash
    assert "history" not in table[0]  # a chart, not a cell


def test_memory_used_like_docker_stats():
    v1 = "cache 100\ntotal_inactive_file 4096\nrss 9000\n"
    assert oom.parse_memory_used(10_000, v1) == 10_000 - 4096
    assert oom.parse_memory_used(10_000, "anon 1\ninactive_file 500\n") == 9_500
    assert oom.parse_memory_used(10_000, "") == 10_000


def test_readings_of_a_cgroup_tree(tmp_path):
    cid = "c0ffee"
    mem = tmp_path / "memory" / "docker" / cid
    mem.mkdir(parents=True)
    (mem / "memory.usage_in_bytes").write_text("50000\n")
    (mem / "memory.stat").write_text("total_inactive_file 10000\n")
    cpu = tmp_path / "cpuacct" / "docker" / cid
    cpu.mkdir(parents=True)
    (cpu / "cpuacct.usage").write_text("2500000000\n")
    assert oom.read_memory_used(cid, str(tmp_path)) == 40000
    assert oom.read_cpu_seconds(cid, str(tmp_path)) == 2.5
    v2 = tmp_path / "v2" / "system.slice" / f"docker-{cid}.scope"
    v2.mkdir(parents=True)
    (v2 / "memory.current").write_text("7000\n")
    (v2 / "cpu.stat").write_text("usage_usec 1500000\nuser_usec 1\n")
    assert oom.read_memory_used(cid, str(tmp_path / "v2")) == 7000
    assert oom.read_cpu_seconds(cid, str(tmp_path / "v2")) == 1.5
    assert oom.read_memory_used("", str(tmp_path)) is None


def test_stats_reading_like_docker_stats():
    """A server on another node: memory and CPU from its engine's stats answer."""
    stats = {
        "memory_stats": {"usage": 50_000_000, "stats": {"inactive_file": 10_000_000}},
        "cpu_stats": {
            "cpu_usage": {"total_usage": 3_000_000_000},
            "system_cpu_usage": 20_000_000_000,
            "online_cpus": 2,
        },
        "precpu_stats": {
            "cpu_usage": {"total_usage": 2_500_000_000},
            "system_cpu_usage": 18_000_000_000,
        },
    }
    assert oom.stats_reading(stats) == {"memory_used": 40_000_000, "cpu_percent": 50.0}
    assert oom.stats_reading({}) == {"memory_used": None, "cpu_percent": None}


def test_settings_from_the_hub_resolve_quotas_as_the_hub_does(tmp_path):
    """The dashboard resolves each user's quota from what the hub hands it, to the
    same result as the hub's own spawner: defaults, groups, users, the policy file."""
    from types import SimpleNamespace

    from traitlets.config import Config

    from jhub_kit import QuotaDockerSpawner
    from jhub_kit.views.dashboard import settings

    policy = tmp_path / "quotas.toml"
    policy.write_text('[groups.teachers]\nmem_limit = "3G"\n[users.ann]\npids_limit = 77\n')
    c = Config()
    c.QuotaDockerSpawner.mem_limit = "1G"
    c.QuotaDockerSpawner.cpu_limit = lambda s: 2  # a callable: the hub's, not handed over
    c.QuotaDockerSpawner.quota_groups = {"teachers": {"cpu_limit": 4}}
    c.QuotaDockerSpawner.quota_users = {"bob": {"mem_limit": "512M"}}
    c.QuotaDockerSpawner.quota_policy_file = str(policy)

    def spawner(name, groups=()):
        user = SimpleNamespace(name=name, groups=[SimpleNamespace(name=g) for g in groups])
        return QuotaDockerSpawner(config=c, user=user)

    path = str(tmp_path / "run" / "board.json")
    settings.write(path, settings.settings_of(spawner("jhub-kit-pool-member")))
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"
    handed = settings.read(path)
    assert "cpu_limit" not in handed["defaults"]  # callables stay in the hub
    policy_ = settings.policy_of(handed)
    for name, groups in [("ann", ()), ("bob", ()), ("tess", ("teachers",))]:
        hub = spawner(name, groups).resolve_quota_now()
        board = policy_.resolve(name, groups)
        assert (board.mem_limit, board.pids_limit) == (hub.mem_limit, hub.pids_limit), name
    assert policy_.resolve("tess", ["teachers"]).mem_limit == 3 * 1024**3
    assert settings.policy_of({"schema": 99}) is None  # a newer hub's: not guessed


def test_roster_rows_for_those_who_never_logged_in():
    users = [model("ann", running({"profile": {"slug": "r", "name": "R"}}), groups=["a"])]
    roster = {"ann": ["a"], "bob": ["b"], "cy": []}
    quota = {"bob": {"memory": "1G"}}
    ann, bob, cy = rows.class_rows(users, quota, {}, roster)
    assert (ann["server"], ann["profile"]) == ("running", "R")
    assert (bob["server"], bob["groups"], bob["memory"]) == (rows.NEVER, "b", "1G")
    assert cy["server"] == rows.NEVER and cy["profile"] == ""


def test_history_is_bounded_and_gives_peaks_and_charts():
    h = rows.History(span=600, class_span=1200)
    for i in range(200):  # every 10 s for 2000 s
        t = 1000.0 + 10 * i
        h.add(t, {"ann": {"memory_used": (i % 50) * M, "cpu_percent": float(i % 7)}}, i % 5, 1)
    now = 1000.0 + 10 * 199
    assert len(h.users["ann"]) == 61  # only the last 600 s
    assert len(h.klass) == 121  # only the last 1200 s
    mem_peak, cpu_peak = h.peaks("ann")
    assert mem_peak == 49 * M and cpu_peak == 6.0
    chart = h.chart("ann", now)
    assert len(chart["memory"]) == rows.POINTS and chart["memory"][-1] == (199 % 50) * M
    assert max(v for v in chart["memory"] if v is not None) == 49 * M
    series = h.class_chart(now, points=60)
    assert len(series) <= 61 and series[-1][0] == 0 and series[0][0] >= 1100
    assert max(r[1] for r in series) == 4
    # a user with no reading for the whole span is forgotten
    h.add(now + 700, {}, 0, 0)
    assert "ann" not in h.users and h.peaks("ann") == (None, None)
    [row] = rows.class_rows([model("ann")], {}, {}, None, h, now + 700)
    assert row["memory_peak"] == "-" and set(row["history"]["memory"]) == {None}


def test_named_servers_get_their_own_rows_readings_and_history():
    q_big = Quota(mem_limit=4 * 1024 * M, cpu_limit=2.0)
    ann = model("ann", running({"profile": {"name": "Python"}}), groups=["class-a"])
    ann["servers"]["project"] = running({"quota": q_big.to_state(), "profile": {"name": "Big"}})
    ann["servers"]["r"] = {"ready": False, "pending": "spawn", "state": {}}
    bob = model("bob")
    h = rows.History()
    live = {
        "ann": {"memory_used": 100 * M, "cpu_percent": 5.0},
        rows.row_key("ann", "project"): {"memory_used": 900 * M, "cpu_percent": 80.0},
    }
    h.add(1000.0, live, 2, 0)
    quota = {"ann": {"memory": "1G", "cpu": "1"}, "bob": {"memory": "1G", "cpu": "1"}}
    table = rows.class_rows([bob, ann], quota, live, None, h, 1000.0)
    assert [(r["user"], r["server_name"], r["server"]) for r in table] == [
        ("ann", "", "running"),
        ("ann", "project", "running"),
        ("ann", "r", "pending spawn"),
        ("bob", "", "stopped"),
    ]
    default, project, r, _ = table
    assert (default["profile"], default["memory"], default["memory_used"]) == (
        "Python",
        "1G",
        "100M",
    )
    # a named server shows the quota it runs with (its profile's), its own readings and peaks
    assert (project["profile"], project["memory"], project["cpu"]) == ("Big", "4G", "2")
    assert (project["memory_used"], project["memory_peak"]) == ("900M", "900M")
    assert max(v for v in project["history"]["memory"] if v is not None) == 900 * M
    assert r["memory_used"] == "-" and r["groups"] == "class-a"
    assert rows.row_key("ann", "") == "ann"


def test_a_server_whose_kit_state_is_not_a_mapping_shows_without_it():
    """A state the kit did not write (``state["jhub_kit"]`` not a mapping) reads as
    no kit state: the row shows the hub's view of the server and the policy's quota."""
    for state in ({"jhub_kit": "?"}, {"jhub_kit": None}, None, "?"):
        user = model("ann", {"ready": True, "pending": None, "state": state})
        assert rows.server_status(user) == "running"
        (row,) = rows.class_rows([user], {"ann": {"memory": "300M"}}, {})
        assert row["server"] == "running" and row["memory"] == "300M", state
        assert row["oom_kills"] == 0 and row["last_event"] == "" and row["profile"] == ""
