"""The admin CLI against a real hub: import 200 students, rerun, remove, report, tokens;
a class of 30 with NativeAuthenticator passwords (bcrypt at NativeAuthenticator's
cost: about 0.25 CPU-s each, so the class of 200 is imported without them)."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import stat

import pytest
from click.testing import CliRunner
from hubutil import running_hub
from jupyterhub.tests.utils import public_url
from traitlets.config import Config

from jhub_kit.cli import main

pytestmark = pytest.mark.hub

N = 200
#: the class imported with NativeAuthenticator passwords
N_NATIVE = 30


@pytest.fixture(scope="module")
async def hub(chp):
    c = Config()
    c.JupyterHub.authenticator_class = "dummy"
    c.Authenticator.admin_users = {"admin"}
    async with running_hub(c) as app:
        yield app


@pytest.fixture(scope="module")
def admin_token(hub):
    return hub.users["admin"].new_api_token()


async def cli(hub, token, *args, input=None):
    env = {"JUPYTERHUB_URL": public_url(hub).rstrip("/"), "JUPYTERHUB_API_TOKEN": token}
    return await asyncio.to_thread(CliRunner().invoke, main, list(args), env=env, input=input)


def class_csv(tmp_path, n=N, prefix="student"):
    lines = ["username,email,admin,groups,quota"]
    for i in range(n):
        admin = "yes" if i < 2 else "no"
        groups = "teachers" if i < 2 else f"class-{i % 4}"
        lines.append(f"{prefix}{i:03d},s{i}@school.org,{admin},{groups},")
    p = tmp_path / f"{prefix}.csv"
    p.write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n").encode())
    return p


def hub_names(hub):
    from jupyterhub import orm

    hub.db.expire_all()
    return {u.name for u in hub.db.query(orm.User)}


async def test_import_a_class_then_rerun(hub, admin_token, tmp_path):
    csv_file = class_csv(tmp_path)
    userlist = tmp_path / "userlist"
    userlist.write_text("admin admin\n")
    r = await cli(hub, admin_token, "users", "import", str(csv_file), "--userlist", str(userlist))
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[-1] == f"{N} created"
    names = hub_names(hub)
    assert {f"student{i:03d}" for i in range(N)} <= names
    assert hub.users["student000"].admin and not hub.users["student002"].admin
    assert sorted(g.name for g in hub.users["student005"].groups) == ["class-1"]
    lines = userlist.read_text().splitlines()
    assert lines[:3] == [
        "admin admin",
        "student000 admin group:teachers",
        "student001 admin group:teachers",
    ]
    assert "student002 group:class-2" in lines and len(lines) == N + 1
    # a rerun creates nothing and adds no line
    r = await cli(hub, admin_token, "users", "import", str(csv_file), "--userlist", str(userlist))
    assert r.exit_code == 0 and r.output.splitlines()[-1] == f"{N} existed"
    assert len(userlist.read_text().splitlines()) == N + 1
    # after a partial failure (some missing), only those are created
    for name in ("student010", "student011"):
        hub.users.delete(name)
    r = await cli(hub, admin_token, "users", "import", str(csv_file))
    assert r.exit_code == 0
    assert r.output.splitlines()[-1] == f"2 created, {N - 2} existed"
    assert "student010: created" in r.output


async def test_import_a_class_with_native_passwords(hub, admin_token, tmp_path):
    """Each new user gets a random password, written once to a 0600 file, stored as
    NativeAuthenticator stores it (its own table, bcrypt); a rerun sets none."""
    import bcrypt
    from nativeauthenticator.orm import UserInfo

    csv_file = class_csv(tmp_path, N_NATIVE, prefix="native")
    creds = tmp_path / "credentials.csv"
    args = ("users", "import", str(csv_file), "--native-db-url", hub.db_url)
    r = await cli(hub, admin_token, *args, "--credentials", str(creds))
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[-2:] == [
        f"{N_NATIVE} created",
        f"passwords of {N_NATIVE} new users written to {creds}",
    ]
    assert stat.S_IMODE(os.stat(creds).st_mode) == 0o600
    rows = list(csv.DictReader(creds.read_text().splitlines()))
    assert len(rows) == N_NATIVE and len({row["password"] for row in rows}) == N_NATIVE
    hub.db.expire_all()
    for row in rows[:: N_NATIVE // 3]:
        info = UserInfo.find(hub.db, row["username"])
        assert info.is_authorized
        assert bcrypt.checkpw(row["password"].encode(), info.password), row["username"]
    r = await cli(hub, admin_token, *args, "--credentials", str(tmp_path / "again.csv"))
    again = tmp_path / "again.csv"
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[-2:] == [
        f"{N_NATIVE} existed",
        f"no new users: no password set, {again} not written",
    ]
    assert not (tmp_path / "again.csv").exists()


async def test_bad_rows_create_nothing(hub, admin_token, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("username,admin\nnewbie1,no\nnew bie,no\nnewbie3,perhaps\n")
    before = hub_names(hub)
    r = await cli(hub, admin_token, "users", "import", str(bad))
    assert r.exit_code == 1
    assert r.output == (
        f"{bad}:3: 'new bie' is not a valid username "
        "(letters of any script, digits, '.', '_', '-', starting with a letter or digit; "
        "at most 64)\n"
        f"{bad}:4: admin must be yes or no, not 'perhaps'\n"
    )
    assert hub_names(hub) == before


async def test_dry_run_changes_nothing(hub, admin_token, tmp_path):
    p = tmp_path / "few.csv"
    p.write_text("name\nMaria Rossi\nMaria Rossi\n")
    before = hub_names(hub)
    r = await cli(hub, admin_token, "users", "import", str(p), "--dry-run")
    assert r.exit_code == 0
    assert r.output.splitlines() == [
        "maria.rossi: would be created",
        "maria.rossi2: would be created",
        "2 to create, 0 existing (dry run)",
    ]
    assert hub_names(hub) == before


async def test_tokens_missing_invalid_or_under_scoped(hub, tmp_path):
    p = tmp_path / "one.csv"
    p.write_text("username\nsomeone\n")
    r = await asyncio.to_thread(
        CliRunner().invoke,
        main,
        ["users", "import", str(p)],
        env={"JUPYTERHUB_URL": public_url(hub), "JUPYTERHUB_API_TOKEN": ""},
    )
    assert r.exit_code == 1 and "no API token: set JUPYTERHUB_API_TOKEN" in r.output
    r = await cli(hub, "not-a-token", "users", "import", str(p))
    assert r.exit_code == 1 and "Error: the token is invalid or expired" in r.output
    student_token = hub.users["student003"].new_api_token()
    r = await cli(hub, student_token, "users", "import", str(p))
    assert r.exit_code == 1
    assert "Error: the token lacks the scope(s) admin:users, admin:groups" in r.output
    assert "someone" not in hub_names(hub)


async def test_remove_and_quota_report(hub, admin_token, tmp_path):
    config = tmp_path / "jupyterhub_config.py"
    config.write_text(
        "c = get_config()\n"
        "c.QuotaDockerSpawner.mem_limit = '1G'\n"
        "c.QuotaDockerSpawner.quota_groups = {'teachers': {'mem_limit': '4G', 'cpu_limit': 2}}\n"
    )
    r = await cli(hub, admin_token, "quota", "report", "-f", str(config), "--format", "json")
    assert r.exit_code == 0, r.output
    report = {row["user"]: row for row in json.loads(r.output)}
    assert report["student000"]["memory"] == "4G" and report["student000"]["cpu"] == "2"
    assert report["student005"]["memory"] == "1G" and report["student005"]["groups"] == "class-1"
    assert report["student005"]["running"] is False
    r = await cli(hub, admin_token, "quota", "report", "-f", str(config))
    assert r.output.splitlines()[0].split() == [
        "user",
        "groups",
        "memory",
        "cpu",
        "pids",
        "disk_used",
        "disk_limit",
        "running",
    ]
    r = await cli(hub, admin_token, "users", "remove", "student199")
    assert r.exit_code == 0 and r.output == "deleted student199 from the hub\n"
    assert "student199" not in hub_names(hub)
    r = await cli(hub, admin_token, "users", "remove", "student198", "--forever")
    assert r.exit_code == 2 and "--forever needs -f jupyterhub_config.py" in r.output
