"""NativeAuthenticator + userlist on a real hub: nobody can squat the admin name."""

from __future__ import annotations

import os

import nativeauthenticator
import pytest
from hubutil import form_login, running_hub
from jupyterhub.tests.utils import AsyncSession, public_url
from jupyterhub.utils import url_path_join
from nativeauthenticator.orm import UserInfo
from tornado.httputil import url_concat
from traitlets.config import Config

from jhub_kit.auth.native import set_password

pytestmark = pytest.mark.hub

STRONG = "c0rrect-h0rse-battery"


async def signup(app, name, password=STRONG):
    s = AsyncSession()
    url = url_path_join(public_url(app), "hub/signup")
    r = await s.get(url)
    r.raise_for_status()
    return await s.post(
        url_concat(url, {"_xsrf": r.cookies["_xsrf"]}),
        data={
            "username": name,
            "signup_password": password,
            "signup_password_confirmation": password,
        },
    )


async def login(app, name, password):
    r, _ = await form_login(app, name, password)
    if r.status_code == 302:
        return "in"
    # NativeAuthenticator answers a failed login with the form and a message
    assert r.status_code in (200, 403), r.status_code
    assert "Invalid username or password" in r.text or "has not been authorized" in r.text
    return "refused"


@pytest.fixture(scope="module")
async def hub(chp, tmp_path_factory):
    path = tmp_path_factory.mktemp("native") / "userlist"
    path.write_text("teacher admin\nstudent1\n")
    c = Config()
    c.JupyterHub.authenticator_class = "userlist-native"
    c.JupyterHub.template_paths = [
        os.path.join(os.path.dirname(nativeauthenticator.__file__), "templates")
    ]
    c.Authenticator.allow_all = False
    c.Authenticator.admin_users = set()
    c.UserlistMixin.userlist_file = str(path)
    async with running_hub(c) as app:
        yield app


async def test_stranger_cannot_claim_admin_name(hub):
    await signup(hub, "teacher", "stranger-s3cret-pass")
    assert UserInfo.find(hub.db, "teacher") is None  # refused
    assert await login(hub, "teacher", "stranger-s3cret-pass") == "refused"


async def test_admin_password_set_on_host_logs_in_as_admin(hub):
    assert set_password(hub.db, "teacher", STRONG) is True
    assert await login(hub, "teacher", STRONG) == "in"
    assert hub.users["teacher"].admin is True
    assert set_password(hub.db, "teacher", STRONG + "2") is False  # reset, not created
    assert await login(hub, "teacher", STRONG) == "refused"


async def test_listed_student_signs_up_then_needs_approval(hub):
    await signup(hub, "student1")
    info = UserInfo.find(hub.db, "student1")
    assert info is not None and not info.is_authorized
    assert await login(hub, "student1", STRONG) == "refused"
    info.is_authorized = True  # what the admin's /hub/authorize page does
    hub.db.commit()
    assert await login(hub, "student1", STRONG) == "in"


async def test_unlisted_signed_up_user_cannot_log_in(hub):
    await signup(hub, "mallory")
    info = UserInfo.find(hub.db, "mallory")
    info.is_authorized = True
    hub.db.commit()
    assert await login(hub, "mallory", STRONG) == "refused"
