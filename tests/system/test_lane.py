"""The lane's test files (tests/support/lane_runner.py: the swarm's, five browser
files), run beside the suite in a pytest process of their own: here each file's
tests are read from the lane's JUnit report, every failure with its message.
Where the lane's files ran in this process (run alone, or without another tier),
there is nothing to read."""

from __future__ import annotations

import lane_runner
import pytest

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.root]


def test_the_lanes_files_passed(test_image, chp):
    if not lane_runner.started():
        pytest.skip(f"{', '.join(lane_runner.FILES)} ran in this process")
    lane = lane_runner.wait()
    cases = lane_runner.cases(lane)
    print(f"the lane: {len(cases)} tests in {lane.seconds:.0f} s (log: {lane.log})")
    for case in sorted(cases, key=lambda c: -c.seconds):
        print(f"{case.seconds:8.1f} s  {case.outcome:8} {case.name}")
    assert not lane.error, lane.error
    failed = [c for c in cases if c.outcome == "failed"]
    assert not failed, "\n\n".join(f"{c.name}: {c.message[-3000:]}" for c in failed)
    assert cases and lane.code == 0, f"the lane's pytest exited {lane.code}; see {lane.log}"
