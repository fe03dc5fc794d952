"""A hub for courses and the helpers of its tests (tests/integration/test_course_folders.py,
test_nbgrader.py, tests/system/test_browser_nbgrader.py): loopfile homes and a warm
pool of one; starts and stops through the REST API; commands in a server; the pool
held back for a cold start."""

from __future__ import annotations

import asyncio
import time

from hubutil import in_client_thread, kit_config
from jupyterhub.tests.utils import auth_header, public_url
from jupyterhub.utils import url_path_join


async def until(check, timeout: float = 180, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


async def _api(app, method: str, path: str, body=None):
    import requests

    url = url_path_join(public_url(app), "hub/api", path)
    headers = {**auth_header(app.db, "admin"), "Sec-Fetch-Mode": "cors"}
    return await in_client_thread(
        requests.request, method, url, headers=headers, json=body, timeout=300
    )


async def start(app, user: str, server: str = "", options=None):
    path = f"users/{user}/servers/{server}" if server else f"users/{user}/server"
    r = await _api(app, "POST", path, options)
    assert r.status_code in (201, 202), r.text
    sp = app.users[user].spawners[server]
    await until(lambda: not sp.pending, what=f"{user}'s start")
    assert sp.ready, f"{user}'s server did not start: {sp._spawn_future.exception()!r}"
    return sp


async def stop(app, user: str, server: str = "") -> None:
    path = f"users/{user}/servers/{server}" if server else f"users/{user}/server"
    r = await _api(app, "DELETE", path)
    assert r.status_code in (202, 204), r.text
    sp = app.users[user].spawners[server]
    await until(lambda: not sp.pending and not sp.ready, 60, f"{user}'s stop")


async def sh(docker_client, sp, script: str) -> tuple[int, str]:
    """Run ``script`` in the server as the server's own user (what a notebook can do)."""
    c = docker_client.containers.get(sp.object_id)
    r = await in_client_thread(c.exec_run, ["sh", "-c", script])
    return r.exit_code, r.output.decode("utf-8", "replace")


def hold_members(pool) -> None:
    """The pool gives no member until :func:`give_back`: the start is cold."""

    async def none(key):
        return None

    pool.take = none


def give_back(pool) -> None:
    del pool.take


def course_hub_config(image, mount_area, courses):
    """A hub with loopfile homes, a warm pool of one, named servers and two profiles,
    and ``courses``."""
    c = kit_config(
        image,
        pool_size=1,
        mem_limit="300M",
        pids_limit=400,
        home_provisioner="loopfile",
        disk_limit="40M",
    )
    c.QuotaDockerSpawner.pool_dir = str(mount_area / "pool")
    c.HomeProvisioner.base_dir = str(mount_area / "homes")
    c.Courses.courses = courses
    c.JupyterHub.allow_named_servers = True
    c.QuotaDockerSpawner.name_template = "{prefix}-{username}-{servername}"
    c.QuotaDockerSpawner.profile_list = [
        {"display_name": "Small", "slug": "small", "default": True},
        {"display_name": "Big", "slug": "big", "mem_limit": "400M"},
    ]
    c.JupyterHub.cleanup_servers = True
    return c
