"""Slow test files that keep to themselves, run beside the suite (the "lane").

The swarm's tests (tests/system/test_swarm.py) run on engines of their own in
network namespaces and mostly wait: for nodes to drain, to be lost, to come
back. Five browser files follow them: a real hub each, Chromium, and mostly
waiting for servers and JupyterLab (test_browser_idle.py, for the idle culler's
clock: two and a half minutes). In the whole suite these files are taken
out of the main run and run in a pytest process of their own once the version
matrix (matrix_runner) has finished, while the main run goes on (in the run at
5537b35 the machine was 40-75 % busy for most of the twelve minutes after the
matrix and the swarm's tests ended: the main run alone, waiting on containers);
tests/system/test_lane.py waits for that process and reads each test's outcome
from its JUnit report. Run alone (``pytest tests/system/test_swarm.py``), they
run in the main process as always.

The lane's containers, networks and files carry a prefix of their own
(``jhubkit-lane``); its engine tests hold the engine lock shared, as the
matrix's do, so a restart of the engine by the suite waits for them
(tests/conftest.py). Its output goes to a log file, never to the terminal.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from matrix_runner import end_group

ROOT = Path(__file__).resolve().parents[2]
LOGS = Path(os.environ.get("JHUB_KIT_LOGS", "/var/log/jhub-kit"))
PREFIX = "jhubkit-lane"
#: the files the lane runs, and the test that reports them in the main run
FILES = (
    "tests/system/test_swarm.py",
    "tests/system/test_browser_course.py",
    "tests/system/test_browser_teach.py",
    "tests/system/test_browser_idle.py",
    "tests/system/test_browser_home_full.py",
    "tests/system/test_browser_lab_notices.py",
    "tests/system/test_docs_browser.py",
)
REPORTER = "tests/system/test_lane.py"
TIMEOUT = 3600  # s, the whole lane


@dataclass
class Case:
    """One test of the lane, as its JUnit report has it."""

    name: str
    outcome: str  # passed | failed | skipped
    seconds: float
    message: str = ""


@dataclass
class Lane:
    log: Path
    junit: Path
    code: int | None = None
    seconds: float = 0.0
    error: str = ""
    done: threading.Event = field(default_factory=threading.Event)
    proc: subprocess.Popen | None = None
    stopped: bool = False


_lane: Lane | None = None
_lock = threading.Lock()


def wanted(nodeids: list[str]) -> bool:
    """Whether this run takes the lane's files out: they are collected, the test
    that reports them is too, and so is something else (the whole suite, a tier)."""
    files = [n.split("::", 1)[0] for n in nodeids]
    return (
        any(f in FILES for f in files)
        and REPORTER in files
        and any(f not in FILES and f != REPORTER for f in files)
    )


def start(wait_first: Callable[[], None] | None = None) -> Lane:
    """Start the lane (once), after ``wait_first()`` returns (the version matrix's
    end: both at once would crowd the machine's two cores)."""
    global _lane
    with _lock:
        if _lane is not None:
            return _lane
        LOGS.mkdir(parents=True, exist_ok=True)
        _lane = Lane(log=LOGS / "lane.log", junit=LOGS / "lane.xml")
    lane = _lane
    lane.junit.unlink(missing_ok=True)
    threading.Thread(target=_run, args=(lane, wait_first), name="test-lane", daemon=True).start()
    return lane


def _run(lane: Lane, wait_first: Callable[[], None] | None) -> None:
    try:
        if wait_first is not None:
            wait_first()
        started = time.monotonic()
        with open(lane.log, "wb") as log, _lock:
            if lane.stopped:
                return
            lane.proc = subprocess.Popen(
                [
                    *(sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"),
                    *(f"--junitxml={lane.junit}", *FILES),
                ],
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, "JHUB_KIT_TEST_PREFIX": PREFIX, "JHUB_KIT_ENGINE_SHARED": "1"},
            )
        try:
            lane.code = lane.proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            end_group(lane.proc)
            lane.error = f"the lane did not finish in {TIMEOUT} s"
        lane.seconds = time.monotonic() - started
    except Exception as e:  # reported by the test that waits for it
        lane.error = f"the lane failed to run: {e!r}"
    finally:
        lane.done.set()


def started() -> bool:
    return _lane is not None


def wait(timeout: float = TIMEOUT) -> Lane:
    """The lane, once it has finished (or failed to)."""
    assert _lane is not None, "the lane was not started"
    if not _lane.done.wait(timeout):
        stop()
        _lane.error = _lane.error or f"the lane did not finish in {timeout} s"
    return _lane


def cases(lane: Lane) -> list[Case]:
    """Each test's outcome, from the lane's JUnit report."""
    if not lane.junit.is_file():
        return []
    out = []
    for case in ET.parse(lane.junit).getroot().iter("testcase"):
        outcome, message = "passed", ""
        for kind in ("failure", "error", "skipped"):
            el = case.find(kind)
            if el is not None:
                outcome = "skipped" if kind == "skipped" else "failed"
                message = (el.get("message") or "") + "\n" + (el.text or "")
                break
        module = case.get("classname", "").rpartition(".")[2]  # the file, without .py
        name = f"{module}::{case.get('name', '?')}" if module else case.get("name", "?")
        out.append(Case(name, outcome, float(case.get("time", 0)), message))
    return out


def stop() -> None:
    """End the lane if it still runs (the suite ended first)."""
    if _lane is None:
        return
    with _lock:
        _lane.stopped = True
        proc = _lane.proc
    if proc is not None and proc.poll() is None:
        end_group(proc)
