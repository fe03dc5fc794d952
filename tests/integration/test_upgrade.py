"""A running hub upgraded to this kit (a real `jupyterhub` process, real proxy and
engine): a hub of the previous release starts servers (cold and from its warm
pool, with loop-mounted homes, on an isolated bridge network), stops (servers
left running, as an admin does to upgrade), and this kit's hub starts on the
same database. Every running server is adopted with its quota, home and
isolation; the old pool's unassigned members are replaced; nothing is left
behind or made twice: no state record, mount, loop device or firewall chain.
Then the servers stop and start again under the new kit.

The previous release is the commit in :data:`PREVIOUS` (0.3.0, before the
package was regrouped), run from its own source tree with this environment's
dependencies.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path

import pytest
from conftest import TEST_PREFIX, remove_test_containers
from hubproc import Hub
from hubutil import own_network

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.root]

ROOT = Path(__file__).resolve().parents[2]
#: the previous release: 0.3.0 (the warm pool), the last commit before 0.4's work
PREVIOUS = "ee6c948"
PREFIX = f"{TEST_PREFIX}-upg"
NET = f"{TEST_PREFIX}-upgnet"
USERS = ("cold1", "warm1")

CONFIG = """\
c.Authenticator.allowed_users = {{"cold1", "warm1"}}  # in the database at start
c.JupyterHub.hub_ip = "0.0.0.0"
c.QuotaDockerSpawner.network_name = "{net}"
c.QuotaDockerSpawner.mem_limit = "300M"
c.QuotaDockerSpawner.pids_limit = 300
c.QuotaDockerSpawner.home_provisioner = "loopfile"
c.QuotaDockerSpawner.disk_limit = "40M"
c.HomeProvisioner.base_dir = "{{tmp}}/homes"
c.QuotaDockerSpawner.pool_size = 1
c.QuotaDockerSpawner.pool_dir = "{{tmp}}/pool"
"""


def previous_tree(dest: Path) -> Path:
    """The previous release's source tree (``git archive`` of :data:`PREVIOUS`)."""
    tree = dest / f"jhub_kit-{PREVIOUS}"
    tree.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", PREVIOUS, "jhub_kit"],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def server_of(hub: Hub, user: str) -> dict:
    """The user's default server as the hub's API shows it, with its state."""
    model = hub.s.get(f"{hub.api}/users/{user}", timeout=30).json()
    return (model.get("servers") or {}).get("", {})


def kit_chains(bridge: str) -> list[str]:
    """The kit's chains for the test's own bridge (the version matrix and other
    suites beside this one make networks, and chains, of their own)."""
    out = subprocess.run(["iptables", "-S"], capture_output=True, text=True).stdout
    return sorted(
        line for line in out.splitlines() if line.startswith("-N JHK-") and line.endswith(bridge)
    )


def home_mounts(homes: Path) -> list[str]:
    return sorted(
        line.split()[4]
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
        if line.split()[4].startswith(str(homes) + "/")
    )


def loops_of(homes: Path) -> list[str]:
    out = subprocess.run(["losetup", "-J"], capture_output=True, text=True).stdout or "{}"
    return sorted(
        d["back-file"]
        for d in json.loads(out).get("loopdevices", [])
        if str(d.get("back-file", "")).startswith(str(homes))
    )


async def wait_for(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out: {what}"
        await asyncio.sleep(0.5)


@pytest.fixture
def upgrade_net(docker_client):
    with own_network(docker_client, NET) as net:
        yield net


async def test_a_running_hub_upgraded_to_this_kit(
    docker_client, test_image, chp, mount_area, upgrade_net, tmp_path, docker_debug
):
    from jhub_kit.network.firewall import bridge_of

    bridge = bridge_of(upgrade_net.attrs)
    remove_test_containers(docker_client, PREFIX)
    old_tree = previous_tree(tmp_path)
    hub = Hub(mount_area, test_image, PREFIX, CONFIG.format(net=NET))
    homes = mount_area / "homes"

    def ready(user: str) -> bool:
        return bool(hub.users()[user]["servers"].get("", {}).get("ready"))

    def members() -> list:
        return docker_client.containers.list(filters={"label": f"io.jhub-kit.pool={PREFIX}"})

    try:
        # the previous release: a pooled and a cold server, on the isolated network
        hub.env = {"PYTHONPATH": str(old_tree)}
        await asyncio.to_thread(hub.start)
        await wait_for(lambda: len(members()) == 1, 240, "the old pool's member")
        launcher = [m["Source"] for m in members()[0].attrs["Mounts"] if "launcher" in m["Source"]]
        assert launcher[0].startswith(str(old_tree)), launcher  # the old kit's pool
        await asyncio.sleep(5)  # ready: its launcher has imported the server
        # both at once: one takes the pool's only member, the other starts cold
        answers = await asyncio.gather(
            *(
                asyncio.to_thread(hub.s.post, f"{hub.api}/users/{user}/server", timeout=120)
                for user in USERS
            )
        )
        assert all(r.status_code in (201, 202) for r in answers), [r.text for r in answers]
        for user in USERS:
            await wait_for(lambda u=user: ready(u), 180, f"{user}'s server")
        servers = {u: server_of(hub, u) for u in USERS}
        pooled = [u for u in USERS if servers[u]["state"]["jhub_kit"].get("pool_member")]
        assert len(pooled) == 1, servers
        warm = pooled[0]
        ids = {u: s["state"]["object_id"] for u, s in servers.items()}
        chains, mounts, loops = kit_chains(bridge), home_mounts(homes), loops_of(homes)
        assert chains and len(mounts) == 2 and len(loops) == 2, (chains, mounts, loops)

        def unassigned() -> set[str]:
            return {c.id for c in members()} - set(ids.values())

        await wait_for(lambda: len(unassigned()) >= 1, 240, "the old pool refilled")
        old_members = unassigned()
        hub.stop()  # an upgrade: the hub stops, the servers keep running

        # this kit, on the same database, homes and network
        hub.env = {}
        await asyncio.to_thread(hub.start)
        for user in USERS:
            s = server_of(hub, user)
            assert s.get("ready"), f"{user}'s server was not adopted: {s}"
            assert s["state"]["object_id"] == ids[user]
            assert s["state"]["jhub_kit"]["quota"]["mem_limit"] == 300 * 1024**2, s
            assert s["state"]["jhub_kit"]["home"]["source"].startswith(str(homes)), s
        # the old pool's unassigned members replaced by the new hub's
        await wait_for(lambda: not old_members & unassigned(), 120, "old members removed")
        await wait_for(lambda: len(unassigned()) >= 1, 240, "the new pool's member")
        launcher = [
            m["Source"]
            for c in members()
            if c.id not in ids.values()
            for m in c.attrs["Mounts"]
            if "launcher" in m["Source"]
        ]
        assert launcher and not any(s.startswith(str(old_tree)) for s in launcher), launcher
        # nothing made twice or left behind
        assert home_mounts(homes) == mounts and loops_of(homes) == loops
        assert kit_chains(bridge) == chains
        records = json.loads((homes / ".jhub-kit-state.json").read_text())["users"]
        assert sorted(records) == sorted(USERS), records

        # the adopted servers stop and start again under the new kit
        for user in USERS:
            r = hub.s.delete(f"{hub.api}/users/{user}/server", timeout=120)
            assert r.status_code in (202, 204), r.text
            await wait_for(lambda u=user: not ready(u), 120, f"{user} stopped")
        assert home_mounts(homes) == mounts and loops_of(homes) == loops  # homes stay, once
        assert not (
            mount_area / "pool" / servers[warm]["state"]["jhub_kit"]["pool_member"]
        ).exists()
        for user in USERS:
            r = hub.s.post(f"{hub.api}/users/{user}/server", timeout=120)
            assert r.status_code in (201, 202), r.text
            await wait_for(lambda u=user: ready(u), 180, f"{user} started again")
        assert kit_chains(bridge) == chains
        assert home_mounts(homes) == mounts and loops_of(homes) == loops
    finally:
        hub.stop()
        remove_test_containers(docker_client, PREFIX)
