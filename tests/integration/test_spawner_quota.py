"""QuotaDockerSpawner against the real engine: limits applied and enforced."""

from __future__ import annotations

import asyncio
import logging
import os
import time

import pytest
from conftest import TEST_PREFIX
from hubutil import (
    container_exec,
    ensure_user,
    kit_config,
    running_hub,
    server_get,
    start_server,
    stop_server,
)

pytestmark = [pytest.mark.docker, pytest.mark.hub]

M = 1024**2
G = 1024**3


@pytest.fixture(scope="module")
def policy_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("policy") / "quotas.toml"
    path.write_text('[groups.gpu]\nmem_limit = "700M"\ncpu_limit = 1.5\npids_limit = "unlimited"\n')
    return path


@pytest.fixture(scope="module")
async def hub(docker_client, test_image, chp, policy_file):
    config = kit_config(
        test_image,
        mem_limit="300M",
        cpu_limit=0.5,
        pids_limit=64,
        quota_groups={"teachers": {"mem_limit": "600M", "cpu_limit": 1}},
        quota_users={"alice": {"pids_limit": 100, "mem_limit": "400M"}},
        quota_policy_file=str(policy_file),
    )
    async with running_hub(config) as app:
        ensure_user(app, "student")
        ensure_user(app, "teacher", groups=("teachers",))
        ensure_user(app, "alice", groups=("teachers",))
        ensure_user(app, "dave", groups=("teachers", "gpu"))
        ensure_user(app, "bystander")
        yield app


def limits(docker_client, name):
    hc = docker_client.containers.get(f"{TEST_PREFIX}-{name}").attrs["HostConfig"]
    return {k: hc[k] for k in ("Memory", "MemorySwap", "CpuQuota", "CpuPeriod", "PidsLimit")}


async def test_inspect_shows_resolved_limits(hub, docker_client, docker_debug):
    names = ["student", "teacher", "alice", "dave"]
    await asyncio.gather(*(start_server(hub, n) for n in names))
    try:
        got = {n: limits(docker_client, n) for n in names}
        assert got["student"] == {
            "Memory": 300 * M,
            "MemorySwap": 300 * M,
            "CpuQuota": 50_000,
            "CpuPeriod": 100_000,
            "PidsLimit": 64,
        }
        # group raises memory and CPU, keeps the default PIDs limit
        assert got["teacher"] == {
            "Memory": 600 * M,
            "MemorySwap": 600 * M,
            "CpuQuota": 100_000,
            "CpuPeriod": 100_000,
            "PidsLimit": 64,
        }
        # personal override wins over the group, per key
        assert got["alice"] == {
            "Memory": 400 * M,
            "MemorySwap": 400 * M,
            "CpuQuota": 100_000,
            "CpuPeriod": 100_000,
            "PidsLimit": 100,
        }
        # two groups (one from the policy file): most generous per resource
        assert got["dave"]["Memory"] == 700 * M
        assert got["dave"]["CpuQuota"] == 150_000
        assert got["dave"]["PidsLimit"] in (0, -1, None)  # unlimited
        # the server sees its resolved limit (for jupyter-resource-usage)
        _, out = await container_exec(
            docker_client, "teacher", ["sh", "-c", "echo $MEM_LIMIT $CPU_LIMIT"]
        )
        assert out.split() == [str(600 * M), "1"]
        # progress messages were emitted during the spawn
        events = hub.users["teacher"].spawner._progress_events
        assert any(e["message"].startswith("Quota: memory 600M") for e in events)
    finally:
        await asyncio.gather(*(stop_server(hub, n) for n in names))


async def test_policy_file_change_applies_on_respawn(hub, docker_client, policy_file, docker_debug):
    await start_server(hub, "dave")
    assert limits(docker_client, "dave")["Memory"] == 700 * M
    await stop_server(hub, "dave")
    policy_file.write_text('[groups.gpu]\nmem_limit = "800M"\ncpu_limit = 1.5\n')
    st = os.stat(policy_file)
    os.utime(policy_file, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    await start_server(hub, "dave")
    try:
        assert limits(docker_client, "dave")["Memory"] == 800 * M
    finally:
        await stop_server(hub, "dave")


OOM_CHILD = "x = bytearray(600 * 1024 * 1024); print('survived')"


async def test_oom_kills_only_the_offender_and_is_reported(
    hub, docker_client, docker_debug, caplog
):
    user = await start_server(hub, "student")
    try:
        code, out = await container_exec(docker_client, "student", ["python3", "-c", OOM_CHILD])
        assert code == 137 and "survived" not in out
        # the server itself lives on and still answers through the proxy
        r = await server_get(hub, "student")
        assert r.status_code == 200
        with caplog.at_level(logging.WARNING):
            assert await user.spawner.poll() is None
        assert "killed 1 process(es) for exceeding the memory limit 300M" in caplog.text
    finally:
        await stop_server(hub, "student")


# the server becomes ready, then its main process (PID 1) allocates twice its limit
WAIT_FOR_PORT = (
    "import os, socket, time, urllib.parse as up\n"
    "port = up.urlparse(os.environ['JUPYTERHUB_SERVICE_URL']).port\n"
    "while True:\n"
    "    try: socket.create_connection(('127.0.0.1', port)).close(); break\n"
    "    except OSError: time.sleep(0.3)\n"
)
DIE_OF_OOM = [
    "sh",
    "-c",
    f'jupyterhub-singleuser & python3 -c "{WAIT_FOR_PORT}"; sleep 3; '
    "exec python3 -c 'import time; x = bytearray(600 * 1024 * 1024); time.sleep(60)'",
]


async def test_server_dying_of_oom_is_reported_as_such(hub, docker_client, docker_debug, caplog):
    user = hub.users["student"]
    user.spawner.cmd = DIE_OF_OOM
    try:
        await start_server(hub, "student")
        deadline = time.monotonic() + 60
        status = None
        with caplog.at_level(logging.ERROR):
            while status is None and time.monotonic() < deadline:
                await asyncio.sleep(1)
                status = await user.spawner.poll()
        assert (
            status == "OOMKilled: student's server ran out of memory (limit 300M) and was stopped"
        )
        assert status in caplog.text  # the admin sees it in the hub log
    finally:
        user.spawner.cmd = None
        if user.running or user.spawner.pending:
            await stop_server(hub, "student")
    # once the hub notices, the dead container is cleaned up by stop()
    deadline = time.monotonic() + 30
    while user.running and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
    assert not user.running


FORK_BOMB = """
import os, time
pids = []
for i in range(200):
    try:
        pid = os.fork()
    except OSError as e:
        print("blocked", len(pids), e.errno)
        break
    if pid == 0:
        time.sleep(20)
        os._exit(0)
    pids.append(pid)
else:
    print("unblocked", len(pids))
for p in pids:
    os.kill(p, 9)
"""


async def test_fork_bomb_stops_at_pids_limit(hub, docker_client, docker_debug):
    await asyncio.gather(start_server(hub, "student"), start_server(hub, "bystander"))
    try:
        bomb = asyncio.create_task(
            container_exec(docker_client, "student", ["python3", "-c", FORK_BOMB])
        )
        await asyncio.sleep(1)
        # the other user's server keeps working during the bomb
        r = await server_get(hub, "bystander")
        assert r.status_code == 200
        _, out = await bomb
        print("fork bomb:", out)
        words = out.split()
        assert words[0] == "blocked", out
        assert int(words[1]) < 64  # stopped below the PIDs limit
        assert words[2] == "11"  # EAGAIN: Resource temporarily unavailable
    finally:
        await asyncio.gather(stop_server(hub, "student"), stop_server(hub, "bystander"))


CPU_HOG = """
import os, time, multiprocessing as mp
def spin(t):
    end = time.time() + t
    while time.time() < end:
        pass
t0 = time.time()
ps = [mp.Process(target=spin, args=(4,)) for _ in range(2)]
[p.start() for p in ps]; [p.join() for p in ps]
wall = time.time() - t0
cpu = os.times().children_user + os.times().children_system
# cgroup v1 mounts the cpu controller at /sys/fs/cgroup/cpu; v2 has one unified cpu.stat
path = next(p for p in ("/sys/fs/cgroup/cpu/cpu.stat", "/sys/fs/cgroup/cpu.stat")
            if os.path.exists(p))
stat = dict(l.split() for l in open(path) if l.strip())
print(f"{cpu / wall:.3f} {stat['nr_throttled']}")
"""


async def test_cpu_hog_is_held_near_its_limit(hub, docker_client, docker_debug):
    await start_server(hub, "student")  # cpu_limit 0.5
    try:
        code, out = await container_exec(docker_client, "student", ["python3", "-c", CPU_HOG])
        assert code == 0, out
        print("cpu hog (cpu-seconds per wall-second, nr_throttled):", out)
        ratio, throttled = out.split()
        # two spinning processes would use 2 cores unlimited; the quota holds them near 0.5
        assert float(ratio) < 0.75, out
        assert int(throttled) > 0, out
    finally:
        await stop_server(hub, "student")


async def test_user_options_cannot_raise_quota_or_pick_image(hub, docker_client, docker_debug):
    from jupyterhub.tests.utils import api_request

    r = await api_request(
        hub, "users", "bystander", "server", method="post", json={"image": "evil:latest"}
    )
    assert r.status_code == 400
    assert "Specifying image to launch is not allowed" in r.text
    r = await api_request(
        hub, "users", "bystander", "server", method="post", json={"mem_limit": "lots"}
    )
    assert r.status_code == 400
    assert r.json()["message"].startswith("Invalid resource request: user_options['mem_limit']")
    user = hub.users["bystander"]
    while user.spawner.pending:
        await asyncio.sleep(0.1)
    r = await api_request(
        hub,
        "users",
        "bystander",
        "server",
        method="post",
        json={"mem_limit": "8G", "cpu_limit": 16, "pids_limit": 32},
    )
    # asking for more than the quota is refused in words, never applied (issue 37)
    assert r.status_code == 400, r.text
    assert r.json()["message"].startswith("You asked for mem_limit = 8G, above the most")
    while user.spawner.pending:
        await asyncio.sleep(0.1)
    r = await api_request(
        hub, "users", "bystander", "server", method="post", json={"pids_limit": 32}
    )
    assert r.status_code in (201, 202), r.text
    while user.spawner.pending:
        await asyncio.sleep(0.2)
    try:
        got = limits(docker_client, "bystander")
        # asking for fewer PIDs is honoured
        assert (got["Memory"], got["CpuQuota"], got["PidsLimit"]) == (300 * M, 50_000, 32)
    finally:
        await stop_server(hub, "bystander")
