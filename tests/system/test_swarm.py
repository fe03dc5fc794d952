"""QuotaSwarmSpawner on a real swarm (tests/support/swarmrig.py): engines in network
namespaces, the hub and proxy in the root namespace. The quota vocabulary of one
host, applied to the service's task on the node; a task no node can take fails at
once with the scheduler's reason; a server answers through the proxy."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time

import attackrig
import pytest
from conftest import TEST_PREFIX
from hubutil import (
    ensure_user,
    failed_spawn,
    running_hub,
    server_get,
    spawn_request,
    start_server,
    stop_server,
)
from swarmrig import HUB_ADDRESS, SUBNET, Swarm
from traitlets.config import Config

from jhub_kit.compat import admin_message
from jhub_kit.views.student import view_of

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.root, pytest.mark.swarm]

M = 1024**2


@pytest.fixture(scope="module")
def swarm(test_image):
    rig = Swarm(size=int(os.environ.get("JHUB_KIT_SWARM_NODES", "3")), image=test_image)
    try:
        yield rig.start()
    finally:
        for node in rig.nodes:
            services = node.docker("service", "ls", "-q", check=False).stdout.split()
            if services and node is rig.manager:
                node.docker("service", "rm", *services, check=False)
        rig.stop()


def swarm_config(image: str, manager_sock: str) -> Config:
    c = Config()
    c.JupyterHub.authenticator_class = "dummy"
    c.Authenticator.admin_users = {"admin"}
    c.JupyterHub.spawner_class = "quota-swarm"  # the entry point
    c.JupyterHub.hub_ip = HUB_ADDRESS  # where the nodes reach the hub
    s = c.QuotaSwarmSpawner
    s.client_kwargs = {"base_url": manager_sock}
    s.image = image
    s.network_name = "host"
    s.prefix = TEST_PREFIX
    s.start_timeout = 120
    s.http_timeout = 120
    s.poll_interval = 2
    # the vocabulary of one host, unchanged
    s.mem_limit = "300M"
    s.cpu_limit = 0.5
    s.pids_limit = 256
    s.quota_groups = {"class-b": {"mem_limit": "400M", "mem_guarantee": "100M"}}
    s.quota_users = {"greedy": {"mem_limit": "5000G", "mem_guarantee": "4000G"}}
    return c


def node_of(swarm, app, name: str):
    """The rig's node that runs ``name``'s server (by the address the hub connects to)."""
    ip = app.users[name].spawner.server.ip
    [node] = [n for n in swarm.nodes if n.address == ip]
    return node


async def wait_stopped(app, name: str, timeout: float = 30) -> float:
    """Seconds until the hub reports ``name``'s server stopped (its own polling)."""
    t0 = time.monotonic()
    while app.users[name].running or app.users[name].spawner.pending:
        assert time.monotonic() - t0 < timeout, f"{name}'s server still reported running"
        await asyncio.sleep(0.2)
    return time.monotonic() - t0


def task_container(swarm, service: str, *, service_id: str = "") -> tuple[dict, str]:
    """``docker inspect`` of the service's container, and the address of the node
    that runs it. Give ``service_id`` when a service of that name ran a moment ago:
    the swarm removes the old service's container on its node in the background, so
    for a while two nodes may run a container of that name."""
    label = (
        f"com.docker.swarm.service.id={service_id}"
        if service_id
        else f"com.docker.swarm.service.name={service}"
    )
    for node in swarm.nodes:
        ids = node.docker("ps", "-q", "--filter", f"label={label}").stdout.split()
        if ids:
            return json.loads(node.docker("inspect", ids[0]).stdout)[0], node.address
    raise AssertionError(f"no container of {service} on any node")


async def test_quota_applied_on_the_node_and_server_answers(swarm, test_image, chp, caplog):
    c = swarm_config(swarm.image_ref, swarm.manager.sock)
    async with running_hub(c) as app:
        ensure_user(app, "sw1", groups=("class-b",))
        await start_server(app, "sw1")
        try:
            assert (await server_get(app, "sw1")).status_code == 200  # through the proxy
            container, node_address = task_container(swarm, f"{TEST_PREFIX}-sw1")
            hc = container["HostConfig"]
            assert hc["Memory"] == 400 * M  # the group's
            assert hc["NanoCpus"] == 500_000_000
            assert hc["PidsLimit"] == 256
            spawner = app.users["sw1"].spawner
            assert spawner.server.ip == node_address  # where it was placed
            # the start queue spans the swarm: one start in flight per core of its nodes
            assert spawner.start_gate().limit == len(swarm.nodes) * len(os.sched_getaffinity(0))
            said = [e["message"] for e in spawner._progress_events]
            assert f"Running on the node at {node_address}, waiting for the server" in said
            [spec] = json.loads(
                swarm.manager.docker("service", "inspect", f"{TEST_PREFIX}-sw1").stdout
            )
            # a server that exits is reported stopped, not restarted behind the hub's back
            assert spec["Spec"]["TaskTemplate"]["RestartPolicy"]["Condition"] == "none"
            # the guarantee is a reservation the scheduler keeps (not a container setting)
            resources = spec["Spec"]["TaskTemplate"]["Resources"]
            assert resources["Reservations"] == {"MemoryBytes": 100 * M}
        finally:
            await stop_server(app, "sw1")
        services = swarm.manager.docker("service", "ls", "-q").stdout.split()
        assert services == []  # stop removes the service

        # a task no node can take: refused at once, in words, the reason in the log
        ensure_user(app, "greedy")
        t0 = time.monotonic()
        with caplog.at_level(logging.WARNING):
            r = await spawn_request(app, "greedy")
        assert r.status_code == 503, r.text
        assert "No machine in the cluster can take your server" in r.json()["message"]
        assert time.monotonic() - t0 < 30  # at once, not after start_timeout (120 s)
        assert "insufficient resources" in caplog.text, caplog.text[-2000:]
        assert not app.users["greedy"].running


async def test_spread_over_nodes_and_pinned_by_label(swarm, test_image, chp, caplog):
    """Servers spread over the nodes; a group with node_labels runs only where they are."""
    gpu_node = swarm.nodes[-1]
    swarm.manager.docker("node", "update", "--label-add", "kit-gpu=yes", gpu_node.node_id)
    c = swarm_config(swarm.image_ref, swarm.manager.sock)
    c.QuotaSwarmSpawner.quota_groups = {
        "gpu": {"node_labels": {"kit-gpu": "yes"}, "mem_limit": "350M"},
        "tpu": {"node_labels": {"kit-tpu": "yes"}},
    }
    names = [f"sp{i}" for i in range(len(swarm.nodes))]
    try:
        async with running_hub(c) as app:
            for name in names:
                ensure_user(app, name)
            await asyncio.gather(*(start_server(app, n) for n in names))
            placed = {node_of(swarm, app, n).name for n in names}
            assert len(placed) == len(swarm.nodes), placed  # one on each node
            for n in names:
                assert (await server_get(app, n)).status_code == 200

            for i in range(2):
                ensure_user(app, f"gp{i}", groups=("gpu",))
                await start_server(app, f"gp{i}")
                assert node_of(swarm, app, f"gp{i}") is gpu_node
                container, _ = task_container(swarm, f"{TEST_PREFIX}-gp{i}")
                assert container["HostConfig"]["Memory"] == 350 * M
            [spec] = json.loads(
                swarm.manager.docker("service", "inspect", f"{TEST_PREFIX}-gp0").stdout
            )
            assert spec["Spec"]["TaskTemplate"]["Placement"]["Constraints"] == [
                "node.labels.kit-gpu==yes"
            ]

            # a kind of node the swarm does not have: refused at once, said in words
            ensure_user(app, "tp0", groups=("tpu",))
            with caplog.at_level(logging.WARNING):
                r = await spawn_request(app, "tp0")
            assert r.status_code == 503, r.text
            assert "of the kind your server runs on (kit-tpu=yes)" in r.json()["message"]
            assert "scheduling constraints not satisfied" in caplog.text
            for n in [*names, "gp0", "gp1"]:
                await stop_server(app, n)
    finally:
        swarm.manager.docker("node", "update", "--label-rm", "kit-gpu", gpu_node.node_id)


async def test_drained_and_lost_nodes_and_a_manager_restart(swarm, test_image, chp, caplog):
    """Servers on a drained node or a node whose engine died are reported stopped
    within a poll interval; the others keep answering; a manager that restarts
    loses no one."""
    c = swarm_config(swarm.image_ref, swarm.manager.sock)
    # the manager manages: servers only on workers (what the tutorial advises)
    c.QuotaSwarmSpawner.extra_placement_spec = {"constraints": ["node.role==worker"]}
    names = [f"ft{i}" for i in range(len(swarm.nodes) - 1)]
    async with running_hub(c) as app:
        for name in names:
            ensure_user(app, name)
        await asyncio.gather(*(start_server(app, n) for n in names))
        nodes = {n: node_of(swarm, app, n) for n in names}
        assert swarm.manager not in nodes.values()
        assert len({node.name for node in nodes.values()}) == len(names)

        # the manager's engine restarts: no one is lost, and the hub says nothing stopped
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            await asyncio.to_thread(swarm.restart_engine, swarm.manager)
            # the restarted manager reports the workers down until they reconnect
            # (seen for several seconds): servers there are running all the while
            await asyncio.sleep(15)
        for n in names:
            assert app.users[n].running, f"{n} reported stopped after the manager restart"
            assert (await server_get(app, n)).status_code == 200
            assert await app.users[n].spawner.poll() is None
        assert "stopped with exit code" not in caplog.text

        first, second = names[0], names[1]
        # drain the node of the first: reported stopped, not moved behind the hub
        swarm.manager.docker("node", "update", "--availability", "drain", nodes[first].node_id)
        try:
            took = await wait_stopped(app, first)
            print(f"drained node: reported stopped after {took:.1f} s")
            assert took < 3 * c.QuotaSwarmSpawner.poll_interval, took
            r = await server_get(app, second)
            assert r.status_code == 200, (r.text[-1500:], r.headers)
            assert app.users[second].running
            # the stop removed the service: nothing left to come back elsewhere
            assert (
                f"{TEST_PREFIX}-{first}"
                not in swarm.manager.docker("service", "ls", "--format", "{{.Name}}").stdout.split()
            )
        finally:
            swarm.manager.docker("node", "update", "--availability", "active", nodes[first].node_id)

        # the engine of the second's node dies: reported stopped within seconds
        lost = nodes[second]
        await asyncio.to_thread(swarm.kill, lost)
        try:
            took = await wait_stopped(app, second, timeout=90)
            print(f"killed engine: reported stopped after {took:.1f} s")
            # the manager marks a node down after 3 missed 5 s heartbeats, then
            # lost_node_grace (10 s), and the hub polls every 2 s
            assert took < 45, took
            assert "is down: the server stopped with it" in caplog.text
        finally:
            await asyncio.to_thread(swarm.restart, lost)
        # the user starts again, on a node that works
        await start_server(app, second)
        assert (await server_get(app, second)).status_code == 200
        await stop_server(app, second)


async def test_a_restarted_hub_finds_running_servers(swarm, test_image, chp, monkeypatch, tmp_path):
    monkeypatch.setenv("JUPYTERHUB_TEST_DB_URL", f"sqlite:///{tmp_path}/hub.sqlite")
    c = swarm_config(swarm.image_ref, swarm.manager.sock)
    c.JupyterHub.cleanup_servers = False  # the server outlives the hub
    async with running_hub(c) as app:
        ensure_user(app, "hr1", groups=("class-b",))
        await start_server(app, "hr1")
        before = app.users["hr1"].spawner
        task_id, url = before.task_id, before.server.url
    assert task_id
    c = swarm_config(swarm.image_ref, swarm.manager.sock)
    c.JupyterHub.cleanup_servers = False
    async with running_hub(c, restart=True) as app:
        spawner = app.users["hr1"].spawner
        assert app.users["hr1"].running, "the running service was not adopted"
        assert spawner.task_id == task_id and spawner.server.url == url
        assert spawner.quota is not None and spawner.quota.mem_limit == 400 * M
        assert await spawner.poll() is None
        assert (await server_get(app, "hr1")).status_code == 200
        await stop_server(app, "hr1")
    assert swarm.manager.docker("service", "ls", "-q").stdout.split() == []


async def test_quota_d_homes_follow_the_user_across_nodes(swarm, test_image, chp, mount_area):
    """Homes made by the hub in base_dir (here loop-mounted ext4 with a hard size
    limit), bound on whichever node runs the server: the limit holds there, and the
    files are there when the next start lands on another node."""
    from jhub_kit import registry

    registry.forget("provisioner")
    c = swarm_config(swarm.image_ref, swarm.manager.sock)
    c.QuotaSwarmSpawner.home_provisioner = "loopfile"
    c.QuotaSwarmSpawner.disk_limit = "40M"
    c.HomeProvisioner.base_dir = str(mount_area / "homes")  # the "share" every node has
    async with running_hub(c) as app:
        ensure_user(app, "hm1")
        seen = set()
        try:
            for round_ in range(3):
                await start_server(app, "hm1")
                node = node_of(swarm, app, "hm1")
                seen.add(node.name)
                container, address = task_container(
                    swarm, f"{TEST_PREFIX}-hm1", service_id=app.users["hm1"].spawner.service_id
                )
                assert address == node.address  # the node the hub connects to
                home = {m["Destination"]: m for m in container["Mounts"]}["/home/jovyan"]
                assert home["Source"] == str(mount_area / "homes" / "hm1")

                def sh(script: str, cid=container["Id"], node=node):
                    return node.docker("exec", cid, "sh", "-c", script, check=False)

                if round_ == 0:
                    r = sh("id -u; stat -c %u /home/jovyan; echo kept > /home/jovyan/notes.txt")
                    assert r.returncode == 0 and r.stdout.split() == ["1000", "1000"], r
                    r = sh("dd if=/dev/zero of=/home/jovyan/big bs=1M count=60")
                    assert r.returncode != 0 and "No space left on device" in r.stderr, r
                    sh("rm -f /home/jovyan/big")
                else:
                    r = sh("cat /home/jovyan/notes.txt; grep ' /home/jovyan ' /proc/mounts")
                    assert r.stdout.split("\n", 1)[0].strip() == "kept", (node.name, r)
                await stop_server(app, "hm1")
                if len(seen) > 1 and round_ >= 1:
                    break
                # the next start elsewhere: this node takes no new server for a moment
                swarm.manager.docker("node", "update", "--availability", "pause", node.node_id)
        finally:
            for n in swarm.nodes:
                swarm.manager.docker("node", "update", "--availability", "active", n.node_id)
        assert len(seen) > 1, seen


def test_doctor_checks_every_node(swarm, test_image, mount_area, tmp_path):
    """`jhub-kit doctor` with a swarm config: one check task per node (image, share)."""
    from click.testing import CliRunner

    from jhub_kit.cli import main

    userlist = tmp_path / "userlist"
    userlist.write_text("teacher admin\n")

    def doctor(image: str, no_new_privileges: bool = False):
        cfg = tmp_path / "jupyterhub_config.py"
        cfg.write_text(
            "c = get_config()\n"
            "c.JupyterHub.spawner_class = 'jhub_kit.QuotaSwarmSpawner'\n"
            f"c.QuotaSwarmSpawner.client_kwargs = {{'base_url': {swarm.manager.sock!r}}}\n"
            f"c.QuotaSwarmSpawner.image = {image!r}\n"
            "c.QuotaSwarmSpawner.home_provisioner = 'directory'\n"
            f"c.HomeProvisioner.base_dir = {str(mount_area / 'homes')!r}\n"
            f"c.UserlistMixin.userlist_file = {str(userlist)!r}\n"
            f"c.QuotaSwarmSpawner.no_new_privileges = {no_new_privileges!r}\n"
        )
        return CliRunner().invoke(main, ["doctor", "-f", str(cfg)])

    # engines before API 1.44 (Debian's Docker 20.10: 1.41) cannot set no-new-privileges
    # on a service, and the rig's daemons do not set it either: the doctor says so
    api = swarm.manager.docker("version", "--format", "{{.Server.APIVersion}}").stdout.strip()
    r = doctor(swarm.image_ref, no_new_privileges=True)
    if tuple(map(int, api.split("."))) < (1, 44):
        assert r.exit_code == 1, r.output
        assert "servers start without no-new-privileges" in r.output, r.output
        assert "daemon.json on every node" in r.output, r.output
    else:
        assert r.exit_code == 0, r.output
    r = doctor(swarm.image_ref)
    assert r.exit_code == 0, r.output
    per_node = [line for line in r.output.splitlines() if line.startswith("ok   node ")]
    assert len(per_node) == len(swarm.nodes), r.output
    assert all(f"{mount_area / 'homes'} is the hub's share" in line for line in per_node)
    assert all(f"image {swarm.image_ref} runs" in line for line in per_node)
    r = doctor("jhub-kit-no-such-image:1")
    assert r.exit_code == 1
    assert r.output.count(
        "image jhub-kit-no-such-image:1 is not there and cannot be pulled"
    ) == len(swarm.nodes), r.output
    assert swarm.manager.docker("service", "ls", "-q").stdout.split() == []  # nothing left


async def test_example_swarm_config_spawns_on_a_worker(
    swarm, test_image, chp, mount_area, tmp_path, monkeypatch
):
    """example_config/jupyterhub_config.swarm.py as written, on the rig."""
    from pathlib import Path

    from traitlets.config.loader import PyFileConfigLoader

    from jhub_kit import registry

    registry.forget("provisioner")
    example = Path(__file__).resolve().parents[2] / "example_config"
    monkeypatch.setenv("DOCKER_NOTEBOOK_IMAGE", swarm.image_ref)  # from the rig's registry
    monkeypatch.setenv("JHUB_KIT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("JHUB_KIT_HUB_ADDRESS", HUB_ADDRESS)
    c = PyFileConfigLoader("jupyterhub_config.swarm.py", str(example)).load_config()
    # paths that live on the hub's machine, here in the checkout and a temp share
    c.UserlistMixin.userlist_file = str(example / "userlist")
    c.QuotaSwarmSpawner.quota_policy_file = str(example / "quotas.toml")
    c.HomeProvisioner.base_dir = str(mount_area / "homes")
    # the rig: the manager's socket, own names, a hub on the rig's bridge
    c.QuotaSwarmSpawner.client_kwargs = {"base_url": swarm.manager.sock}
    c.QuotaSwarmSpawner.prefix = TEST_PREFIX
    c.JupyterHub.hub_ip = HUB_ADDRESS
    c.Authenticator.admin_users = {"admin"}
    async with running_hub(c) as app:
        ensure_user(app, "teacher", groups=("teachers",))
        await start_server(app, "teacher")
        try:
            assert (await server_get(app, "teacher")).status_code == 200
            container, address = task_container(swarm, f"{TEST_PREFIX}-teacher")
            assert address != swarm.manager.address  # a worker
            hc = container["HostConfig"]
            assert hc["Memory"] == 4096 * M and hc["NanoCpus"] == 2_000_000_000
            assert hc["PidsLimit"] == 512
            [home] = [m for m in container["Mounts"] if m["Destination"] == "/home/jovyan/work"]
            assert home["Source"] == str(mount_area / "homes" / "teacher")
        finally:
            await stop_server(app, "teacher")


async def test_swarm_servers_in_the_views_like_one_hosts(swarm, test_image, chp):
    """The dashboard and the student view read the same record of a swarm server as
    of a server on one host (``state["jhub_kit"]``): its quota, the memory and CPU
    it uses (from its node's engine, where its cgroups are), and a server killed
    for memory, from its task's exit."""
    from jhub_kit.views.dashboard import rows

    c = swarm_config(swarm.image_ref, swarm.manager.sock)
    c.QuotaSwarmSpawner.node_engines = {n.node_id: n.sock for n in swarm.nodes}
    async with running_hub(c) as app:
        ensure_user(app, "viewed")
        await start_server(app, "viewed")
        spawner = app.users["viewed"].spawner
        try:
            for _ in range(50):
                assert await spawner.poll() is None
                if spawner.live and spawner.live.get("cpu_percent") is not None:
                    break
                await asyncio.sleep(0.2)
            kit = spawner.get_state()["jhub_kit"]
            assert kit["quota"]["mem_limit"] == 300 * M
            assert 10 * M < kit["live"]["memory_used"] < 300 * M, kit
            model = {
                "name": "viewed",
                "servers": {"": {"state": spawner.get_state(), "ready": True}},
            }
            [row] = rows.class_rows([model], {}, {"viewed": kit["live"]})
            assert row["memory"] == "300M" and row["memory_used"].endswith("M"), row
            view = view_of(spawner)
            assert {"label": "Memory", "value": "300M"} in view["rows"]
        finally:
            await stop_server(app, "viewed")

        # a server that runs out of memory: the task's exit says so, and the student reads why
        ensure_user(app, "hungry")
        app.users["hungry"].spawner.cmd = ["python3", "-c", "x = bytearray(2 * 1024**3)"]
        failure = await failed_spawn(app, "hungry")
        assert "ran out of memory (limit 300M)" in admin_message(failure), admin_message(failure)
        assert "ran out of memory" in view_of(app.users["hungry"].spawner)["last_event"]


def node_exec(node, container_id: str) -> attackrig.Exec:
    """:data:`attackrig.Exec` in a task's container, through its node's engine."""

    def exec_(argv: list[str], user: str) -> tuple[int, str]:
        r = node.docker("exec", "-u", user, container_id, *argv, check=False)
        return r.returncode, r.stdout + r.stderr

    return exec_


#: what the attack suite measures on a swarm node (the rig's layout: servers in the
#: node's host network, as docs/tutorials/swarm.md describes), and why
SWARM_NODE = {
    # host network: the server is the node's network stack; nothing filters it
    "the other student's server": "open",
    "a service on the host": "open",
    "the cloud metadata address": "open",
    "a private-range host": "open",
    "the proxy's API": "open",
    "the Hub API": "open",
    # the service's container spec drops every capability
    "mount a filesystem (as root in the server)": "refused",
    "write to /proc/sys (as root in the server)": "refused",
    "change a file's owner (as root in the server)": "refused",
    "open a raw socket (as root in the server)": "refused",
}


async def test_attack_rows_on_a_swarm_node(swarm, test_image, chp, tmp_path, capsys, caplog):
    """The attack suite (tests/support/attackrig.py) from a student's server on a swarm node.
    Measured and written in docs/reference/security.md: a swarm node in host network
    mode has no per-server firewall, and no-new-privileges needs Engine API 1.44."""
    from ports import free_port

    from jhub_kit import registry

    registry.forget("swarm-seen")  # said once per engine: an earlier test heard it
    c = swarm_config(swarm.image_ref, swarm.manager.sock)
    c.ConfigurableHTTPProxy.api_url = f"http://0.0.0.0:{free_port()}"
    api = swarm.manager.docker("version", "--format", "{{.Server.APIVersion}}").stdout.strip()
    async with running_hub(c) as app:
        with caplog.at_level(logging.WARNING):
            for n in ("sa1", "sa2"):
                ensure_user(app, n)
                await start_server(app, n)
        try:
            container, address = task_container(swarm, f"{TEST_PREFIX}-sa1")
            [node] = [n for n in swarm.nodes if n.address == address]
            other = app.users["sa2"].spawner.server
            exec_ = node_exec(node, container["Id"])
            with (
                attackrig.namespace_hosts(tmp_path) as hosts,
                attackrig.routed_from(node.name, HUB_ADDRESS, f"{SUBNET}.0/24"),
                attackrig.host_service(HUB_ADDRESS) as port,
            ):
                rows = attackrig.probe(
                    exec_,
                    {
                        "the other student's server": (other.ip, other.port),
                        "a service on the host": (HUB_ADDRESS, port),
                        "the cloud metadata address": (hosts["meta"], 80),
                        "a private-range host": (hosts["priv"], 80),
                        "the proxy's API": (
                            HUB_ADDRESS,
                            int(c.ConfigurableHTTPProxy.api_url.rsplit(":", 1)[1]),
                        ),
                        "the Hub API": (HUB_ADDRESS, app.hub.port),
                    },
                )
            rows.update(attackrig.in_container(exec_))
        finally:
            for n in ("sa1", "sa2"):
                await stop_server(app, n)
    with capsys.disabled():
        print("\n" + attackrig.table({f"swarm node (API {api})": rows}))
    attackrig.record("swarm", rows)
    setuid = rows.pop("setuid(0) through a setuid-root binary")
    assert rows == SWARM_NODE
    spec = container["HostConfig"]
    assert spec["CapDrop"] == ["ALL"]
    if tuple(map(int, api.split("."))) >= (1, 44):
        assert setuid == "refused"
    else:
        # the engine cannot set no-new-privileges on a service: said once in the log
        assert setuid == "root"
        assert "start without no-new-privileges" in caplog.text, caplog.text[-2000:]
