"""A teacher's "more idle time for today" as data (:mod:`jhub_kit.quota.extensions`):
the end of the day in the hub's local time, an extension given, kept and expired."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from jhub_kit.quota.extensions import (
    active,
    end_of_day,
    extend,
    extended_until,
    extensions_file_for,
    read_extensions,
)

#: the hub's local time zone (the ``hub_tz`` fixture): UTC+1 in December
HUB_TZ = "Europe/Paris"


@pytest.mark.parametrize(
    "utc, midnight_utc",
    [
        ("2026-12-07T12:00:00", "2026-12-07T23:00:00"),  # noon UTC: 13:00 in Paris
        ("2026-12-07T22:59:59", "2026-12-07T23:00:00"),  # a second before midnight there
        ("2026-12-07T23:30:00", "2026-12-08T23:00:00"),  # already tomorrow in Paris
    ],
    ids=["afternoon", "last-second", "after-local-midnight"],
)
def test_the_end_of_the_day_is_the_hubs_local_midnight(hub_tz, utc, midnight_utc):
    now = datetime.fromisoformat(utc).replace(tzinfo=timezone.utc)
    end = end_of_day(now)
    assert end.astimezone(timezone.utc) == datetime.fromisoformat(midnight_utc).replace(
        tzinfo=timezone.utc
    )
    assert end.utcoffset() == timedelta(hours=1)  # shown in the hub's time


def test_extend_keeps_the_running_ones_and_drops_the_expired():
    now = datetime(2026, 12, 7, 12, tzinfo=timezone.utc)
    data = extend({}, ["ann", "bob"], now + timedelta(hours=1), "t", now)
    later = now + timedelta(hours=2)
    data = extend(data, ["cy"], later + timedelta(hours=1), "u", later)
    assert list(data["users"]) == ["cy"]  # ann's and bob's had expired
    assert data["users"]["cy"]["by"] == "u"
    assert extended_until(data, "cy", later) == later + timedelta(hours=1)
    assert extended_until(data, "ann", later) is None
    assert active({"users": {"x": {"until": "soon"}, "y": "?"}}, now) == {}
    assert active({"users": ["x"]}, now) == {}


def test_the_file_beside_the_audit_log_and_bad_files(tmp_path):
    assert extensions_file_for("/d/teachers/audit.jsonl") == "/d/teachers/idle_extensions.json"
    assert extensions_file_for("") == ""
    assert read_extensions(str(tmp_path / "missing.json")) == {}
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    assert read_extensions(str(bad)) == {}
    assert read_extensions("") == {}


def test_a_day_without_midnight_ends_at_the_first_hour_of_the_next(monkeypatch):
    """Where summer time starts at midnight (Chile, 2026-09-06 00:00 -> 01:00), the
    day ends at the next day's first instant, not an hour early the day before."""
    import time

    monkeypatch.setenv("TZ", "America/Santiago")
    time.tzset()
    try:
        now = datetime(2026, 9, 5, 18, tzinfo=timezone.utc)  # 14:00 there
        end = end_of_day(now)
        assert end.date().isoformat() == "2026-09-06" and end > now, end
        assert end.astimezone(timezone.utc) == datetime(2026, 9, 6, 4, tzinfo=timezone.utc)
    finally:
        monkeypatch.undo()
        time.tzset()


def test_a_file_nested_too_deep_is_no_extension(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    assert read_extensions(str(deep)) == {}
