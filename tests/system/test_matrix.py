"""The version matrix in the suite: noxfile.py's sessions, each in a virtualenv of
its own Python (pyenv's 3.10 to 3.13) or of JupyterHub 5, or of the lowest
versions the kit claims. They run in the background from the suite's start
(tests/support/matrix_runner.py); here each session's result is read."""

from __future__ import annotations

import matrix_runner
import pytest
from conftest import REQUIRE_SERVICES

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.root, pytest.mark.matrix]


@pytest.mark.parametrize("session", matrix_runner.SESSIONS)
def test_nox_session(session, test_image, chp):
    if matrix_runner.nox() is None:
        message = "nox is not installed; install the test extra: pip install -e '.[test]'"
        if REQUIRE_SERVICES:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    code, results, seconds = matrix_runner.wait()
    print(f"version matrix in the background: {results} ({seconds:.0f} s)")
    assert session in results, (
        f"{session} did not run (nox exit {code}; log: {matrix_runner.LOG}): {results}"
    )
    assert results[session] == "was successful", (
        f"{session} failed; its output is in {matrix_runner.LOG}:\n"
        + matrix_runner.excerpt(session)
    )
