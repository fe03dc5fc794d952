"""The warm pool on the real engine (jhub_kit.pool.members): what a member holds before it
is given out, a start from the pool with the student's limits and home, the cold
start when the pool is empty, members that die or age replaced, a new hub that
removes the old hub's unassigned members."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time

import pytest
from hubutil import (
    ensure_user,
    kit_config,
    running_hub,
    server_get,
    start_server,
    stop_server,
)

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.root]

M = 1024**2


async def container_exec(docker_client, name_or_id: str, cmd: list[str]) -> tuple[int, str]:
    """Run ``cmd`` in a container (a pooled server keeps its member's name)."""
    r = await asyncio.to_thread(docker_client.containers.get(name_or_id).exec_run, cmd)
    return r.exit_code, r.output.decode("utf-8", "replace")


async def until(check, timeout: float = 180, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what or check}"
        await asyncio.sleep(0.2)


def pool_config(image, mount_area, size=2):
    c = kit_config(
        image,
        pool_size=size,
        mem_limit="300M",
        pids_limit=512,
        home_provisioner="loopfile",
        disk_limit="40M",
    )
    c.QuotaDockerSpawner.quota_groups = {"big": {"mem_limit": "400M", "pids_limit": 300}}
    c.QuotaDockerSpawner.pool_dir = str(mount_area / "pool")
    c.HomeProvisioner.base_dir = str(mount_area / "homes")
    return c


@pytest.fixture
def fresh_pools():
    from jhub_kit import registry

    registry.forget("provisioner")
    registry.forget("pool")
    yield
    registry.forget("pool")


async def test_warm_pool(docker_client, test_image, chp, mount_area, fresh_pools, docker_debug):
    api = docker_client.api
    async with running_hub(pool_config(test_image, mount_area)) as app:
        for name in ("pa", "pb", "pc", "pd"):
            ensure_user(app, name, groups=("big",) if name == "pa" else ())
        pool = app.users["pa"].spawner.warm_pool()
        await until(lambda: len(pool.ready) == 2, what="2 members ready")
        members = list(pool.ready)

        # before it is given out, a member holds nothing of anyone
        for m in members:
            info = api.inspect_container(m.id)
            env = "\n".join(info["Config"]["Env"])
            assert "JUPYTERHUB" not in env and "TOKEN" not in env, env
            assert not any(u in info["Name"] for u in ("pa", "pb", "pc", "pd"))
            assert os.listdir(m.dir / "slot-0") == [] and os.listdir(m.channel) == ["wake"]
            mounts = {x["Destination"]: x for x in info["Mounts"]}
            assert mounts["/run/jhub-kit-pool"]["RW"] is False
            assert info["HostConfig"]["Memory"] == 300 * M  # the defaults, nobody's quota

        # a start from the pool: the student's limits before the server starts
        t0 = time.monotonic()
        await start_server(app, "pa")
        took = time.monotonic() - t0
        sp = app.users["pa"].spawner
        member = next(m for m in members if m.name == sp.pool_member)
        said = [e["message"] for e in sp._progress_events]
        assert "Server is answering (it came from the warm pool)" in said, said
        hc = api.inspect_container(member.id)["HostConfig"]
        assert (hc["Memory"], hc["PidsLimit"]) == (400 * M, 300)
        logs = api.logs(member.id).decode()
        assert f"assigned; limits now: memory.max={400 * M} pids.max=300" in logs, logs
        assert (await server_get(app, "pa")).status_code == 200
        print(f"start from the pool: {took:.2f} s to ready")
        # what the launcher did ahead was done, and the server's start used it
        logs = api.logs(member.id).decode()
        assert "not done ahead" not in logs and "not preloaded" not in logs, logs
        # and nothing else: no library's function stood in for (the TLS context and
        # the entry points once were), the server configured as a cold one would be
        # (no lab_extension_manager here: JupyterLab's own default, its PyPI manager)
        assert "TLS context" not in logs and "a cold start here" not in logs, logs
        assert "Extension Manager is 'pypi'" in logs, logs
        # the token has left the channel; the home is the student's, with its hard limit
        assert not (member.channel / "identity.json").exists()
        code, out = await container_exec(
            docker_client, member.id, ["sh", "-c", "echo kept > /home/jovyan/notes.txt; id -u"]
        )
        assert code == 0 and out.strip() == "1000", out
        assert (mount_area / "homes" / "pa" / "notes.txt").read_text() == "kept\n"
        code, out = await container_exec(
            docker_client,
            member.id,
            [
                "sh",
                "-c",
                "dd if=/dev/zero of=/home/jovyan/big bs=1M count=60; ls /run/jhub-kit-pool",
            ],
        )
        assert "No space left on device" in out, out
        await container_exec(docker_client, member.id, ["rm", "-f", "/home/jovyan/big"])

        # given once: the pool refills with new members
        await until(lambda: len(pool.ready) == 2, what="the pool refilled")
        assert member.name not in {m.name for m in pool.ready}
        # no other container sees this member's channel or home
        other = pool.ready[0]
        code, out = await asyncio.to_thread(
            lambda: docker_client.containers.get(other.id).exec_run(
                ["sh", "-c", "ls -A /run/jhub-kit-pool /home/jovyan; cat /proc/self/mountinfo"]
            )
        )
        assert member.name not in out.decode() and "notes.txt" not in out.decode()

        # stop: the container goes, never back to the pool; the home stays
        await stop_server(app, "pa")
        assert not api.containers(all=True, filters={"id": member.id})
        assert not member.dir.exists()
        assert (mount_area / "homes" / "pa" / "notes.txt").read_text() == "kept\n"

        # more students than members: the rest start cold, everyone is served
        await until(lambda: len(pool.ready) == 2, what="the pool refilled")
        await asyncio.gather(*(start_server(app, n) for n in ("pb", "pc", "pd")))
        came = [bool(app.users[n].spawner.pool_member) for n in ("pb", "pc", "pd")]
        assert sorted(came) == [False, True, True], came
        for n in ("pb", "pc", "pd"):
            assert (await server_get(app, n)).status_code == 200
            await stop_server(app, n)

        # a member that dies is replaced; so is one older than pool_max_age
        await until(lambda: len(pool.ready) == 2, what="the pool refilled")
        victim = pool.ready[0]
        await asyncio.to_thread(api.kill, victim.id)
        await until(
            lambda: victim not in pool.ready and len(pool.ready) == 2, what="a dead member replaced"
        )
        before = {m.name for m in pool.ready}
        pool.max_age = 1
        await until(lambda: not before & {m.name for m in pool.ready}, what="old members replaced")
        pool.max_age = 3600
        await until(lambda: len(pool.ready) == 2, what="the pool refilled")
        left = [m.id for m in pool.ready]
        pool.closed = True  # as if this hub were killed: its members stay behind

    # a new hub removes the old hub's unassigned members: nothing stale is handed out
    async with running_hub(pool_config(test_image, mount_area)) as app:
        ensure_user(app, "pe")
        pool = app.users["pe"].spawner.warm_pool()
        await until(lambda: len(pool.ready) == 2, what="the new hub's members")
        assert not api.containers(all=True, filters={"id": left[0]})
        assert not {m.id for m in pool.ready} & set(left)
        left = [m.id for m in pool.ready]
    # ... and a hub that stops removes its own
    assert not api.containers(all=True, filters={"id": left[0]})
    assert not api.containers(all=True, filters={"id": left[1]})


POOL_HUB = """\
c.Authenticator.allow_all = True
c.QuotaDockerSpawner.mem_limit = "300M"
c.QuotaDockerSpawner.pool_size = 1
c.QuotaDockerSpawner.pool_schedule = ["daily 00:00-24:00 2"]
c.QuotaDockerSpawner.pool_dir = "{tmp}/pool"
import jhub_kit
jhub_kit.follow_hub()  # the pool fills when the hub serves
"""


def pool_cli(*args: str) -> tuple[int, str]:
    from click.testing import CliRunner

    from jhub_kit.cli import main

    r = CliRunner().invoke(main, ["pool", *args])
    return r.exit_code, r.output


async def test_pool_fills_at_hub_start_and_for_the_teacher(
    docker_client, test_image, chp, mount_area, docker_debug
):
    """A real `jupyterhub` process with no user in its database: its pool fills
    before anyone logs in, to the class time's size; `jhub-kit pool fill 3 --wait`
    raises it, `fill 0` brings it back; a student's start takes a member and the
    pool refills; `jhub-kit pool status` follows. The hub stopped (SIGTERM, then
    Ctrl-C: SIGINT) leaves no unassigned member behind."""
    from conftest import TEST_PREFIX, remove_test_containers
    from hubproc import Hub

    prefix = f"{TEST_PREFIX}-poolhub"
    where = ("--pool-dir", str(mount_area / "pool"))
    remove_test_containers(docker_client, prefix)

    def members() -> list[str]:
        label = {"label": f"io.jhub-kit.pool={prefix}"}
        return [c.name for c in docker_client.containers.list(filters=label)]

    def status() -> dict:
        import json

        code, out = pool_cli("status", "--json", *where)
        return json.loads(out) if code == 0 else {"ready": -1, "error": out}

    hub = Hub(mount_area, test_image, prefix, POOL_HUB)
    try:
        await asyncio.to_thread(hub.start)
        assert hub.users() == {}
        # nobody has logged in: the hub started its pool itself, to the class time's 2
        await until(lambda: status()["ready"] == 2, 240, "the pool filled at hub start")
        assert status()["why"] == "schedule 'daily 00:00-24:00 2'" and len(members()) == 2

        code, out = await asyncio.to_thread(
            pool_cli, "fill", "3", "--for", "10m", "--wait", "--timeout", "300", *where
        )
        assert code == 0 and "3 servers are warm" in out, out
        s = status()
        assert (s["target"], s["ready"]) == (3, 3) and s["why"].startswith("fill request"), s
        assert len(members()) == 3
        code, out = pool_cli("status", *where)
        assert code == 0 and "ready      3 of 3  (fill request until" in out, out

        assert hub.s.post(f"{hub.api}/users/s1", timeout=30).status_code == 201
        r = hub.s.post(f"{hub.api}/users/s1/server", timeout=120)
        assert r.status_code in (201, 202), r.text
        await until(lambda: hub.users()["s1"]["servers"].get("", {}).get("ready"), 120, "s1")
        # the refill waits for a quiet moment (pool.REFILL_QUIET), then the pool is whole
        await until(lambda: (s := status())["assigned"] == 1 and s["ready"] == 3, 120, "the refill")
        assert len(members()) == 4  # 3 waiting + s1's

        code, out = pool_cli("fill", "0", *where)
        assert code == 0 and "withdrawn" in out
        await until(lambda: status()["ready"] == 2, 60, "the pool shrank back")
        assert status()["why"].startswith("schedule")
        await until(lambda: len(members()) == 3, 60, "the idle member removed")  # 2 + s1's
        hub.s.delete(f"{hub.api}/users/s1/server", timeout=60)
        await until(lambda: len(members()) == 2, 60, "s1's server stopped")

        # the hub stops: its unassigned members go with it, with SIGTERM and with Ctrl-C
        for sig in (signal.SIGTERM, signal.SIGINT):
            hub.proc.send_signal(sig)
            await asyncio.to_thread(hub.proc.wait, 60)
            left = docker_client.containers.list(
                all=True, filters={"label": f"io.jhub-kit.pool={prefix}"}
            )
            assert left == [], f"after {sig.name}: {[c.name for c in left]}"
            if sig is signal.SIGTERM:
                await asyncio.to_thread(hub.start)
                await until(lambda: len(members()) == 2, 240, "the pool filled again")
    finally:
        hub.stop()
        remove_test_containers(docker_client, prefix)


@pytest.mark.parametrize("backend", ["directory", "btrfs", "docker-volume"])
async def test_pooled_start_with_each_home_backend(
    docker_client, test_image, chp, mount_area, fresh_pools, docker_debug, backend
):
    """The other home provisioners through the pool: the home is the student's
    (owner, a file that outlives the server), btrfs's hard limit holds."""
    from conftest import TEST_PREFIX

    c = kit_config(test_image, pool_size=1, mem_limit="300M", home_provisioner=backend)
    c.QuotaDockerSpawner.disk_limit = "40M"
    c.QuotaDockerSpawner.pool_dir = str(mount_area / "pool")
    c.HomeProvisioner.base_dir = str(mount_area / "homes")
    c.BtrfsProvisioner.pool_image_size = "2G"
    volume = f"{TEST_PREFIX}-poolhome-ph"
    c.DockerVolumeProvisioner.volume_prefix = f"{TEST_PREFIX}-poolhome-"
    try:
        async with running_hub(c) as app:
            ensure_user(app, "ph")
            pool = app.users["ph"].spawner.warm_pool()
            await until(lambda: len(pool.ready) == 1, what="a member ready")
            await start_server(app, "ph")
            sp = app.users["ph"].spawner
            said = [e["message"] for e in sp._progress_events]
            assert "Server is answering (it came from the warm pool)" in said, said
            script = "id -u; stat -c %u:%g /home/jovyan; echo kept > /home/jovyan/kept.txt"
            if backend == "btrfs":
                script += "; dd if=/dev/zero of=/home/jovyan/big bs=1M count=80 2>&1"
            _code, out = await container_exec(docker_client, sp.object_id, ["sh", "-c", script])
            lines = out.splitlines()
            assert lines[:2] == ["1000", "1000:100"], out
            if backend == "btrfs":
                assert "Disk quota exceeded" in out, out
            await stop_server(app, "ph")
        if backend == "docker-volume":
            home = docker_client.api.inspect_volume(volume)["Mountpoint"]
        elif backend == "btrfs":  # a subvolume of the pool mounted at base_dir/.pool
            home = str(mount_area / "homes" / ".pool" / "ph")
        else:
            home = str(mount_area / "homes" / "ph")
        with open(os.path.join(home, "kept.txt")) as f:
            assert f.read() == "kept\n"
    finally:
        if backend == "docker-volume":
            import contextlib

            with contextlib.suppress(Exception):
                docker_client.api.remove_volume(volume, force=True)


async def test_members_per_profile_and_a_class_time_naming_one(
    docker_client, test_image, chp, mount_area, fresh_pools, docker_debug
):
    """A profile with its own image gets members of its own (its pool_size, raised by
    a pool_schedule entry naming it): a student who picks it gets one of them, with
    that image and the profile's limits; a student of the configuration's profile
    gets the configuration's; each kind refills apart. (The cold path as the oracle
    for a profile's pooled server: tests/integration/test_one_description.py.)"""
    other = "jhubkit-test-other:latest"
    docker_client.images.get(test_image).tag("jhubkit-test-other", "latest")
    c = pool_config(test_image, mount_area, size=1)
    day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[time.localtime().tm_wday]
    c.QuotaDockerSpawner.pool_schedule = [f"{day} 00:00-24:00 2 other"]
    c.QuotaDockerSpawner.profile_list = [
        {"display_name": "Python", "slug": "python", "default": True},
        {
            "display_name": "Other image",
            "slug": "other",
            "image": other,
            "mem_limit": "350M",
            "pool_size": 1,
            "spawner_override": {"environment": {"COURSE": "other"}},
        },
    ]
    api = docker_client.api
    async with running_hub(c) as app:
        for name in ("pa", "pb"):
            ensure_user(app, name)
        pool = app.users["pa"].spawner.warm_pool()
        await until(lambda: len(pool.ready) == 3, what="1 + 2 members ready")
        assert sorted(m.label for m in pool.ready) == ["", "other", "other"]
        for m in pool.ready:
            image = api.inspect_container(m.id)["Config"]["Image"]
            assert image == (other if m.label == "other" else test_image), (m.label, image)
        status = pool.status()
        assert (
            status["kinds"]["other"]["target"] == 2
            and "schedule" in status["kinds"]["other"]["why"]
        )

        from test_profiles_hub import start_with

        pa = await start_with(app, "pa", {"profile": "other"})
        sp = pa.spawner
        assert sp.pool_member and sp.profile_label["slug"] == "other"
        info = api.inspect_container(sp.object_id)
        assert info["Config"]["Image"] == other
        assert info["HostConfig"]["Memory"] == 350 * M
        assert sp.get_env()["COURSE"] == "other"  # handed over with the identity
        assert (await server_get(app, "pa")).status_code == 200
        pb = await start_with(app, "pb", {"profile": "python"})
        assert pb.spawner.pool_member
        assert api.inspect_container(pb.spawner.object_id)["Config"]["Image"] == test_image
        assert sorted(m.label for m in pool.ready) == ["other"]
        # each kind refills to its own target after the quiet period
        await until(
            lambda: sorted(m.label for m in pool.ready) == ["", "other", "other"],
            timeout=240,
            what="both kinds refilled",
        )
        for name in ("pa", "pb"):
            await stop_server(app, name)


class _Said(logging.Handler):
    """The warnings logged while it is attached."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.warnings: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.warnings.append(record.getMessage())


async def test_a_pooled_rush_of_20_holds_the_hub_loop_for_nothing_of_the_kit(
    docker_client, test_image, chp, mount_area, fresh_pools, docker_debug
):
    """20 students at once from a full pool, loop-mounted homes, the stall watchdog on
    at 20 ms: every start is pooled and records its phases; no time the hub's event
    loop ran 20 ms or more late is the kit's work by the stack samples taken during it
    (its engine calls, file writes, mounts and programs run on its own threads).
    Every stall is printed; asyncio is the interpreter's throughout."""
    from jhub_kit.loop import health as loop_health

    original_run = asyncio.events.Handle.__dict__["_run"]
    c = pool_config(test_image, mount_area, size=20)
    c.QuotaDockerSpawner.loop_stall_log = 0.02
    c.QuotaDockerSpawner.pool_lag_budget = 0  # the kit's own work, not paced
    names = [f"rush{i}" for i in range(20)]
    async with running_hub(c) as app:
        for name in names:
            ensure_user(app, name)
        pool = app.users[names[0]].spawner.warm_pool()
        await until(lambda: len(pool.ready) == 20, 600, what="20 members ready")
        health = loop_health.of_this_loop()
        assert health.running and health.watching and health.threshold == 0.02
        health.stalls.clear()
        said = _Said()  # why a start left the pool, if one did
        log = app.users[names[0]].spawner.log
        log.addHandler(said)
        try:
            await asyncio.gather(*(start_server(app, n) for n in names))
        finally:
            log.removeHandler(said)
        assert pool.assigned_total == 20
        phases = [app.users[n].spawner.start_phases for n in names]
        assert all(
            set(p) >= {"admission", "take", "home", "mounts", "limits", "hand_over", "answering"}
            for p in phases
        ), (phases, said.warnings)
        assert asyncio.events.Handle._run is original_run  # watched without replacing it
        stalls = list(health.stalls)
        for s in stalls[:10]:
            print("stall:", s.describe())
        for s in stalls:
            if s.owner == "jhub_kit":
                print("the kit's:", s.describe())
        # the kit's own work: a tick 20 ms late whose stack samples name the kit most,
        # with at least 5 ms of the loop thread's CPU spent up to those samples (on 2
        # cores busy with 20 starting servers the kernel may set the loop's thread aside,
        # or another thread hold the GIL, for 20 ms at any moment: a wait is nobody's
        # CPU; the whole window's CPU includes JupyterHub's callbacks around it)
        # A sample inside the logging module is the handlers' work, which the hub's
        # logging configuration decides (here pytest's capture of every line; CI at
        # 21c851f saw a 42 ms tick in a LogRecord made by a progress line): counted
        # as the kit's only where the kit's own code, not a log call, was running.
        # And a tick whose loop thread ran less CPU than the threshold in the whole
        # window was late for want of a core, whoever it ran: the kit's code cannot
        # hold the loop 20 ms with less than 20 ms of CPU (CI at 5537b35, helpers'
        # tests beside it: a 32 ms tick with 9 ms of the thread's CPU, 7 of them
        # given to the kit's pure mount_plan by a coarse sample).
        kit = [
            s
            for s in stalls
            if s.owner == "jhub_kit"
            and s.cpu >= health.threshold
            and s.owner_cpu >= 0.005
            and not (s.stack and f"{os.sep}logging{os.sep}" in s.stack[0])
        ]
        assert not kit, "\n\n".join(f"{s.describe()}\n  " + "\n  ".join(s.stack) for s in kit)
        await asyncio.gather(*(stop_server(app, n) for n in names))
    assert not health.watching  # the hub's stop ended the watchdog thread
