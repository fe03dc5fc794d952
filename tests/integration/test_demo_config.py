"""README command 1's hub (scripts/demo_config.py), run for real: its shared
passwords (students one, the userlist's admins another), no deprecated option,
a student's server with a loopfile home on the demo's own bridge network, the
student's quota on the home page and the class dashboard for the teacher (the
same home figures), and the command scripts/demo.sh prints to check a server's
limits, run as printed against a server from the warm pool."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shlex
import sys
from pathlib import Path

import pytest
from conftest import TEST_PREFIX
from hubutil import form_login, own_network, running_hub, server_get, start_server
from jupyterhub.tests.utils import public_url
from jupyterhub.utils import url_path_join
from ports import free_port
from traitlets.config.loader import PyFileConfigLoader

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.root]

DEMO = Path(__file__).parents[2] / "scripts" / "demo_config.py"
DEMO_SH = DEMO.with_name("demo.sh")
NET = f"{TEST_PREFIX}-demo"
STUDENTS, TEACHERS = "students-pass-1234", "teachers-need-32-characters-5678"


@pytest.fixture
def net(docker_client):
    with own_network(docker_client, NET) as n:
        yield n


async def test_demo_hub(docker_client, test_image, chp, net, mount_area, monkeypatch, caplog):
    demo_dir = mount_area / "demo"
    demo_dir.mkdir()
    (demo_dir / "userlist").write_text(
        "admin admin\nteacher admin group:teachers\nstudent1\nstudent2\n"
    )
    (demo_dir / "api-token").write_text("demo-cli-token-for-the-test-0123456789\n")
    net.reload()
    gateway = net.attrs["IPAM"]["Config"][0]["Gateway"]
    for key, value in {
        "JHUB_KIT_DEMO_DIR": str(demo_dir),
        "JHUB_KIT_DEMO_PASSWORD": STUDENTS,
        "JHUB_KIT_DEMO_ADMIN_PASSWORD": TEACHERS,
        "JHUB_KIT_TEST_IMAGE": test_image,
        "JHUB_KIT_DEMO_NETWORK": NET,
        "JHUB_KIT_DEMO_HUB_IP": gateway,
    }.items():
        monkeypatch.setenv(key, value)
    c = PyFileConfigLoader(DEMO.name, str(DEMO.parent)).load_config()
    c.JupyterHub.bind_url = f"http://127.0.0.1:{free_port()}"  # never a running demo's
    c.QuotaDockerSpawner.prefix = TEST_PREFIX
    c.Authenticator.admin_users = {"admin"}  # the test rig's API caller
    c.Authenticator.allow_all = False  # the kit's default; MockHub would force True
    with caplog.at_level(logging.WARNING):
        async with running_hub(c) as app:
            assert (await form_login(app, "student1", TEACHERS))[0].status_code == 403
            assert (await form_login(app, "teacher", STUDENTS))[0].status_code == 403
            assert (await form_login(app, "stranger", STUDENTS))[0].status_code == 403
            r, teacher = await form_login(app, "teacher", TEACHERS)
            assert r.status_code == 302 and app.users["teacher"].admin
            r, student = await form_login(app, "student1", STUDENTS)
            assert r.status_code == 302 and not app.users["student1"].admin

            # the demo keeps two servers started ahead of time (on its bridge network)
            pool = app.users["student1"].spawner.warm_pool()
            for _ in range(600):
                if len(pool.ready) == 2:
                    break
                await asyncio.sleep(0.2)
            assert len(pool.ready) == 2, pool.status()
            await start_server(app, "student1")
            said = [e["message"] for e in app.users["student1"].spawner._progress_events]
            assert "Server is answering (it came from the warm pool)" in said, said
            lab = await server_get(app, "student1", "lab")
            assert lab.status_code == 200
            home = await student.get(url_path_join(public_url(app), "hub/home"))
            assert "512M" in home.text and "used of 1G" in home.text
            board = await teacher.get(url_path_join(public_url(app), "services/class-dashboard/"))
            assert board.status_code == 200 and "Class dashboard" in board.text
            # the running student's quota, as the hub holds it (the demo config reads
            # variables this test sets at run time, which the dashboard, reading the
            # hub's environment as it was started, cannot see: it shows what it knows)
            for _ in range(60):
                data = (await teacher.get(url_path_join(board.url, "data.json"))).json()
                rows = {r["user"]: r for r in data["rows"]}
                if rows.get("student1", {}).get("server") == "running":
                    break
                await asyncio.sleep(1)
            assert rows["student1"]["memory"] == "512M"
            # the home as the student's page says it ("40K used of 1G (0%)"), read
            # at the same time (the hub measures it again every minute)
            for _ in range(10):
                data = (await teacher.get(url_path_join(board.url, "data.json"))).json()
                s1 = {r["user"]: r for r in data["rows"]}["student1"]
                page = (await student.get(url_path_join(public_url(app), "hub/home"))).text
                used, _, percent = s1["disk_used"].partition(" ")
                said = f"{used} used of {s1['disk_limit']} {percent}"
                if said in page:
                    break
                await asyncio.sleep(1)
            assert s1["disk_used"] != "-" and said in page, (s1, page[-2000:])

            # the banner's command, as printed, finds the pooled server's container
            member = app.users["student1"].spawner.pool_member
            assert member, "student1's server did not come from the warm pool"
            out = await banner_command(demo_dir, public_url(app), "student1")
            assert f"container {member} (" in out and "from the warm pool" in out, out
            assert "memory  512M" in out and "These are the kit's quota" in out, out
    deprecated = [r.getMessage() for r in caplog.records if "deprecated" in r.getMessage().lower()]
    assert deprecated == []


async def banner_command(demo_dir: Path, hub_url: str, user: str) -> str:
    """Run the command demo.sh's banner prints to check ``user``'s limits, as printed
    (this test runs as root: without its sudo; the hub at ``hub_url``, not :8000)."""
    banner = re.search(r"Check a server's limits:\s+(.+)", DEMO_SH.read_text())
    assert banner, "demo.sh no longer prints how to check a server's limits"
    line = banner.group(1).replace("$KIT_VENV", sys.prefix).replace("$demo", str(demo_dir))
    argv = shlex.split(line)
    assert argv[0] == "sudo" and "student1" in argv, argv
    argv = [user if a == "student1" else a for a in argv[1:]]
    proc = await asyncio.create_subprocess_exec(
        *argv,
        env={**os.environ, "JUPYTERHUB_URL": hub_url.rstrip("/")},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    text = out.decode()
    assert proc.returncode == 0, text
    return text
