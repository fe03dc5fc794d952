"""The attack suite's parts, shared by every layout it runs on (a bridge network, the
hub in a Compose container, a swarm node): the targets a student must not reach, the
in-container attempts, and how each outcome reads in docs/reference/security.md.

Targets made here: a "metadata" host (a network namespace holding 169.254.169.254)
and a private-range host (10.213.7.2 in another namespace), both on veths of the
host's, each serving HTTP on port 80; and a TCP service of the host's own. The
in-container attempts: a setuid-root binary planted in the server (a copy of
python3, mode 4755, put there by the test through ``docker exec -u 0``) run by the
student, and what even root inside the container must not do (mount a filesystem,
write to /proc/sys, change a file's owner, open a raw socket)."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from conftest import run
from hubutil import PROBE

HOSTS = {  # netns name, host-side veth, host address, namespace address
    "meta": ("jhk-meta", "jhkm0", "169.254.169.1/24", "169.254.169.254"),
    "priv": ("jhk-priv", "jhkp0", "10.213.7.1/24", "10.213.7.2"),
}


@contextlib.contextmanager
def namespace_hosts(logs: Path) -> Iterator[dict[str, str]]:
    """Two hosts in network namespaces, each serving HTTP on port 80, routed from the
    host; yields their addresses (``meta``, ``priv``)."""
    procs = []
    try:
        for ns, veth, host_addr, ns_addr in HOSTS.values():
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
            subprocess.run(["ip", "link", "del", veth], capture_output=True)
            run("ip", "netns", "add", ns)
            run("ip", "link", "add", veth, "type", "veth", "peer", "name", veth[:-1] + "1")
            run("ip", "link", "set", veth[:-1] + "1", "netns", ns)
            run("ip", "addr", "add", host_addr, "dev", veth)
            run("ip", "link", "set", veth, "up")
            nsx = ["nsenter", f"--net=/var/run/netns/{ns}"]
            run(*nsx, "ip", "addr", "add", ns_addr + "/24", "dev", veth[:-1] + "1")
            run(*nsx, "ip", "link", "set", veth[:-1] + "1", "up")
            run(*nsx, "ip", "link", "set", "lo", "up")
            log = open(logs / f"{ns}.log", "wb")  # noqa: SIM115 - closed with the process
            proc = subprocess.Popen(
                [*nsx, "python3", "-m", "http.server", "--bind", ns_addr, "80"],
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
            )
            procs.append((proc, log))
        time.sleep(1)
        yield {k: v[3] for k, v in HOSTS.items()}
    finally:
        for proc, log in procs:
            proc.terminate()
            proc.wait(10)
            log.close()
        for ns, veth, _, _ in HOSTS.values():
            subprocess.run(["ip", "link", "del", veth], capture_output=True)
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


@contextlib.contextmanager
def routed_from(namespace: str, gateway: str, subnet: str) -> Iterator[None]:
    """The namespace hosts reached from another network namespace (a swarm node's)
    through ``gateway`` on the host, as a cloud's network routes a node to its
    metadata address: a route there, forwarding and masquerading on the host."""
    rules = []
    for _, veth, _, ns_addr in HOSTS.values():
        prefix = ns_addr.rsplit(".", 1)[0] + ".0/24"
        run("ip", "-n", namespace, "route", "replace", prefix, "via", gateway)
        rules += [
            ("filter", ["FORWARD", "-s", subnet, "-o", veth, "-j", "ACCEPT"]),
            ("filter", ["FORWARD", "-d", subnet, "-i", veth, "-j", "ACCEPT"]),
            ("nat", ["POSTROUTING", "-s", subnet, "-o", veth, "-j", "MASQUERADE"]),
        ]
    for table, rule in rules:
        run("iptables", "-t", table, "-I", *rule)
    try:
        yield
    finally:
        for table, rule in rules:
            subprocess.run(["iptables", "-t", table, "-D", *rule], capture_output=True)
        for _, _, _, ns_addr in HOSTS.values():
            prefix = ns_addr.rsplit(".", 1)[0] + ".0/24"
            subprocess.run(["ip", "-n", namespace, "route", "del", prefix], capture_output=True)


@contextlib.contextmanager
def host_service(address: str) -> Iterator[int]:
    """A TCP service of the host's, listening on ``address``; yields its port."""
    sock = socket.socket()
    sock.bind((address, 0))
    sock.listen(5)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


#: run ``argv`` in the student's server as ``user``: (exit code, output)
Exec = Callable[[list[str], str], tuple[int, str]]


def docker_exec(container) -> Exec:
    """:data:`Exec` through docker-py, for a container of this engine."""

    def exec_(argv: list[str], user: str) -> tuple[int, str]:
        code, out = container.exec_run(argv, user=user)
        return code, out.decode(errors="replace")

    return exec_


def probe(exec_: Exec, targets: dict[str, tuple[str, int]]) -> dict[str, str]:
    """Open TCP connections from inside the server, as the student (uid 1000):
    ``open``, ``refused``, ``timed out`` or ``error ERRNO`` per target."""
    code, out = exec_(["python3", "-c", PROBE, json.dumps(targets)], "1000")
    assert code == 0, out
    return json.loads(out.strip().splitlines()[-1])


PLANT = 'cp "$(readlink -f "$(command -v python3)")" /tmp/rootpy && chmod 4755 /tmp/rootpy'
EUID = "import os; os.setuid(0); print('uid', os.getuid(), 'euid', os.geteuid())"

#: row -> (user, argv, what success is called)
ATTEMPTS: dict[str, tuple[str, list[str], str]] = {
    "setuid(0) through a setuid-root binary": ("1000", ["/tmp/rootpy", "-c", EUID], "root"),
    "mount a filesystem (as root in the server)": (
        "0",
        ["sh", "-c", "mkdir -p /tmp/m && mount -t tmpfs none /tmp/m"],
        "mounted",
    ),
    "write to /proc/sys (as root in the server)": (
        "0",
        ["sh", "-c", "echo 2 > /proc/sys/vm/overcommit_memory"],
        "written",
    ),
    "change a file's owner (as root in the server)": (
        "0",
        ["sh", "-c", "touch /tmp/owned && chown 1000:100 /tmp/owned"],
        "changed",
    ),
    "open a raw socket (as root in the server)": (
        "0",
        ["python3", "-c", "import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, 1)"],
        "opened",
    ),
}

#: words of a refusal, by errno name, in what the attempts print
_REFUSED = (
    "PermissionError",
    "Operation not permitted",
    "must be superuser",
    "permission denied",
    "Permission denied",
    "Read-only file system",
)


def in_container(exec_: Exec) -> dict[str, str]:
    """Each of :data:`ATTEMPTS` in the server: ``refused`` or what it achieved."""
    code, out = exec_(["sh", "-c", PLANT], "0")
    assert code == 0, f"could not plant the setuid binary: {out}"
    results = {}
    for row, (user, argv, success) in ATTEMPTS.items():
        code, out = exec_(argv, user)
        if code == 0:
            results[row] = success
        elif any(words in out for words in _REFUSED):
            results[row] = "refused"
        else:
            raise AssertionError(f"{row}: neither done nor refused: {code} {out}")
    return results


def table(results: dict[str, dict[str, str]]) -> str:
    """The rows as the suite prints them, one column per layout."""
    layouts = list(results)
    rows = list(dict.fromkeys(r for col in results.values() for r in col))
    width = max(len(r) for r in rows) + 2
    lines = [
        "attack from inside a student's server".ljust(width)
        + "".join(f"{name:<24}" for name in layouts)
    ]
    for row in rows:
        lines.append(
            row.ljust(width) + "".join(f"{results[name].get(row, '-'):<24}" for name in layouts)
        )
    return "\n".join(lines)


def record(layout: str, results: dict[str, str]) -> None:
    """Keep the layout's measured rows for the docs' table (/tmp/jhub-kit-attacks/)."""
    out = Path("/tmp/jhub-kit-attacks")
    out.mkdir(exist_ok=True)
    (out / f"{layout}.json").write_text(json.dumps(results, indent=1))
