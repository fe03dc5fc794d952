"""Teachers act from the class dashboard, on a real hub from the bundle: the teacher
of class-a raises a student's memory (written to the teachers' own policy file by the
dashboard as nobody, the admin's file untouched), stops and
starts the student's server through the dashboard, and the new container has the
new limit (``docker inspect``); the teacher of class-b, the student and a request
without JupyterHub's XSRF token get 403; the audit record holds each change; the
CLI reaches the same endpoints with a teacher's API token and the same rules.
Then the teacher opens the student's server (recorded; the hub lets them in with
``access:servers!group=``) and gives them more idle time for today (the extensions
file the culler reads); the other teacher, the student and a forged request are
refused; each teacher reads only their groups' record, the admin all; the student's
hub page shows the opening and the extension.
Real engine, hub, proxy, dashboard process and OAuth."""

from __future__ import annotations

import asyncio
import json
import pwd
import re
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import TEST_PREFIX
from hubutil import bundle_config_file, ensure_user, form_login, own_network, running_hub
from jupyterhub.tests.utils import public_url
from jupyterhub.utils import url_path_join
from traitlets.config.loader import PyFileConfigLoader

from jhub_kit.cli import main

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.root]

NET = f"{TEST_PREFIX}-teach"
MB = 1024**2

# the dashboard becomes its default user (nobody), as on a root hub; pytest's own
# folders are root's alone, so the teachers' files sit in a folder anyone may enter
BEFORE = """\
c.JhubKit.teachers = {{"teach-a": ["class-a"], "teach-b": ["class-b"]}}
c.JhubKit.teacher_ceiling = {{"mem_limit": "1G", "cpu_limit": 2, "idle_timeout": "4h"}}
c.JhubKit.teacher_audit_log = {audit!r}
"""
EXTRA = """\
c.QuotaDockerSpawner.teacher_policy_file = {teachers!r}
c.QuotaDockerSpawner.mem_limit = "512M"
c.QuotaDockerSpawner.quota_policy_file = {policy!r}
c.QuotaDockerSpawner.disk_limit = "40M"
c.Authenticator.admin_users = {{"admin"}}
"""
POLICY = "# the admin's file\n[defaults]\npids_limit = 512\n"


@pytest.fixture
def net(docker_client):
    with own_network(docker_client, NET) as n:
        yield n


def board(app, path: str = "") -> str:
    return url_path_join(public_url(app), "services/class-dashboard/", path)


async def xsrf_of(session, app) -> str:
    """The dashboard page (after JupyterHub's OAuth) and the XSRF token it carries."""
    r = await session.get(board(app))
    assert r.status_code == 200, r.text[:300]
    found = re.search(r'<meta name="xsrf" content="([^"]+)"', r.text)
    assert found, "no XSRF token on the page"
    return found.group(1)


async def act(session, app, path: str, xsrf: str | None, body: dict | None = None):
    headers = {"X-XSRFToken": xsrf} if xsrf else {}
    return await session.post(board(app, path), json=body or {}, headers=headers)


def memory_of(docker_client, app, name: str) -> int:
    sp = app.users[name].spawner
    return docker_client.containers.get(sp.container_id).attrs["HostConfig"]["Memory"]


async def wait_for(check, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.3)


async def test_a_teacher_changes_a_students_memory_and_stops_and_starts_them(
    docker_client, test_image, chp, net, mount_area, tmp_path, docker_debug, request
):
    policy = tmp_path / "quotas.toml"
    policy.write_text(POLICY)
    shared = Path(tempfile.mkdtemp(prefix="jhub-kit-teach-"))
    shared.chmod(0o755)
    request.addfinalizer(lambda: shutil.rmtree(shared, ignore_errors=True))
    teachers = shared / "teachers" / "policy.toml"  # made by the hub, for nobody
    audit = shared / "teachers" / "audit.jsonl"
    userlist = (  # a login keeps the groups the userlist gives
        "admin admin\nteach-a group:teachers\nteach-b group:teachers\n"
        "ann group:class-a\nbob group:class-b\n"
    )
    cfg = bundle_config_file(
        tmp_path,
        test_image,
        NET,
        userlist,
        EXTRA.format(policy=str(policy), teachers=str(teachers)),
        before=BEFORE.format(audit=str(audit)),
    )
    c = PyFileConfigLoader(cfg.name, str(tmp_path)).load_config()
    async with running_hub(c) as app:
        for name, groups in [("ann", ("class-a",)), ("bob", ("class-b",))]:
            ensure_user(app, name, groups)
        r, teach_a = await form_login(app, "teach-a", "any")
        assert r.status_code == 302
        xsrf_a = await xsrf_of(teach_a, app)

        # the teacher starts the student's server from the dashboard (their own token)
        r = await act(teach_a, app, "api/users/ann/start", xsrf_a)
        assert r.status_code == 200, r.text
        ann = app.users["ann"]
        await wait_for(lambda: ann.running and not ann.spawner.pending, "ann never started")
        assert memory_of(docker_client, app, "ann") == 512 * MB

        # no XSRF token with the cookie: refused, nothing written
        before = policy.read_text()
        r = await act(teach_a, app, "api/users/ann/limits", None, {"mem_limit": "1G"})
        assert r.status_code == 403, r.text
        assert policy.read_text() == before

        # the teacher of another group: 403 on each action, for a student of class-a
        r, teach_b = await form_login(app, "teach-b", "any")
        xsrf_b = await xsrf_of(teach_b, app)
        for path, body in [
            ("api/users/ann/limits", {"mem_limit": "1G"}),
            ("api/groups/class-a/limits", {"mem_limit": "1G"}),
            ("api/users/ann/stop", None),
            ("api/users/ann/start", None),
        ]:
            r = await act(teach_b, app, path, xsrf_b, body)
            assert r.status_code == 403, (path, r.status_code, r.text)
        assert policy.read_text() == before and ann.running

        # a student: the hub does not even let them into the service
        r, bob = await form_login(app, "bob", "any")
        r = await bob.get(board(app))
        assert r.status_code == 403
        r = await act(bob, app, "api/users/ann/stop", None)
        assert r.status_code == 403 and ann.running

        # above the admin's ceiling: 400, nothing written
        r = await act(teach_a, app, "api/users/ann/limits", xsrf_a, {"mem_limit": "2G"})
        assert r.status_code == 400 and "ceiling" in r.json()["message"], r.text
        assert policy.read_text() == before

        # the hub gave the teachers' folder to the dashboard's user, nobody
        assert teachers.parent.stat().st_uid == pwd.getpwnam("nobody").pw_uid
        assert not teachers.exists()

        # the teacher of class-a raises ann's memory: the teachers' file says so,
        # written by the dashboard as nobody; the admin's file is left as it was
        r = await act(teach_a, app, "api/users/ann/limits", xsrf_a, {"mem_limit": "1G"})
        assert r.status_code == 200, r.text
        assert r.json()["changes"] == [
            {"target": "user:ann", "limit": "mem_limit", "old": None, "new": "1G"}
        ]
        assert "[users.ann]" in teachers.read_text() and policy.read_text() == POLICY
        assert teachers.stat().st_uid == pwd.getpwnam("nobody").pw_uid
        assert memory_of(docker_client, app, "ann") == 512 * MB  # until the next start

        # stop and start from the dashboard: the new container has 1G
        r = await act(teach_a, app, "api/users/ann/stop", xsrf_a)
        assert r.status_code == 200, r.text
        await wait_for(lambda: not ann.running and not ann.spawner.pending, "ann never stopped")
        r = await act(teach_a, app, "api/users/ann/start", xsrf_a)
        assert r.status_code == 200, r.text
        await wait_for(lambda: ann.running and not ann.spawner.pending, "ann never restarted")
        assert memory_of(docker_client, app, "ann") == 1024 * MB

        # the record: who, when, old, new; and the actions
        r = await teach_a.get(board(app, "api/audit"))
        assert r.status_code == 200
        records = r.json()["records"]
        assert [(x["action"], x["target"]) for x in reversed(records)] == [
            ("start", "user:ann"),
            ("limits", "user:ann"),
            ("stop", "user:ann"),
            ("start", "user:ann"),
        ]
        change = records[2]
        assert (change["who"], change["limit"], change["old"], change["new"]) == (
            "teach-a",
            "mem_limit",
            None,
            "1G",
        )
        assert len(audit.read_text().splitlines()) == 4

        # the CLI: the same endpoints with a teacher's API token, the same rules
        for teacher, expected in [("teach-b", 1), ("teach-a", 0)]:
            token = app.users[teacher].new_api_token()
            env = {"JUPYTERHUB_URL": public_url(app).rstrip("/"), "JUPYTERHUB_API_TOKEN": token}
            out = await asyncio.to_thread(
                CliRunner().invoke, main, ["class", "limits", "ann", "--cpu", "2"], env=env
            )
            assert out.exit_code == expected, (teacher, out.output)
        assert "cpu_limit = 2" in teachers.read_text() and policy.read_text() == POLICY
        last = json.loads(audit.read_text().splitlines()[-1])
        assert (last["who"], last["limit"], last["new"]) == ("teach-a", "cpu_limit", 2)

        # -- open a student's server to help them (issue 39) --
        for caller, session, xsrf in [("teach-b", teach_b, xsrf_b), ("bob", bob, None)]:
            r = await act(session, app, "api/users/ann/open", xsrf)
            assert r.status_code == 403, (caller, r.text)
        r = await act(teach_a, app, "api/users/ann/open", None)  # forged: no XSRF token
        assert r.status_code == 403, r.text
        r = await act(teach_a, app, "api/users/bob/open", xsrf_a)  # not their student
        assert r.status_code == 403, r.text
        assert "open" not in audit.read_text()
        r = await act(teach_a, app, "api/users/ann/open", xsrf_a)
        assert r.status_code == 200, r.text
        assert r.json()["url"] == app.users["ann"].url  # the hub's own: <base>/user/ann/
        # the hub itself lets the teacher in (their access:servers!group=class-a)
        lab = url_path_join(public_url(app), "user/ann/lab")
        r = await teach_a.get(lab)  # through the hub's OAuth to ann's server: the hub
        assert r.status_code == 200 and "oauth2/authorize" in r.url  # asks the teacher
        form = dict(
            re.findall(r'<input type="hidden" name="(_xsrf|scopes)" value="([^"]*)"', r.text)
        )
        r = await teach_a.post(r.url, data=form)  # "Authorize", as the teacher clicks
        assert r.status_code == 200 and "/user/ann/lab" in r.url, (r.status_code, r.url)
        r = await teach_b.get(lab)
        assert r.status_code == 403, (r.status_code, r.url)

        # -- more idle time for today --
        extensions = audit.with_name("idle_extensions.json")
        for path in ["api/users/ann/extend", "api/groups/class-a/extend"]:
            r = await act(teach_b, app, path, xsrf_b)
            assert r.status_code == 403, (path, r.text)
            r = await act(bob, app, path, None)  # a student
            assert r.status_code == 403, (path, r.text)
            r = await act(teach_a, app, path, None)
            assert r.status_code == 403, (path, r.text)
        assert not extensions.exists()
        r = await act(teach_a, app, "api/groups/class-a/extend", xsrf_a)
        assert r.status_code == 200, r.text
        assert r.json()["users"] == ["ann"]
        until = r.json()["until"]
        given = json.loads(extensions.read_text())["users"]
        assert set(given) == {"ann"} and given["ann"]["until"] == until
        assert extensions.stat().st_mode & 0o777 == 0o644  # the culler and the hub read it
        r = await act(teach_b, app, "api/users/bob/extend", xsrf_b)  # their own student
        assert r.status_code == 200, r.text
        token = app.users["teach-b"].new_api_token()
        env = {"JUPYTERHUB_URL": public_url(app).rstrip("/"), "JUPYTERHUB_API_TOKEN": token}
        out = await asyncio.to_thread(CliRunner().invoke, main, ["class", "extend", "ann"], env=env)
        assert out.exit_code == 1 and "403" in out.output, out.output

        # -- the record, per caller: each teacher their groups', the admin all --
        def targets(records):
            return {(x["action"], x["target"]) for x in records}

        r = await teach_a.get(board(app, "api/audit"))
        seen_a = targets(r.json()["records"])
        assert ("open", "user:ann") in seen_a and ("extend", "group:class-a") in seen_a
        assert not any(t.endswith(":bob") or t.endswith("class-b") for _, t in seen_a), seen_a
        r = await teach_b.get(board(app, "api/audit"))
        assert targets(r.json()["records"]) == {("extend", "user:bob")}
        r, admin = await form_login(app, "admin", "any")
        r = await admin.get(board(app))
        assert r.status_code == 200
        r = await admin.get(board(app, "api/audit"))
        assert targets(r.json()["records"]) == seen_a | {("extend", "user:bob")}

        # -- the student's hub page --
        r, ann_s = await form_login(app, "ann", "any")
        r = await ann_s.get(url_path_join(public_url(app), "hub/home"))
        assert r.status_code == 200
        assert re.search(r"Your teacher teach-a opened your server at \d\d:\d\d", r.text), r.text
        assert "Your teacher teach-a gave you more idle time today" in r.text
