"""The version matrix in the suite: noxfile.py's sessions, each in a virtualenv of
its own Python (pyenv's 3.10 to 3.13), run by the test command like any test."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REQUIRE_SERVICES

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.root, pytest.mark.matrix]

ROOT = Path(__file__).resolve().parent.parent
LOGS = Path(os.environ.get("JHUB_KIT_LOGS", "/var/log/jhub-kit"))


def _nox() -> str:
    path = shutil.which("nox", path=str(Path(sys.executable).parent)) or shutil.which("nox")
    if not path:
        pytest.fail("nox is not installed; install the test extra: pip install -e '.[test]'")
    return path


#: the main suite runs on 3.11 (the test command's virtualenv): the others here
SESSIONS = {"pure": ["pure-3.10", "pure-3.12", "pure-3.13"], "spawn": ["spawn"]}


@pytest.mark.parametrize("session", list(SESSIONS))
def test_nox_session(session, test_image, chp):
    missing = [v for v in ("3.10", "3.11", "3.12", "3.13") if not shutil.which(f"python{v}")]
    if missing:
        message = f"no python{' python'.join(missing)} on PATH (scripts/lib.sh adds pyenv's)"
        if REQUIRE_SERVICES:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / f"nox-{session}.log"
    with open(log, "w") as out:
        r = subprocess.run(
            [_nox(), "-s", *SESSIONS[session]],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "JHUB_KIT_TEST_IMAGE": test_image},
            timeout=1800,
            check=False,
        )
    text = log.read_text()
    results = re.findall(r"nox > (Session \S+ (?:was successful|failed)[^\n]*)", text)
    print("\n".join(results))
    assert r.returncode == 0, f"{session}: {results or text[-3000:]} (log: {log})"
