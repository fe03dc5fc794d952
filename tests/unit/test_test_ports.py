"""The suite's own port picker (tests/support/ports.py): below the ephemeral
range, never handed out twice while its process lives, taken over after."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import ports
import pytest

pytestmark = [pytest.mark.unit]


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setattr(ports, "RESERVED", tmp_path / "ports")
    monkeypatch.setattr(ports, "_pool", [])
    return tmp_path / "ports"


def test_ports_are_below_the_ephemeral_range_distinct_and_reserved(folder):
    low, _ = ports._ephemeral()
    got = [ports.free_port() for _ in range(20)]
    assert len(set(got)) == 20
    assert all(20000 <= p < low for p in got), got
    for p in got:
        assert (folder / str(p)).read_text() == str(os.getpid())


def test_a_port_another_live_process_holds_is_skipped_and_a_dead_ones_taken(folder, monkeypatch):
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        folder.mkdir()
        (folder / "20001").write_text(str(other.pid))
        monkeypatch.setattr(ports, "_pool", [20002, 20001])
        assert ports.free_port() == 20002  # 20001 is the live process's
    finally:
        other.kill()
        other.wait()
    monkeypatch.setattr(ports, "_pool", [20001])
    assert ports.free_port() == 20001  # its process ended


def test_a_port_something_listens_on_is_skipped(folder, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        taken = s.getsockname()[1]
        monkeypatch.setattr(ports, "_pool", [20003, taken])
        assert ports.free_port() == 20003
