"""A home with no byte, or no inode, left still starts and says what to do (issue 37).

On the real engine, with loop-mounted homes filled on the host by their owner
(uid 1000) until the filesystem refuses: the next start is ready, cold and from
the warm pool; the server's own default URL serves the kit's notice; deleting a
file and a folder through the server's contents API works (no trash: it would
need room); the server's runtime files are outside the home. Once there is room
again, the next start opens JupyterLab as usual.
"""

from __future__ import annotations

import asyncio
import os
import time

import pytest
import requests
from fullhome import full_home
from hubutil import (
    ensure_user,
    in_client_thread,
    kit_config,
    running_hub,
    start_server,
    stop_server,
)
from jupyterhub.tests.utils import public_url
from jupyterhub.utils import url_path_join
from test_pool import fresh_pools  # noqa: F401 - a fixture

from jhub_kit import spec

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.root]


def config(image, mount_area, pool_size=0):
    c = kit_config(image, home_provisioner="loopfile", disk_limit="40M", mem_limit="300M")
    c.HomeProvisioner.base_dir = str(mount_area / "homes")
    if pool_size:
        c.QuotaDockerSpawner.pool_size = pool_size
        c.QuotaDockerSpawner.pool_dir = str(mount_area / "pool")
    return c


async def as_user(app, name: str, method: str, path: str, **kw) -> requests.Response:
    """``method`` ``path`` of ``name``'s server through the proxy, with their token."""
    user = app.users[name]
    token = user.new_api_token()
    url = url_path_join(public_url(app, user), path)
    headers = {"Authorization": f"token {token}"}
    return await in_client_thread(requests.request, method, url, headers=headers, timeout=30, **kw)


async def check_notice_and_deletes(app, docker_client, name: str, home: str, what: str):
    sp = app.users[name].spawner
    said = [e["message"] for e in sp._progress_events]
    assert "Your home folder is full: delete files to make room" in said, said
    assert sp.home_usage is not None and sp.home_usage.full == what
    # the server's default URL is the notice, served by the server itself
    r = await as_user(app, name, "GET", "")
    assert r.status_code == 200, r.text[:300]
    assert r.url.endswith(f"/user/{name}/static/{spec.HOME_FULL_PAGE}"), r.url
    assert "Your home folder is full" in r.text
    # and its link into JupyterLab works
    lab = await as_user(app, name, "GET", "lab")
    assert lab.status_code == 200 and "JupyterLab" in lab.text
    # the runtime files are outside the home
    container = docker_client.containers.get(sp.object_id)
    out = (await asyncio.to_thread(container.exec_run, ["ls", spec.RUNTIME_DIR])).output
    assert b"jpserver-" in out, out
    assert not os.path.exists(os.path.join(home, ".local", "share", "jupyter", "runtime"))
    # deleting works with nothing left: a file, then a folder with files in it
    victim = "big" if what == "space" else "f0"
    r = await as_user(app, name, "DELETE", f"api/contents/{victim}")
    assert r.status_code == 204, r.text
    r = await as_user(app, name, "DELETE", "api/contents/olddir")
    assert r.status_code == 204, r.text
    assert not os.path.exists(os.path.join(home, victim))
    assert not os.path.exists(os.path.join(home, "olddir"))
    assert not os.path.exists(os.path.join(home, ".local", "share", "Trash"))
    # and then a file can be saved again
    body = {"type": "file", "format": "text", "content": "room again\n"}
    r = await as_user(app, name, "PUT", "api/contents/again.txt", json=body)
    assert r.status_code in (200, 201), r.text


@pytest.mark.usefixtures("fresh_pools")
async def test_a_full_home_starts_cold_on_the_notice(
    docker_client, test_image, chp, mount_area, docker_debug
):
    async with running_hub(config(test_image, mount_area)) as app:
        homes = {}
        for name, what in (("fspace", "space"), ("ffiles", "files")):
            ensure_user(app, name)
            homes[name] = await full_home(app, name, what)
        for name, what in (("fspace", "space"), ("ffiles", "files")):
            t0 = time.monotonic()
            await start_server(app, name, timeout=120)
            assert app.users[name].spawner.pool_member == ""  # cold: no pool here
            print(f"{name}: ready in {time.monotonic() - t0:.1f} s with a full home ({what})")
            await check_notice_and_deletes(app, docker_client, name, homes[name], what)
        # room again: the next start opens as usual (no notice, deletes to the trash)
        await stop_server(app, "fspace")
        await start_server(app, "fspace")
        sp = app.users["fspace"].spawner
        assert not sp.home_usage.full
        r = await as_user(app, "fspace", "GET", "")
        assert r.status_code == 200 and r.url.endswith("/user/fspace/lab"), r.url
        assert spec.NOTICES_PATH not in {
            m["Destination"] for m in docker_client.api.inspect_container(sp.object_id)["Mounts"]
        }
        for name in ("fspace", "ffiles"):
            await stop_server(app, name)


@pytest.mark.usefixtures("fresh_pools")
async def test_a_full_home_starts_from_the_pool_on_the_notice(
    docker_client, test_image, chp, mount_area, docker_debug
):
    async with running_hub(config(test_image, mount_area, pool_size=1)) as app:
        ensure_user(app, "fpool")
        home = await full_home(app, "fpool", "space")
        pool = app.users["fpool"].spawner.warm_pool()
        deadline = time.monotonic() + 180
        while not pool.ready:
            assert time.monotonic() < deadline, "no pool member became ready"
            await asyncio.sleep(0.2)
        await start_server(app, "fpool", timeout=120)
        sp = app.users["fpool"].spawner
        assert sp.pool_member, "the full home's start did not come from the pool"
        said = [e["message"] for e in sp._progress_events]
        assert "Server is answering (it came from the warm pool)" in said, said
        await check_notice_and_deletes(app, docker_client, "fpool", home, "space")
        await stop_server(app, "fpool")
