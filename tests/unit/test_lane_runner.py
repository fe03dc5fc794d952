"""The lane (tests/support/lane_runner.py): which runs hand it their files, and its
JUnit report read as pytest writes it."""

from __future__ import annotations

import lane_runner


def test_the_readers_outcomes(tmp_path):
    """The report is read as pytest writes it: passed, failed with its message, skipped."""
    junit = tmp_path / "lane.xml"
    junit.write_text(
        '<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">'
        '<testcase classname="tests.system.test_swarm" name="test_a" time="1.5"/>'
        '<testcase classname="tests.system.test_swarm" name="test_b" time="2">'
        '<failure message="assert 1 == 2">trace</failure></testcase>'
        '<testcase classname="tests.system.test_swarm" name="test_c" time="0">'
        '<skipped message="no swarm"/></testcase>'
        "</testsuite></testsuites>"
    )
    lane = lane_runner.Lane(log=tmp_path / "lane.log", junit=junit)
    got = [(c.name, c.outcome, c.seconds) for c in lane_runner.cases(lane)]
    assert got == [
        ("test_swarm::test_a", "passed", 1.5),
        ("test_swarm::test_b", "failed", 2.0),
        ("test_swarm::test_c", "skipped", 0),
    ]
    assert "assert 1 == 2" in lane_runner.cases(lane)[1].message
    assert lane_runner.wanted(["tests/system/test_swarm.py::t", lane_runner.REPORTER + "::x", "o"])
    assert not lane_runner.wanted(["tests/system/test_swarm.py::t", lane_runner.REPORTER + "::x"])
    assert not lane_runner.wanted(["tests/system/test_swarm.py::t", "other::t"])
