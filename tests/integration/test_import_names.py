"""``jhub-kit users import`` of a class written in five languages, into a real hub:
every user exists under the username the import printed, in both modes."""

from __future__ import annotations

import asyncio

import pytest
from click.testing import CliRunner
from hubutil import running_hub
from jupyterhub import orm
from jupyterhub.tests.utils import public_url
from traitlets.config import Config

from jhub_kit.cli import main

pytestmark = pytest.mark.hub

CLASS = """\
name;email;groups
山田 太郎;yamada@school.jp;class-a
김민수;minsu@school.kr;class-a
王小明;xiaoming@school.cn;class-a
Łukasz Żółć;lukasz@school.pl;class-b
İsmail Çağlar;ismail@school.tr;class-b
"""
UNICODE = ["山田.太郎", "김민수", "王小明", "łukasz.żółć", "ismail.çağlar"]
ASCII = ["shantian.tailang", "gimminsu", "wangxiaoming", "lukasz.zolc", "ismail.caglar"]


@pytest.fixture(scope="module")
async def hub(chp):
    c = Config()
    c.JupyterHub.authenticator_class = "dummy"
    c.Authenticator.admin_users = {"admin"}
    async with running_hub(c) as app:
        yield app


async def cli(hub, *args):
    token = hub.users["admin"].new_api_token()
    env = {"JUPYTERHUB_URL": public_url(hub).rstrip("/"), "JUPYTERHUB_API_TOKEN": token}
    return await asyncio.to_thread(CliRunner().invoke, main, list(args), env=env)


def members(hub) -> dict[str, set[str]]:
    hub.db.expire_all()
    return {u.name: {g.name for g in u.groups} for u in hub.db.query(orm.User)}


@pytest.mark.parametrize(
    "options, usernames", [([], UNICODE), (["--ascii-names"], ASCII)], ids=["unicode", "ascii"]
)
async def test_a_class_in_five_languages(hub, tmp_path, options, usernames):
    csv_file = tmp_path / "class.csv"
    csv_file.write_text(CLASS, encoding="utf-8")
    r = await cli(hub, "users", "import", str(csv_file), *options)
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[-6:] == [f"{u}: created" for u in usernames] + ["5 created"]
    users = members(hub)
    for u, group in zip(usernames, ["class-a"] * 3 + ["class-b"] * 2, strict=True):
        assert users.get(u) == {group}, (u, sorted(users))
    # each is found by the name the hub's API is asked with (percent-encoded UTF-8)
    r = await cli(hub, "users", "import", str(csv_file), *options, "--dry-run")
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[-1] == "0 to create, 5 existing (dry run)"
