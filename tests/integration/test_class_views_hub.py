"""What students and teachers see, through HTTP against a real hub from the bundle:
the student's quota and last stop reason on the hub's pages, the class dashboard
(a hub-managed service behind JupyterHub OAuth) for the teacher with the same
numbers as ``jhub-kit quota report``, and 403 for a student. Real engine, hub,
proxy, loopfile homes and the dashboard process. (tests/system/test_browser.py shows
the same in Chromium.)"""

from __future__ import annotations

import asyncio
import json
import pwd
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import TEST_PREFIX
from hubutil import (
    bundle_config_file,
    container_exec,
    ensure_user,
    form_login,
    own_network,
    running_hub,
    start_server,
)
from jupyterhub.tests.utils import public_host, public_url
from jupyterhub.utils import url_path_join
from traitlets.config.loader import PyFileConfigLoader

from jhub_kit.cli import main

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.root]

NET = f"{TEST_PREFIX}-views"

EXTRA = """\
c.QuotaDockerSpawner.mem_limit = "300M"
c.QuotaDockerSpawner.cpu_limit = 1.0
c.QuotaDockerSpawner.quota_groups = {"teachers": {"mem_limit": "600M", "cpu_limit": 2}}
c.QuotaDockerSpawner.disk_limit = "40M"
c.QuotaDockerSpawner.poll_interval = 2
c.Authenticator.admin_users = {"admin"}
"""


async def page(session, app, path: str):
    """GET a page as a logged-in browser would: redirects (OAuth) followed."""
    return await session.get(url_path_join(public_url(app), path))


async def dashboard_rows(session, app, until, timeout: float = 60) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    while True:
        r = await page(session, app, "services/class-dashboard/data.json")
        assert r.status_code == 200, r.text[:300]
        rows = {row["user"]: row for row in r.json()["rows"]}
        if until(rows) or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(1)


@pytest.fixture
def net(docker_client):
    with own_network(docker_client, NET) as n:
        yield n


def dashboard_process(app) -> tuple[set[str], list[int]]:
    """The running dashboard service's environment variable names and its uids."""
    pid = app._service_map["class-dashboard"].spawner.proc.pid
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    names = {e.split(b"=", 1)[0].decode() for e in environ if b"=" in e}
    status = Path(f"/proc/{pid}/status").read_text()
    uids = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]
    return names, [int(u) for u in uids]


async def test_student_view_and_class_dashboard(
    docker_client, test_image, chp, net, mount_area, tmp_path, monkeypatch, docker_debug
):
    monkeypatch.setenv("JHUB_KIT_TEST_HUB_SECRET", "the hub's, not the dashboard's")
    userlist = "admin admin\nteacher group:teachers\nann\nbob\n"
    cfg = bundle_config_file(tmp_path, test_image, NET, userlist, EXTRA)
    c = PyFileConfigLoader(cfg.name, str(tmp_path)).load_config()
    async with running_hub(c) as app:
        for name, groups in [("ann", ()), ("bob", ()), ("teacher", ("teachers",))]:
            ensure_user(app, name, groups)
        await start_server(app, "ann")

        # the student: their limits and their home's use on the home page
        r, ann = await form_login(app, "ann", "any")
        assert r.status_code == 302
        home = await page(ann, app, "hub/home")
        assert 'id="jhub-kit-quota"' in home.text
        assert '<tr data-quota="memory">' in home.text and "300M" in home.text
        panel = home.text[home.text.index('id="jhub-kit-quota"') :][:3000]
        assert "1 core" in panel and "used of 40M" in panel, panel

        # a kernel that allocates past the limit is killed; the student is told why
        code, _ = await container_exec(
            docker_client, "ann", ["python3", "-c", "b = bytearray(600 * 1024 * 1024)"]
        )
        assert code == 137
        deadline = time.monotonic() + 30
        while app.users["ann"].spawner.oom_kills == 0:
            assert time.monotonic() < deadline, "poll never saw the OOM kill"
            await asyncio.sleep(0.5)
        home = await page(ann, app, "hub/home")
        assert 'id="jhub-kit-last-event"' in home.text
        assert "used more than your memory limit of 300M" in home.text

        # the teacher: the dashboard, after JupyterHub's OAuth (no confirmation page)
        r, teacher = await form_login(app, "teacher", "any")
        assert r.status_code == 302
        board = await page(teacher, app, "services/class-dashboard/")
        assert board.status_code == 200 and "<h1>Class dashboard</h1>" in board.text
        # JupyterHub's own page: its navigation bar back to the hub, its styles
        hub = app.hub.base_url
        assert 'id="thenavbar"' in board.text and f'href="{hub}token"' in board.text
        assert f'href="{hub}admin"' not in board.text  # the teacher is not an admin
        assert f'href="{hub}static/css/style.min.css?v=' in board.text
        css = await teacher.get(public_host(app) + f"{hub}static/css/style.min.css")
        assert css.status_code == 200  # the hub serves what the page names
        rows = await dashboard_rows(
            teacher,
            app,
            lambda rows: rows.get("ann", {}).get("oom_kills") and rows["ann"]["cpu_used"] != "-",
        )
        a = rows["ann"]
        assert (a["server"], a["memory"], a["cpu"], a["disk_limit"]) == (
            "running",
            "300M",
            "1",
            "40M",
        )
        assert a["memory_used_bytes"] > 10 * 1024**2, a  # the cgroup, read for real
        assert a["oom_kills"] == 1 and "300M" in a["last_event"]
        assert rows["bob"]["server"] == "stopped" and rows["teacher"]["memory"] == "600M"

        # the dashboard holds nothing of the hub's and runs unprivileged
        names, uids = dashboard_process(app)
        assert "CONFIGPROXY_AUTH_TOKEN" not in names and "JHUB_KIT_TEST_HUB_SECRET" not in names
        assert "JHUB_KIT_CONFIG" not in names, names  # it runs no config file
        assert set(uids) == {pwd.getpwnam("nobody").pw_uid}, uids

        # the same numbers as `jhub-kit quota report`
        token = app.users["admin"].new_api_token()
        env = {"JUPYTERHUB_URL": public_url(app).rstrip("/"), "JUPYTERHUB_API_TOKEN": token}
        out = await asyncio.to_thread(
            CliRunner().invoke,
            main,
            ["quota", "report", "-f", str(cfg), "--format", "json"],
            env=env,
        )
        assert out.exit_code == 0, out.output
        for rep in json.loads(out.output):
            row = rows[rep["user"]]
            assert (row["memory"], row["cpu"], row["disk_limit"]) == (
                rep["memory"],
                rep["cpu"],
                rep["disk_limit"],
            ), rep["user"]

        # `jhub-kit server inspect`: a cold start's container (its usual name)
        out = await asyncio.to_thread(
            CliRunner().invoke, main, ["server", "inspect", "ann"], env=env
        )
        assert out.exit_code == 0, out.output
        ann_sp = app.users["ann"].spawner
        assert f"container {ann_sp.object_name} (" in out.output, out.output
        assert "started for them" in out.output and "memory  300M" in out.output, out.output
        assert "These are the kit's quota" in out.output, out.output
        out = await asyncio.to_thread(
            CliRunner().invoke, main, ["server", "inspect", "bob"], env=env
        )
        assert out.exit_code == 1 and "bob's server is not running" in out.output, out.output

        csv_text = (await page(teacher, app, "services/class-dashboard/data.csv")).text
        header = "user,groups,server_name,server,profile,memory_used"
        assert csv_text.splitlines()[0].startswith(header)
        assert any(line.startswith("ann,,,running,") for line in csv_text.splitlines())

        # a student: 403 from the hub, no data
        r, bob = await form_login(app, "bob", "any")
        assert r.status_code == 302
        for path in ("services/class-dashboard/", "services/class-dashboard/data.json"):
            denied = await page(bob, app, path)
            assert denied.status_code == 403, (path, denied.status_code)
            assert "ann" not in denied.text
