"""The class dashboard process stops at once on SIGINT and on SIGTERM, with SIGINT
inherited as ignored (what a shell does to ``jupyterhub &``), even while its
request to the hub hangs. A real process, started as the hub starts it, against
a "hub" that accepts connections and never answers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from ports import free_port


def ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.fixture
def silent_hub():
    """A listening socket nobody answers: the dashboard's GET /users hangs."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield s.getsockname()[1]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_stops_within_two_seconds(silent_hub, sig, tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "JUPYTERHUB_API_URL": f"http://127.0.0.1:{silent_hub}/hub/api",
        "JUPYTERHUB_API_TOKEN": "t" * 32,
        "JUPYTERHUB_SERVICE_URL": f"http://127.0.0.1:{port}",
        "JUPYTERHUB_SERVICE_PREFIX": "/services/class-dashboard/",
        "JHUB_KIT_DASHBOARD_USER": "",
        "JHUB_KIT_DASHBOARD_SETTINGS": "",
    }
    log = open(tmp_path / "dashboard.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "jhub_kit.views.dashboard", "--interval", "1"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        preexec_fn=ignore_sigint,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                break
            except OSError:
                assert proc.poll() is None, (tmp_path / "dashboard.log").read_text()
                assert time.monotonic() < deadline, "the dashboard did not listen"
                time.sleep(0.1)
        time.sleep(0.5)  # its first GET /users is in flight, and hangs
        sent = time.monotonic()
        proc.send_signal(sig)
        try:
            code = proc.wait(2)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running 2 s after {sig.name}")
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    output = (tmp_path / "dashboard.log").read_text()
    assert code == 0, output  # a clean stop, not killed by the signal
    assert f"Received {sig.name}, stopping" in output and "Class dashboard stopped" in output
    assert "Traceback" not in output, output
    assert took < 2
