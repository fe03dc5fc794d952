"""The spawner across a hub restart, and the start queue's limits, on the real engine."""

from __future__ import annotations

import asyncio
import logging

import pytest
from conftest import TEST_PREFIX, remove_test_containers
from hubutil import (
    container_exec,
    ensure_user,
    failed_spawn,
    kit_config,
    running_hub,
    spawn_request,
    start_server,
    stop_server,
)

from jhub_kit.compat import admin_message

pytestmark = [pytest.mark.docker, pytest.mark.hub]

MB = 1024**2


async def test_quota_and_oom_count_survive_a_hub_restart(
    monkeypatch, tmp_path, docker_client, test_image, chp, docker_debug, caplog
):
    """An adopted server keeps its quota (OOM messages name the real limit) and old
    OOM kills are not reported again."""
    remove_test_containers(docker_client)
    monkeypatch.setenv("JUPYTERHUB_TEST_DB_URL", f"sqlite:///{tmp_path}/hub.sqlite")
    config = kit_config(test_image, mem_limit="300M")
    config.JupyterHub.cleanup_servers = False  # the server outlives the hub
    async with running_hub(config) as app:
        ensure_user(app, "sam")
        await start_server(app, "sam")
        code, _ = await container_exec(
            docker_client, "sam", ["python3", "-c", "b = bytearray(500 * 1024 * 1024)"]
        )
        assert code == 137  # the kernel killed the allocation, not the server
        assert await app.users["sam"].spawner.poll() is None
        assert app.users["sam"].spawner.oom_kills == 1

    caplog.clear()
    caplog.set_level(logging.WARNING)
    config = kit_config(test_image, mem_limit="1G")  # the default changed meanwhile
    config.JupyterHub.cleanup_servers = False
    async with running_hub(config, restart=True) as app:  # the same database
        spawner = app.users["sam"].spawner
        assert app.users["sam"].running, "the running server was not adopted"
        assert spawner.quota is not None and spawner.quota.mem_limit == 300 * MB
        assert spawner.oom_kills == 1
        assert await spawner.poll() is None
        assert not [r for r in caplog.records if "killed" in r.getMessage()], "old kill reported"
        # the server dies (exit 137 after an OOM kill): the reason names its real limit
        await asyncio.to_thread(docker_client.containers.get(spawner.container_id).kill)
        status = await spawner.poll()
        assert status == "OOMKilled: sam's server ran out of memory (limit 300M) and was stopped"
        await stop_server(app, "sam")
    remove_test_containers(docker_client)


async def test_full_queue_answers_429(docker_client, test_image, chp, docker_debug):
    config = kit_config(test_image, mem_limit="300M", concurrent_starts=1, start_queue_max=1)
    async with running_hub(config) as app:
        for n in ("qa", "qb", "qc"):
            ensure_user(app, n)
        # qa holds the one slot past qc's request however fast the host (CI at 500a743:
        # qa's cold start ended within the second, and qc was let in: 201, not 429)
        app.users["qa"].spawner.cmd = SLOW_START
        first = asyncio.create_task(start_server(app, "qa"))
        await asyncio.sleep(0.5)
        second = asyncio.create_task(start_server(app, "qb"))
        await asyncio.sleep(0.5)
        r = await spawn_request(app, "qc")
        assert r.status_code == 429, (r.status_code, r.text)
        assert "Too many servers are starting right now" in r.text
        await asyncio.gather(first, second)  # the queue still serves everyone in it
        await stop_server(app, "qa")
        await stop_server(app, "qb")


def test_queue_default_follows_the_hubs_concurrent_spawn_limit():
    """JupyterHub's concurrent_spawn_limit counts queued and starting spawns alike:
    the kit's queue defaults to the same bound, so both refuse at the same count."""
    from types import SimpleNamespace

    from traitlets.config import Config

    from jhub_kit import QuotaDockerSpawner

    def spawner(**hub):
        c = Config()
        c.QuotaDockerSpawner.concurrent_starts = 4
        for k, v in hub.items():
            setattr(c.JupyterHub, k, v)
        return QuotaDockerSpawner(config=c, user=SimpleNamespace(name="x", groups=[]))

    assert spawner().start_queue_max == 96
    assert spawner(concurrent_spawn_limit=250).start_queue_max == 246
    assert spawner(concurrent_spawn_limit=0).start_queue_max == 500


#: a server that answers 3 s late (its arguments passed on: "$@")
SLOW_START = ["sh", "-c", 'sleep 3; exec jupyterhub-singleuser "$@"', "sh"]


async def test_queue_timeout_holds_even_with_an_explicit_start_timeout(
    docker_client, test_image, chp, docker_debug, caplog
):
    config = kit_config(test_image, mem_limit="300M", concurrent_starts=1, queue_timeout=1)
    config.QuotaDockerSpawner.start_timeout = 300  # set by the admin: no longer derived
    async with running_hub(config) as app:
        for n in ("ta", "tb"):
            ensure_user(app, n)
        # ta holds the one slot well past tb's queue_timeout, however fast the host
        # (a cold start took under 1.3 s on a quiet machine and let tb in)
        app.users["ta"].spawner.cmd = SLOW_START
        first = asyncio.create_task(start_server(app, "ta"))
        await asyncio.sleep(0.3)
        r = await spawn_request(app, "tb")
        assert r.status_code == 503, (r.status_code, r.text)
        assert "The hub is busy starting other servers" in r.text
        # the admin's log names who held the slot, and for how long
        assert "the slots are held by ta's server (" in caplog.text
        await first
        gate = app.users["ta"].spawner.start_gate()
        await stop_server(app, "ta")
        assert gate.active == 0 and gate.queued == 0


async def test_start_after_queue_timeout_fails_the_start_and_frees_the_slot(
    docker_client, test_image, chp, docker_debug
):
    config = kit_config(
        test_image, mem_limit="300M", concurrent_starts=1, start_after_queue_timeout=0.5
    )
    async with running_hub(config) as app:
        ensure_user(app, "slow")
        spawner = app.users["slow"].spawner
        failure = await failed_spawn(app, "slow")
        assert failure.message == "Your server did not start within 0.5 seconds."
        assert "not ready 0.5 s after it left the start queue" in str(failure)
        assert spawner.start_gate().active == 0
        assert not docker_client.containers.list(all=True, filters={"name": f"{TEST_PREFIX}-slow"})


async def test_a_server_that_dies_while_starting_is_explained_in_the_log(
    docker_client, test_image, chp, docker_debug
):
    """The admin reads why: the container's last output is in the hub's log line;
    and the dead container is not left behind (JupyterHub stops only servers
    that poll as running)."""
    c = kit_config(
        test_image, cmd=["sh", "-c", "echo 'cannot import name: broken-image-marker' >&2; exit 3"]
    )
    async with running_hub(c) as app:
        ensure_user(app, "dora")
        failure = await failed_spawn(app, "dora")
        assert "stopped while starting" in admin_message(failure), admin_message(failure)
        assert "ExitCode=3" in admin_message(failure)
        assert "broken-image-marker" in admin_message(failure)
        assert failure.message == "Your server stopped while starting."  # plain words
        assert not docker_client.containers.list(all=True, filters={"name": f"{TEST_PREFIX}-dora"})
