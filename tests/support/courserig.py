"""A hub for courses and the helpers of its tests (tests/integration/test_course_folders.py,
test_nbgrader.py, tests/system/test_browser_nbgrader.py), on the production layout:
servers on a bridge network of the test's own, loopfile homes and a warm pool of
one; starts and stops through the REST API; commands in a server; the pool held
back for a cold start."""

from __future__ import annotations

import asyncio
import time

import pytest
from conftest import TEST_PREFIX
from hubutil import in_client_thread, kit_config, own_network
from jupyterhub.tests.utils import auth_header, public_url
from jupyterhub.utils import url_path_join

#: the course hub's bridge network
NET = f"{TEST_PREFIX}-coursenet"


@pytest.fixture
def course_net(docker_client):
    """The course hub's own bridge network (made and removed outside the test's event
    loop: removing it also removes the kit's isolation rules for it)."""
    with own_network(docker_client, NET) as net:
        yield net


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


def course_hub_config(image, mount_area, courses, net):
    """A hub with its servers on the bridge network ``net`` (the hub listens on all
    addresses; the kit gives the servers the network's gateway), loopfile homes, a
    warm pool of one, named servers and two profiles, and ``courses``."""
    c = kit_config(
        image,
        network_name=net.name,
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
    c.JupyterHub.hub_ip = "0.0.0.0"
    return c


#: run a shell script with the single-user server's own environment, as its terminal
#: and the nbgrader lab extension do (a pooled server's environment is not the
#: container's: it is the one the pool's launcher executed the server program with;
#: where the launcher runs the server in its own process instead, as with the test
#: image, no process shows it and the script is refused)
AS_SERVER = """
import os, sys
for pid in sorted(p for p in os.listdir("/proc") if p.isdigit()):
    if pid == str(os.getpid()):  # this script's own command line names the server
        continue
    try:
        cmd = open(f"/proc/{pid}/cmdline", "rb").read()
    except OSError:
        continue
    if b"jupyterhub-singleuser" in cmd:
        raw = open(f"/proc/{pid}/environ", "rb").read().split(b"\\0")
        env = dict(e.decode().split("=", 1) for e in raw if b"=" in e)
        os.chdir(env.get("HOME", "/"))
        os.execve("/bin/sh", ["sh", "-c", sys.argv[1]], env)
sys.exit("no single-user server in this container")
"""


async def as_server(docker_client, sp, script: str) -> tuple[int, str]:
    """``script`` in the server as its own user, with the server's environment."""
    c = docker_client.containers.get(sp.object_id)
    r = await in_client_thread(c.exec_run, ["python3", "-c", AS_SERVER, script])
    return r.exit_code, r.output.decode("utf-8", "replace")


#: the hub's API at ``url``, asked from inside a server (the container's own user)
ASK_THE_HUB = (
    "python3 -c \"import urllib.request as u; print(u.urlopen('{url}', timeout=10).status)\""
)


async def on_the_bridge(docker_client, sp, net) -> None:
    """``sp``'s server is on the bridge network ``net`` only (not the host's), was
    given the hub's API at the network's gateway, and reaches it there."""
    c = docker_client.containers.get(sp.object_id)
    assert c.attrs["HostConfig"]["NetworkMode"] == net.name, c.attrs["HostConfig"]
    assert list(c.attrs["NetworkSettings"]["Networks"]) == [net.name]
    gateway = net.attrs["IPAM"]["Config"][0]["Gateway"]
    url = sp.get_env()["JUPYTERHUB_API_URL"]  # what the server was given
    assert url.startswith(f"http://{gateway}:"), url
    code, out = await sh(docker_client, sp, ASK_THE_HUB.format(url=url))
    assert code == 0, out
    assert out.split()[-1] == "200", out
