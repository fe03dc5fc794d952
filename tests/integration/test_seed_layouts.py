"""Seed 003's classroom, run end to end from the bundle (jhub_kit.configure): a userlist,
300M with no swap, servers on a bridge network, the idle culler with a short timeout
culling an idle server and leaving an active one, a class imported from CSV, the
quota report. Real engine, hub, proxy and culler. (Seed 003's LVM homes need a
kernel with device-mapper: tests/system/test_lvm_vm.py runs them in a VM.)"""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from click.testing import CliRunner
from conftest import TEST_PREFIX
from hubutil import container_exec, form_login, own_network, running_hub, server_get, start_server
from jupyterhub.tests.utils import public_url
from traitlets.config.loader import PyFileConfigLoader

from jhub_kit.cli import main

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.root]

NET = f"{TEST_PREFIX}-seed003"
MB = 1024**2

CONFIG = """\
import jhub_kit
c = get_config()
c.JhubKit.authenticator = "dummy"
c.JhubKit.data_dir = {data!r}
c.JhubKit.userlist = {userlist!r}
c.JhubKit.image = {image!r}
c.JhubKit.network_name = {net!r}
c.JhubKit.idle_timeout = 15
jhub_kit.configure(c)
c.QuotaDockerSpawner.mem_limit = "300M"          # seed 003: 300M, no swap
c.QuotaDockerSpawner.prefix = {prefix!r}
c.QuotaDockerSpawner.pull_policy = "never"
c.DockerVolumeProvisioner.volume_prefix = {prefix!r} + "-home-"
c.JupyterHub.last_activity_interval = 2           # the culler sees activity soon
"""


@pytest.fixture
def net(docker_client):
    with own_network(docker_client, NET) as n:
        yield n
    for v in docker_client.volumes.list(filters={"label": "io.jhub-kit.home"}):
        if v.name.startswith(TEST_PREFIX):
            v.remove(force=True)


async def test_seed_003_classroom(docker_client, test_image, chp, net, tmp_path, docker_debug):
    userlist = tmp_path / "userlist"
    userlist.write_text("teacher admin\nidle1\nbusy1\n")
    cfg = tmp_path / "jupyterhub_config.py"
    cfg.write_text(
        CONFIG.format(
            data=str(tmp_path / "data"),
            userlist=str(userlist),
            image=test_image,
            net=NET,
            prefix=TEST_PREFIX,
        )
    )
    c = PyFileConfigLoader(cfg.name, str(tmp_path)).load_config()
    c.Authenticator.admin_users = {"admin"}  # the test rig's API caller
    async with running_hub(c) as app:
        # the class arrives as a CSV (seed 003's hand-written user script)
        token = app.users["admin"].new_api_token()
        csv_file = tmp_path / "class.csv"
        csv_file.write_text("name,groups\nAda Lovelace,class-a\nAlan Turing,class-a\n")
        env = {"JUPYTERHUB_URL": public_url(app).rstrip("/"), "JUPYTERHUB_API_TOKEN": token}
        r = await asyncio.to_thread(
            CliRunner().invoke,
            main,
            ["users", "import", str(csv_file), "--userlist", str(userlist)],
            env=env,
        )
        assert r.exit_code == 0, r.output
        assert "ada.lovelace: created" in r.output and "alan.turing: created" in r.output
        assert "ada.lovelace" in userlist.read_text()

        from hubutil import ensure_user

        for n in ("idle1", "busy1"):
            ensure_user(app, n)
            await start_server(app, n)
        hc = docker_client.containers.get(f"{TEST_PREFIX}-idle1").attrs["HostConfig"]
        assert hc["Memory"] == 300 * MB and hc["MemorySwap"] == 300 * MB  # no swap

        # busy1 keeps working through the proxy; idle1 does nothing: the culler stops it
        deadline = time.monotonic() + 90
        while app.users["idle1"].running:
            assert time.monotonic() < deadline, "the idle server was never culled"
            assert (await server_get(app, "busy1")).status_code == 200
            await asyncio.sleep(2)
        assert app.users["busy1"].running, "the active server was culled"

        # the quota report names every user with the resolved quota
        r = await asyncio.to_thread(
            CliRunner().invoke,
            main,
            ["quota", "report", "-f", str(cfg), "--format", "json"],
            env=env,
        )
        assert r.exit_code == 0, r.output
        rows = {row["user"]: row for row in json.loads(r.output)}
        assert {"ada.lovelace", "alan.turing", "idle1", "busy1"} <= set(rows)
        assert rows["busy1"]["memory"] == "300M" and rows["busy1"]["running"] is True
        assert rows["idle1"]["running"] is False
        code, out = await container_exec(
            docker_client, "busy1", ["sh", "-c", "echo kept > /home/jovyan/work/notes.txt"]
        )
        assert code == 0, out

    # the hub restarts on the same data: students log in (the userlist's, no one else)
    # and find their work
    c = PyFileConfigLoader(cfg.name, str(tmp_path)).load_config()
    c.Authenticator.admin_users = {"admin"}
    c.Authenticator.allow_all = False  # (MockHub allows everyone unless told)
    async with running_hub(c, restart=True) as app:
        r, student = await form_login(app, "busy1", "any")
        assert r.status_code == 302, r.status_code
        r, _ = await form_login(app, "mallory", "any")
        assert r.status_code != 302
        # the student starts their server from the browser and reaches it through the proxy
        await student.get(public_url(app) + "hub/spawn")
        deadline = time.monotonic() + 120
        while True:
            r = await student.get(public_url(app) + "user/busy1/api")
            if r.ok and "version" in r.headers.get("content-type", "") + r.text[:200]:
                break  # the server's own answer, not a hub page
            assert time.monotonic() < deadline, "busy1's server did not come back"
            await asyncio.sleep(1)
        code, out = await container_exec(
            docker_client, "busy1", ["cat", "/home/jovyan/work/notes.txt"]
        )
        assert (code, out.strip()) == (0, "kept"), out
