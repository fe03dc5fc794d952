"""A real ``jupyterhub`` with the class dashboard, started as a shell starts
``jupyterhub &`` (SIGINT ignored): Ctrl-C to its process group stops everything
within 5 s, with no traceback. And the dashboard's client pages through a hub
whose ``api_page_max_limit`` is 50."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from conftest import TEST_PREFIX
from hubproc import Hub
from ports import free_port

from jhub_kit.hubapi import HubAPI

pytestmark = [pytest.mark.hub]

CONFIG = """\
from jhub_kit.config import add_dashboard
c.JupyterHub.api_page_max_limit = 50
add_dashboard(c, port={board_port}, settings="{{tmp}}/class-dashboard.json", user="")
"""
USERS = [f"student{i:03d}" for i in range(120)]


def processes_of(hub: Hub) -> dict[int, str]:
    """This host's processes (not a container's) whose environment names the hub's
    API: its managed services. pid -> command line."""
    marker = f"JUPYTERHUB_API_URL=http://127.0.0.1:{hub.hub_port}/".encode()
    ours = os.readlink("/proc/self/ns/mnt")
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink(f"/proc/{pid}/ns/mnt") != ours:
                continue
            if marker in Path(f"/proc/{pid}/environ").read_bytes() and int(pid) != os.getpid():
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                found[int(pid)] = cmdline.replace(b"\0", b" ").decode()
        except OSError:
            continue
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status").read_text() if Path(f"/proc/{pid}").exists() else ""
    return "State:\tZ" not in status


def wait_listening(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            assert time.monotonic() < deadline, f"nothing listens on port {port}"
            time.sleep(0.2)


def test_background_hub_stops_on_sigint_within_5s_and_pages_users(tmp_path, chp):
    board_port = free_port()
    hub = Hub(tmp_path, "unused", f"{TEST_PREFIX}-stop", CONFIG.format(board_port=board_port))
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # what `jupyterhub &` inherits
    try:
        hub.start()
    finally:
        signal.signal(signal.SIGINT, previous)
    assert hub.proc is not None
    try:
        wait_listening(board_port)
        services = processes_of(hub)
        assert any("jhub_kit.views.dashboard" in c for c in services.values()), services
        # 120 users, pages of at most 50: the dashboard's client lists them all
        r = hub.s.post(hub.api + "/users", json={"usernames": USERS}, timeout=60)
        assert r.status_code == 201, r.text
        plain = hub.s.get(hub.api + "/users", params={"limit": 200}, timeout=30).json()
        assert len(plain) == 50  # the hub's cap: one page
        listed = HubAPI(f"http://127.0.0.1:{hub.port}", hub.token).users()
        assert sorted(u["name"] for u in listed) == USERS

        # Ctrl-C to the hub's process group (the services have sessions of their own)
        proxy_pid = int((tmp_path / "proxy.pid").read_text())
        sent = time.monotonic()
        os.killpg(hub.proc.pid, signal.SIGINT)
        try:
            hub.proc.wait(5)
        except subprocess.TimeoutExpired:
            pytest.fail("the hub was still running 5 s after SIGINT")
        took = time.monotonic() - sent
        log = (tmp_path / "hub.log").read_text()
        assert took < 5, log[-3000:]
        deadline = time.monotonic() + 1
        while (left := [p for p in services if alive(p)]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not left, {p: services[p] for p in left}
        assert not processes_of(hub)
        assert not alive(proxy_pid)
        assert "proto" not in log and "Traceback" not in log, log[-3000:]
        print(f"the hub stopped {took:.2f} s after SIGINT")
    finally:
        hub.stop()
