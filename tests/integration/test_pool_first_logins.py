"""A class's first day with DockerSpawner's named volumes (jupyterhub-deploy-docker's
``volumes = {"jupyterhub-user-{username}": ...}``, no kit home): every start is a
first start, whose volume does not exist yet. The pool makes each volume as the
engine makes it for a cold start's container, so the first logins are pooled too
(each one cost a member and then started cold before). The equality with a cold
first start is tests/integration/test_one_description.py's."""

from __future__ import annotations

import asyncio

import pytest
from conftest import TEST_PREFIX, remove_test_containers
from hubutil import ensure_user, kit_config, running_hub, start_server, stop_server
from test_pool import fresh_pools, until  # noqa: F401 - a fixture

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.root]

CLASS = 10


@pytest.mark.usefixtures("fresh_pools")
async def test_a_class_of_first_logins_with_named_volumes_is_pooled(
    docker_client, test_image, chp, mount_area, docker_debug
):
    prefix = f"{TEST_PREFIX}-first-"
    c = kit_config(
        test_image,
        pool_size=CLASS,
        mem_limit="300M",
        pids_limit=512,
        volumes={f"{prefix}{{username}}": "/home/jovyan/work"},
    )
    c.QuotaDockerSpawner.pool_dir = str(mount_area / "pool")
    names = [f"first{i}" for i in range(CLASS)]
    try:
        async with running_hub(c) as app:
            for name in names:
                ensure_user(app, name)
            pool = app.users[names[0]].spawner.warm_pool()
            await until(lambda: len(pool.ready) == CLASS, 600, what=f"{CLASS} members ready")
            assert not docker_client.volumes.list(filters={"name": prefix}), "not first starts"
            await asyncio.gather(*(start_server(app, n) for n in names))
            pooled = [n for n in names if app.users[n].spawner.pool_member]
            print(f"{len(pooled)} of {CLASS} first logins pooled")
            assert len(pooled) >= CLASS - 1, pooled
            made = {v.name for v in docker_client.volumes.list(filters={"name": prefix})}
            assert made == {f"{prefix}{n}" for n in names}
            await asyncio.gather(*(stop_server(app, n) for n in names))
    finally:
        remove_test_containers(docker_client)
        for v in docker_client.volumes.list(filters={"name": prefix}):
            v.remove(force=True)
