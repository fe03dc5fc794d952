"""The userlist against a real JupyterHub: login, 403, revocation, admin, groups."""

from __future__ import annotations

import asyncio
import os

import pytest
from hubutil import form_login, running_hub
from jupyterhub.tests.utils import public_url
from jupyterhub.utils import url_path_join
from traitlets.config import Config

pytestmark = pytest.mark.hub


def touch_later(path, seconds: int) -> None:
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + seconds * 10**9))


async def login(app, name, password="pw"):
    r, s = await form_login(app, name, password)
    return r.status_code, s


async def home(app, s):
    return await s.get(url_path_join(public_url(app), "hub/home"), allow_redirects=False)


@pytest.fixture(scope="module")
def userlist(tmp_path_factory):
    path = tmp_path_factory.mktemp("ul") / "userlist"
    path.write_text("Alice admin group:teachers\nbob group:class-a\n")
    return path


@pytest.fixture(scope="module")
async def hub(chp, userlist):
    c = Config()
    c.JupyterHub.authenticator_class = "userlist-dummy"
    c.Authenticator.allow_all = False  # MockHub would force True otherwise
    c.UserlistMixin.userlist_file = str(userlist)
    c.UserlistMixin.auth_refresh_age = 1
    async with running_hub(c) as app:
        yield app


def group_names(app, name):
    return sorted(g.name for g in app.users[name].groups)


async def test_listed_user_gets_in_unlisted_gets_403(hub):
    status, _ = await login(hub, "alice")
    assert status == 302
    assert hub.users["alice"].admin is True
    assert group_names(hub, "alice") == ["teachers"]
    status, _ = await login(hub, "bob")
    assert status == 302
    assert hub.users["bob"].admin is False
    assert group_names(hub, "bob") == ["class-a"]
    status, _ = await login(hub, "mallory")
    assert status == 403


async def test_removing_a_line_locks_the_user_out(hub, userlist):
    status, s = await login(hub, "bob")
    assert status == 302
    assert (await home(hub, s)).status_code == 200
    userlist.write_text("Alice admin group:teachers\n")
    touch_later(userlist, 5)
    await asyncio.sleep(1.2)  # auth_refresh_age
    r = await home(hub, s)
    assert r.status_code == 302 and "/hub/login" in r.headers["Location"]
    status, _ = await login(hub, "bob")
    assert status == 403


async def test_promote_and_demote_take_effect(hub, userlist):
    userlist.write_text("alice group:staff\nbob admin group:class-a\n")
    touch_later(userlist, 10)
    status, alice = await login(hub, "alice")
    assert status == 302 and hub.users["alice"].admin is False
    assert group_names(hub, "alice") == ["staff"]  # teachers dropped, staff joined
    status, bob = await login(hub, "bob")
    assert status == 302 and hub.users["bob"].admin is True
    # a promotion and a demotion reach open sessions at their next refresh, no new login
    userlist.write_text("alice admin group:staff\nbob group:class-a\n")
    touch_later(userlist, 15)
    await asyncio.sleep(1.2)
    assert (await home(hub, alice)).status_code == 200
    assert hub.users["alice"].admin is True
    assert (await home(hub, bob)).status_code == 200
    assert hub.users["bob"].admin is False


async def test_broken_file_fails_closed_and_recovers(hub, userlist):
    userlist.write_text("alice admn\n")
    touch_later(userlist, 20)
    status, _ = await login(hub, "alice")
    assert status == 403
    userlist.write_text("alice admin\n")
    touch_later(userlist, 25)
    status, _ = await login(hub, "alice")
    assert status == 302
