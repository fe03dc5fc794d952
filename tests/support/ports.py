"""Ports for the test hubs, proxies and services, which are told a port first and
bind it later.

``jupyterhub.utils.random_port`` asks the kernel for a free port and lets it go:
that port is in the kernel's ephemeral range, where every outgoing connection
of every process on the host (a browser, a hub's API client, the engine) takes
its source port. With several pytest processes beside each other (the suite,
the lane, the version matrix), one of those connections could hold the port
when the hub's dashboard came to bind it (EADDRINUSE, seen once in a full run).

``free_port`` picks below the ephemeral range, where no outgoing connection
lands, and reserves the port for this process in a shared folder, so that two
test processes never hand out the same one. A reservation whose process has
ended is taken over. Reservations are not removed while the process runs: a
port stays with the test process that chose it.
"""

from __future__ import annotations

import errno
import fcntl
import os
import random
import socket
from pathlib import Path

RESERVED = Path(os.environ.get("JHUB_KIT_TEST_PORTS", "/var/tmp/jhub-kit-test-ports"))


def _ephemeral() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def _candidates(rng: random.Random) -> list[int]:
    """Ports from 20000 up to the ephemeral range's start (or above its end when
    the range starts lower), shuffled."""
    low, high = _ephemeral()
    ports = list(range(20000, low)) if low > 21000 else list(range(high + 1, 65536))
    rng.shuffle(ports)
    return ports


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reserve(port: int) -> bool:
    """Take ``RESERVED/port`` for this process, under one lock shared by all test
    processes: a port nobody holds, or one whose process has ended."""
    RESERVED.mkdir(parents=True, exist_ok=True)
    RESERVED.chmod(0o1777)
    path = RESERVED / str(port)
    with open(RESERVED / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            owner = int(path.read_text() or 0)
        except FileNotFoundError:
            owner = 0
        except (OSError, ValueError):
            return False
        if owner and _alive(owner):
            return False
        path.write_text(str(os.getpid()))
        return True


def _bindable(port: int) -> bool:
    for family, address in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        try:
            with socket.socket(family, socket.SOCK_STREAM) as s:
                s.bind((address, port))
        except OSError as e:
            if family == socket.AF_INET6 and e.errno == errno.EADDRNOTAVAIL:
                continue  # no IPv6 here
            return False
    return True


_rng = random.Random()
_pool: list[int] = []


def free_port() -> int:
    """A TCP port nothing listens on, outside the ephemeral range, reserved for
    this test process."""
    global _pool
    for _ in range(2):
        if not _pool:
            _pool = _candidates(_rng)
        while _pool:
            port = _pool.pop()
            if _bindable(port) and _reserve(port):
                return port
    raise RuntimeError("no free port outside the ephemeral range")
