"""The version matrix (noxfile.py) beside the suite: started in the background when
the suite collects tests/system/test_matrix.py, so its other Pythons and JupyterHub 5
run while the suite's own tests do (the machine's two cores are mostly waiting
on containers); tests/system/test_matrix.py waits for it and reads each session's
result. Its containers, networks and files carry a prefix of their own, so the
suite's clean-ups never touch them. Stopped at the end of the suite if it still
runs; its output goes to a log file, never to the terminal."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOGS = Path(os.environ.get("JHUB_KIT_LOGS", "/var/log/jhub-kit"))
LOG = LOGS / "nox.log"
PREFIX = "jhubkit-nox"
#: the main suite runs on 3.11 (the test command's virtualenv): the others here
SESSIONS = [
    "pure-3.10",
    "pure-3.12",
    "pure-3.13",
    "spawn-3.10",
    "spawn-3.13",
    "jupyterhub5",
    "lowest",
]

_proc: subprocess.Popen | None = None
_started = 0.0
#: when the run was first seen ended (by wait_for_the_end's polling, else wait): the
#: run's own time, not the time until the suite asked for it
_ended = 0.0


def nox() -> str | None:
    return shutil.which("nox", path=str(Path(sys.executable).parent)) or shutil.which("nox")


def start() -> None:
    """Start ``nox -s SESSIONS`` in the background (once)."""
    global _proc, _started
    if _proc is not None or nox() is None:
        return
    LOGS.mkdir(parents=True, exist_ok=True)
    log = open(LOG, "wb")  # noqa: SIM115 - the background run's own file
    _started = time.monotonic()
    _proc = subprocess.Popen(
        [nox(), "-s", *SESSIONS],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        # its engine tests hold the engine lock shared: a restart of the engine by the
        # suite (tests/integration/test_engine_faults.py) waits for them (conftest.py)
        env={**os.environ, "JHUB_KIT_TEST_PREFIX": PREFIX, "JHUB_KIT_ENGINE_SHARED": "1"},
    )


_last: tuple[int | None, dict[str, str], float] = (None, {}, 0.0)


def wait(timeout: float = 3600) -> tuple[int | None, dict[str, str], float]:
    """The run's exit code, each session's result, and its seconds (once finished)."""
    global _last
    if _proc is None:
        return _last
    try:
        code = _proc.wait(timeout)
    except subprocess.TimeoutExpired:
        stop()
        code = None
    if not _last[1]:
        text = LOG.read_text(errors="replace") if LOG.exists() else ""
        found = re.findall(r"nox > Session (\S+) (was successful|failed)", text)
        _last = (code, dict(found), (_ended or time.monotonic()) - _started)
    return _last


def excerpt(session: str, lines: int = 60) -> str:
    """The failing lines and the end of one session's output in the log, for the
    test's message: CI shows the test's output, and the next run overwrites the log."""
    text = LOG.read_text(errors="replace") if LOG.exists() else ""
    start = text.find(f"nox > Running session {session}\n")
    if start < 0:
        return f"(no output of {session} in {LOG})"
    end = text.find("nox > Running session ", start + 1)
    part = text[start : end if end > 0 else len(text)].splitlines()
    failed = [line for line in part if line.startswith(("FAILED", "ERROR"))]
    return "\n".join([*failed, "...", *part[-lines:]])


def wait_for_the_end() -> None:
    """Return once the background run has ended (at once if none was started); for
    another thread: it only polls, the run's result is still :func:`wait`'s."""
    global _ended
    while _proc is not None and _proc.poll() is None:
        time.sleep(2)
    if _proc is not None and not _ended:
        _ended = time.monotonic()


def last() -> tuple[int | None, dict[str, str], float]:
    """What :func:`wait` found, if it was called."""
    return _last


def stop() -> None:
    """End the background run if it still runs (the suite ended first)."""
    global _proc
    if _proc is not None and _proc.poll() is None:
        end_group(_proc)


def end_group(proc: subprocess.Popen) -> None:
    """End a background run started in a session of its own: SIGTERM to its process
    group, SIGKILL after 60 s (the lane's runs end the same way)."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
