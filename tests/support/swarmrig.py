"""A real Docker Swarm on one machine: engines in network namespaces.

Each node is a ``dockerd`` of its own (data root, exec root, socket) started with
``nsenter --net`` in a network namespace (``ip netns exec`` remounts /sys and
dockerd then fails), joined to a bridge in the root namespace at 10.213.0.1,
where the hub runs. The nodes share the machine's filesystem. A registry
(Debian's ``docker-registry``) listens on the bridge at 10.213.0.1:5055: the
test image is loaded into the manager, pushed there, and pulled by the workers
before the tests, as an admin does before class (data roots and the registry's
storage are kept under /var/lib/jhub-kit-swarm, so reruns pull nothing).
Services use :attr:`Swarm.image_ref`, the registry's name for the image. Nodes
have no default route: nothing else is reachable.

Everything is logged under /var/log/jhub-kit/swarm-NODE.log and torn down by
:meth:`Swarm.stop`, which removes only what :meth:`Swarm.start` made.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

BRIDGE = "jhk-swbr0"
SUBNET = "10.213.0"
HUB_ADDRESS = f"{SUBNET}.1"
STATE = Path(os.environ.get("JHUB_KIT_SWARM_STATE", "/var/lib/jhub-kit-swarm"))
RUN = Path("/run/jhub-kit-swarm")
REGISTRY = f"{HUB_ADDRESS}:5055"
REGISTRY_CONFIG = """\
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {root}
http:
  addr: {addr}
"""
LOGS = Path(os.environ.get("JHUB_KIT_LOGS", "/var/log/jhub-kit"))


def sh(*argv: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=check, capture_output=True, text=True, **kw)


@dataclass
class Node:
    name: str
    address: str
    proc: subprocess.Popen | None = None

    @property
    def sock(self) -> str:
        return f"unix://{RUN}/{self.name}.sock"

    def docker(self, *argv: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
        return sh("docker", "-H", self.sock, *argv, check=check, **kw)

    @property
    def node_id(self) -> str:
        """The node's swarm ID (nodes share the machine's hostname: use this to name them)."""
        return self.docker("info", "--format", "{{.Swarm.NodeID}}").stdout.strip()

    def up(self) -> bool:
        return self.docker("info", check=False, timeout=10).returncode == 0


@dataclass
class Swarm:
    size: int = 1
    image: str = ""
    nodes: list[Node] = field(default_factory=list)
    _made: list[list[str]] = field(default_factory=list)  # undo commands, newest last
    _ids: dict[str, str] = field(default_factory=dict)
    _registry: subprocess.Popen | None = None

    @property
    def image_ref(self) -> str:
        """The test image as the nodes pull it: from the rig's registry."""
        return f"{REGISTRY}/{self.image}"

    @property
    def manager(self) -> Node:
        return self.nodes[0]

    def start(self) -> Swarm:
        RUN.mkdir(parents=True, exist_ok=True)
        LOGS.mkdir(parents=True, exist_ok=True)
        if sh("ip", "link", "show", BRIDGE, check=False).returncode != 0:
            sh("ip", "link", "add", BRIDGE, "type", "bridge")
            self._made.append(["ip", "link", "del", BRIDGE])
            sh("ip", "addr", "add", f"{HUB_ADDRESS}/24", "dev", BRIDGE)
            sh("ip", "link", "set", BRIDGE, "up")
        # the host engine sets FORWARD's policy to DROP: node to node across the bridge
        rule = ["FORWARD", "-i", BRIDGE, "-o", BRIDGE, "-j", "ACCEPT"]
        if sh("iptables", "-C", *rule, check=False).returncode != 0:
            sh("iptables", "-I", *rule)
            self._made.append(["iptables", "-D", *rule])
        self._start_registry()
        for i in range(self.size):
            self.nodes.append(self._start_node(i))
        self._form()
        self._distribute_image()
        return self

    def _start_registry(self) -> None:
        if registry_up():
            return
        root = STATE / "registry"
        root.mkdir(parents=True, exist_ok=True)
        config = RUN / "registry.yml"
        config.write_text(REGISTRY_CONFIG.format(root=root, addr=REGISTRY))
        log = open(LOGS / "swarm-registry.log", "ab")  # noqa: SIM115 (the daemon keeps it)
        self._registry = subprocess.Popen(
            ["docker-registry", "serve", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while not registry_up():
            if self._registry.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"docker-registry did not start: see {log.name}")
            time.sleep(0.2)

    def _distribute_image(self) -> None:
        """Push the test image to the registry from the manager; workers pull it."""
        if not self.image:
            return
        self.manager.docker("tag", self.image, self.image_ref)
        self.manager.docker("push", self.image_ref, timeout=600)
        for node in self.nodes[1:]:
            node.docker("pull", self.image_ref, timeout=600)

    def _start_node(self, i: int) -> Node:
        node = Node(f"jhk-sw{i + 1}", f"{SUBNET}.{i + 2}")
        ns = node.name
        if sh("ip", "netns", "pids", ns, check=False).returncode != 0:
            sh("ip", "netns", "add", ns)
            self._made.append(["ip", "netns", "del", ns])
            host_end, node_end = f"{ns}h", f"{ns}n"
            sh("ip", "link", "add", host_end, "type", "veth", "peer", "name", node_end)
            self._made.append(["ip", "link", "del", host_end])
            sh("ip", "link", "set", node_end, "netns", ns)
            sh("ip", "link", "set", host_end, "master", BRIDGE, "up")
            sh("ip", "-n", ns, "addr", "add", f"{node.address}/24", "dev", node_end)
            sh("ip", "-n", ns, "link", "set", node_end, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        self._run_engine(node)
        if i == 0:
            self._load_image(node)  # the manager pushes it to the registry
        return node

    def _run_engine(self, node: Node) -> None:
        ns = node.name
        if not node.up():
            data = STATE / ns
            data.mkdir(parents=True, exist_ok=True)
            log = open(LOGS / f"swarm-{ns}.log", "ab")  # noqa: SIM115 (the daemon keeps it)
            node.proc = subprocess.Popen(
                [
                    *("nsenter", f"--net=/var/run/netns/{ns}", "dockerd"),
                    *("--data-root", str(data), "--exec-root", str(RUN / f"{ns}-exec")),
                    *("-H", node.sock, "--pidfile", str(RUN / f"{ns}.pid")),
                    *("--bridge", "none", "--insecure-registry", REGISTRY),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
            deadline = time.monotonic() + 60
            while not node.up():
                if node.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"dockerd of {ns} did not start: see {log.name}")
                time.sleep(0.5)

    def kill(self, node: Node) -> None:
        """The node's engine dies at once (SIGKILL to dockerd and its containerd),
        as when a machine loses power; its containers are left as they were."""
        assert node.proc is not None, f"{node.name} was not started by this run"
        self._ids[node.name] = node.node_id
        os.killpg(node.proc.pid, 9)
        node.proc.wait(30)
        node.proc = None

    def restart_engine(self, node: Node) -> None:
        """Stop the node's engine the way an upgrade does (SIGTERM) and start it again."""
        assert node.proc is not None, f"{node.name} was not started by this run"
        self._ids[node.name] = node.node_id
        node.proc.terminate()
        node.proc.wait(60)
        node.proc = None
        self.restart(node)

    def restart(self, node: Node) -> None:
        """Start a killed node's engine again; it rejoins the swarm by itself."""
        node_id = self._ids[node.name]
        self._run_engine(node)
        assert node.node_id == node_id
        deadline = time.monotonic() + 60
        while self.node_state(node) != ("ready", node.address):
            assert time.monotonic() < deadline, f"{node.name} did not rejoin the swarm"
            time.sleep(0.5)

    def node_state(self, node: Node) -> tuple[str, str]:
        """(state, address) of ``node`` as the manager sees it."""
        out = self.manager.docker(
            "node",
            "inspect",
            self._ids.get(node.name) or node.node_id,
            "--format",
            "{{.Status.State}} {{.Status.Addr}}",
            check=False,
        ).stdout.split()
        return (out[0], out[1]) if len(out) == 2 else ("unknown", "")

    def _load_image(self, node: Node) -> None:
        if (
            not self.image
            or node.docker("image", "inspect", self.image, check=False).returncode == 0
        ):
            return
        save = subprocess.Popen(["docker", "save", self.image], stdout=subprocess.PIPE)
        node.docker("load", stdin=save.stdout, timeout=600)
        save.wait(600)

    def _form(self) -> None:
        info = json.loads(self.manager.docker("info", "--format", "{{json .Swarm}}").stdout)
        if info.get("LocalNodeState") != "active":
            self.manager.docker(
                "swarm",
                "init",
                "--advertise-addr",
                self.manager.address,
                "--listen-addr",
                f"{self.manager.address}:2377",
                # the default 5 s heartbeats: shorter ones make a restarted manager
                # give up on workers before they reconnect, and shut their tasks down
            )
        token = self.manager.docker("swarm", "join-token", "-q", "worker").stdout.strip()
        for node in self.nodes[1:]:
            info = json.loads(node.docker("info", "--format", "{{json .Swarm}}").stdout)
            if info.get("LocalNodeState") != "active":
                node.docker(
                    *("swarm", "join", "--token", token),
                    *("--advertise-addr", node.address, "--listen-addr", f"{node.address}:2377"),
                    f"{self.manager.address}:2377",
                    timeout=120,
                )

    def stop(self) -> None:
        for node in reversed(self.nodes):
            if node.proc is None:
                continue  # not started by this run
            with contextlib.suppress(Exception):
                node.docker("swarm", "leave", "--force", check=False, timeout=30)
            terminate(node.proc, 30)
        if self._registry is not None:
            terminate(self._registry, 10)
            self._registry = None
        for undo in reversed(self._made):
            sh(*undo, check=False)
        self._made.clear()


def registry_up() -> bool:
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy
    try:
        with opener.open(f"http://{REGISTRY}/v2/", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def terminate(proc: subprocess.Popen, grace: float) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds."""
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
