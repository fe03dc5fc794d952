"""The class benchmark's students (benchmarks/classload.py): arrival patterns and
the progress stream's parsing, which the figures in docs/benchmarks.md rest on."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from classload import arrivals, parse_events


@pytest.mark.parametrize("pattern", ["once", "uniform", "bell"])
def test_arrivals_are_seeded_sorted_and_within_the_span(pattern):
    a = arrivals(100, pattern, 120.0, seed=3)
    assert a == arrivals(100, pattern, 120.0, seed=3)
    assert a == sorted(a) and len(a) == 100
    assert all(0.0 <= t <= 120.0 for t in a)


def test_the_patterns_differ_as_documented():
    assert set(arrivals(40, "once", 120.0, seed=1)) == {0.0}
    bell = arrivals(100, "bell", 120.0, seed=1)
    uniform = arrivals(100, "uniform", 120.0, seed=1)
    assert sum(t <= 30 for t in bell) >= 80  # most of the class in the first 30 s
    assert sum(t <= 30 for t in uniform) < 50
    assert arrivals(100, "uniform", 120.0, seed=2) != uniform
    with pytest.raises(ValueError, match="once, uniform, bell"):
        arrivals(3, "poisson", 10.0, seed=1)


def test_progress_events_are_read_across_chunk_boundaries():
    stream = (
        b'data: {"progress": 10, "message": "Pulling"}\n\n'
        b'data: {"progress": 100, "ready": true, "url": "/user/a/"}\n\n'
    )
    seen, rest = [], b""
    for i in range(0, len(stream), 7):  # as the network delivers it
        events, rest = parse_events(rest + stream[i : i + 7])
        seen += events
    assert seen == [
        {"progress": 10, "message": "Pulling"},
        {"progress": 100, "ready": True, "url": "/user/a/"},
    ]
    assert rest == b""
