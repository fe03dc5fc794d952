"""The warm pool's size over the week: schedule entries, fill requests, the files
the hub and ``jhub-kit pool`` share, and the command line on those files."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from click.testing import CliRunner

from jhub_kit.cli import main
from jhub_kit.pool import schedule as ps

MON_0900 = dt.datetime(2026, 11, 30, 9, 0)  # a Monday


def test_entries_read_as_written():
    w = ps.parse_window("mon 08:50-10:30 40")
    assert (w.days, w.start, w.end, w.size) == ({0}, dt.time(8, 50), dt.time(10, 30), 40)
    assert ps.parse_window("Mon,WED 13:20-15:00 25").days == {0, 2}
    assert ps.parse_window("mon-fri 9:00-17:00 5").days == {0, 1, 2, 3, 4}
    assert ps.parse_window("sat-sun,wed 9:00-17:00 5").days == {2, 5, 6}
    assert ps.parse_window("daily 00:00-24:00 3").covers(dt.datetime(2026, 12, 6, 23, 59))


@pytest.mark.parametrize(
    "entry, says",
    [
        ("mon 08:50-10:30", "DAYS HH:MM-HH:MM SIZE"),
        ("monday 08:50-10:30 40", "'monday' is not a day"),
        ("fri-mon 08:50-10:30 40", "runs backwards"),
        ("mon 8.50-10:30 40", "'8.50' is not a time"),
        ("mon 25:00-26:00 4", "not a time"),
        ("mon 10:30-08:50 40", "ends before it starts"),
        ("mon 22:00-02:00 40", "past midnight is two entries"),
        ("mon 08:50-10:30 0", "whole number of servers"),
        ("mon 08:50-10:30 forty", "whole number"),
        ("mon 08:50 40", "not a time span"),
    ],
)
def test_a_bad_entry_says_what_to_write(entry, says):
    with pytest.raises(ps.ScheduleError, match=says):
        ps.parse_window(entry)


def test_the_largest_source_wins_and_spans_end():
    windows = ps.parse_schedule(["mon 08:50-10:30 40", "mon-fri 08:00-18:00 5"])
    assert ps.target(MON_0900, 2, windows, None) == (40, "schedule 'mon 08:50-10:30 40'")
    assert ps.target(MON_0900.replace(hour=10, minute=30), 2, windows, None)[0] == 5
    assert ps.target(MON_0900.replace(hour=8, minute=49), 2, windows, None)[0] == 5
    assert ps.target(MON_0900.replace(hour=19), 2, windows, None) == (2, "pool_size")
    tuesday = MON_0900 + dt.timedelta(days=1)
    assert ps.target(tuesday, 0, windows, None)[0] == 5
    assert ps.target(tuesday + dt.timedelta(days=5), 0, windows, None) == (0, "pool_size")


def test_a_fill_request_counts_until_it_expires():
    now = MON_0900.replace(hour=19)
    request = ps.FillRequest(30, now.timestamp() + 3600)
    size, why = ps.target(now, 2, [], request)
    assert size == 30 and why.startswith("fill request until Mon 20:00")
    assert ps.target(now + dt.timedelta(hours=2), 2, [], request) == (2, "pool_size")
    # a request smaller than the class time does not shrink it
    windows = ps.parse_schedule(["mon 08:50-10:30 40"])
    small = ps.FillRequest(10, MON_0900.timestamp() + 60)
    assert ps.target(MON_0900, 2, windows, small)[0] == 40


@pytest.mark.parametrize(
    "text, seconds", [("90m", 5400), ("2h", 7200), ("1h30m", 5400), ("45s", 45), ("2H", 7200)]
)
def test_durations(text, seconds):
    assert ps.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "2", "h", "2d", "-1h", "1.5h"])
def test_bad_durations(text):
    with pytest.raises(ps.ScheduleError, match="not a duration"):
        ps.parse_duration(text)


def test_files_round_trip_and_broken_ones_are_ignored(tmp_path):
    assert ps.read_request(tmp_path) is None
    ps.write_request(tmp_path, ps.FillRequest(12, 1e9))
    assert ps.read_request(tmp_path) == ps.FillRequest(12, 1e9)
    ps.write_request(tmp_path, None)
    assert not (tmp_path / ps.REQUEST_FILE).exists()
    ps.write_request(tmp_path, None)  # withdrawing twice is fine
    for broken in ("{", "[]", '{"size": "x", "until": 1}', '{"size": 3}'):
        (tmp_path / ps.REQUEST_FILE).write_text(broken)
        assert ps.read_request(tmp_path) is None
    (tmp_path / ps.STATUS_FILE).write_text("[1]")
    assert ps.read_status(tmp_path) is None
    assert list(tmp_path.glob(".*")) == []  # no temporary file left


def test_the_spawner_refuses_a_bad_schedule_naming_the_setting():
    from traitlets import TraitError

    from jhub_kit import QuotaDockerSpawner

    s = QuotaDockerSpawner(pool_schedule=["mon 08:50-10:30 40"])
    assert s.pool_on and s.pool_size == 0
    with pytest.raises(TraitError, match=r"c.QuotaDockerSpawner.pool_schedule: 'tue 9-10 4'"):
        QuotaDockerSpawner(pool_schedule=["tue 9-10 4"])


# -- the command line, on the files (the real hub writes them in test_pool.py) ------


def _status(tmp_path, **over):
    status = {
        "ready": 3,
        "starting": 1,
        "target": 5,
        "why": "schedule 'mon 08:50-10:30 5'",
        "size": 2,
        "schedule": ["mon 08:50-10:30 5"],
        "assigned": 7,
        "members": [{"name": "p1", "age_s": 600}, {"name": "p2", "age_s": 4}],
        "updated": time.time(),
        "pid": 4242,
    }
    ps.write_status(tmp_path, {**status, **over})


def test_status_shows_the_target_and_why(tmp_path):
    _status(tmp_path)
    r = CliRunner().invoke(main, ["pool", "status", "--pool-dir", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert "ready      3 of 5  (schedule 'mon 08:50-10:30 5')" in r.output
    assert "given out  7" in r.output and "oldest 10 min, newest 4 s" in r.output
    r = CliRunner().invoke(main, ["pool", "status", "--pool-dir", str(tmp_path), "--json"])
    assert json.loads(r.output)["target"] == 5


def test_status_gives_each_profiles_kind(tmp_path):
    kinds = {
        "": {"ready": 1, "starting": 0, "target": 1, "why": "pool_size"},
        "r-course": {"ready": 2, "starting": 1, "target": 4, "why": "schedule 'mon ... r-course'"},
    }
    _status(tmp_path, ready=3, target=5, kinds=kinds)
    r = CliRunner().invoke(main, ["pool", "status", "--pool-dir", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert "ready      3 of 5  (by kind below)" in r.output
    assert "(default)    1 of 1 ready, 0 starting  (pool_size)" in r.output
    assert "r-course     2 of 4 ready, 1 starting  (schedule 'mon ... r-course')" in r.output


def test_status_of_a_hub_that_stopped_keeping_it_fails(tmp_path):
    _status(tmp_path, updated=time.time() - 120)
    r = CliRunner().invoke(main, ["pool", "status", "--pool-dir", str(tmp_path)])
    assert r.exit_code == 1 and "has not updated the pool's status for 120 s" in r.output


def test_no_pool_says_what_to_set(tmp_path):
    r = CliRunner().invoke(main, ["pool", "status", "--pool-dir", str(tmp_path / "none")])
    assert r.exit_code == 1
    assert "c.QuotaDockerSpawner.pool_size, pool_schedule or a profile's pool_size" in r.output
    r = CliRunner().invoke(main, ["pool", "fill", "3", "--pool-dir", str(tmp_path / "none")])
    assert r.exit_code == 1 and "No warm pool" in r.output


def test_fill_writes_a_request_the_hub_reads(tmp_path):
    before = time.time()
    r = CliRunner().invoke(
        main, ["pool", "fill", "40", "--for", "90m", "--pool-dir", str(tmp_path)]
    )
    assert r.exit_code == 0, r.output
    request = ps.read_request(tmp_path)
    assert request is not None and request.size == 40
    assert before + 5400 <= request.until <= time.time() + 5400
    r = CliRunner().invoke(
        main, ["pool", "fill", "3", "--for", "soon", "--pool-dir", str(tmp_path)]
    )
    assert r.exit_code == 2 and "'soon' is not a duration" in r.output
    assert ps.read_request(tmp_path) == request  # a refused command changes nothing
    r = CliRunner().invoke(main, ["pool", "fill", "0", "--pool-dir", str(tmp_path)])
    assert r.exit_code == 0 and "withdrawn" in r.output and ps.read_request(tmp_path) is None


def test_fill_above_the_cap_says_it_is_capped_and_to_what(tmp_path):
    """Issue 37: ``pool fill 100000`` said "Asked the hub to keep 100000 servers warm"
    while the hub holds a request to pool_fill_max. The cap is read from the hub's
    status, else the config, else the default; a request within it is not capped."""
    run = CliRunner().invoke
    _status(tmp_path, fill_max=40)
    r = run(main, ["pool", "fill", "100000", "--pool-dir", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert r.output.startswith("Asked the hub to keep 100000 servers warm until ")
    assert "but it keeps at most 40 (the hub's pool_fill_max)" in r.output
    assert "the request is capped, 40 servers will be warm" in r.output
    assert ps.read_request(tmp_path).size == 100000  # the hub applies the cap it has
    r = run(main, ["pool", "fill", "40", "--pool-dir", str(tmp_path)])
    assert "capped" not in r.output and "keep 40 servers warm until" in r.output
    # no status (the hub has not written one yet): the config's, else the default
    bare = tmp_path / "bare"
    bare.mkdir()
    cfg = tmp_path / "jupyterhub_config.py"
    cfg.write_text(f"c.QuotaDockerSpawner.pool_dir = {str(bare)!r}\n")
    r = run(main, ["pool", "fill", "100000", "-f", str(cfg)])
    assert "at most 100 (the default pool_fill_max)" in r.output, r.output
    cfg.write_text(cfg.read_text() + "c.QuotaDockerSpawner.pool_fill_max = 150\n")
    r = run(main, ["pool", "fill", "100000", "-f", str(cfg)])
    assert "at most 150 (pool_fill_max in the config)" in r.output, r.output
    cfg.write_text(cfg.read_text() + "c.QuotaDockerSpawner.pool_fill_max = 0\n")  # no cap
    r = run(main, ["pool", "fill", "100000", "-f", str(cfg)])
    assert "capped" not in r.output and "keep 100000 servers warm" in r.output


def test_pool_dir_from_the_config_file(tmp_path):
    pool_dir = tmp_path / "p"
    pool_dir.mkdir()
    _status(pool_dir)
    cfg = tmp_path / "jupyterhub_config.py"
    cfg.write_text(f"c.QuotaDockerSpawner.pool_dir = {str(pool_dir)!r}\n")
    r = CliRunner().invoke(main, ["pool", "status", "-f", str(cfg)])
    assert r.exit_code == 0 and str(pool_dir) in r.output


def test_an_entry_may_name_a_profile_whose_servers_it_keeps():
    w = ps.parse_window("Mon 08:50-10:30 40 r-course")
    assert (w.profile, w.size, w.text) == ("r-course", 40, "Mon 08:50-10:30 40 r-course")
    assert ps.parse_window("mon 08:50-10:30 40").profile == ""
    windows = [w, ps.parse_window("mon 08:00-12:00 5")]
    # each kind counts only the entries naming it
    assert ps.target(MON_0900, 2, windows, None) == (5, "schedule 'mon 08:00-12:00 5'")
    assert ps.target(MON_0900, 0, windows, None, profile="r-course") == (
        40,
        "schedule 'Mon 08:50-10:30 40 r-course'",
    )
    assert ps.target(MON_0900, 1, [], None, profile="r-course") == (
        1,
        "profile r-course's pool_size",
    )
    with pytest.raises(ps.ScheduleError, match="is not a profile's slug"):
        ps.parse_window("mon 08:50-10:30 40 R_Course!")
    with pytest.raises(ps.ScheduleError, match=r"SIZE \[PROFILE\]"):
        ps.parse_window("mon 08:50-10:30 40 r-course extra")
