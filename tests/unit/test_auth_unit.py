"""The userlist mixin on each authenticator class, without a hub (no services)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from traitlets.config import Config

from jhub_kit.auth import UserlistDummyAuthenticator, UserlistPAMAuthenticator, with_userlist
from jhub_kit.auth.native import UserlistNativeAuthenticator
from jhub_kit.auth.oauth import UserlistGenericOAuthenticator, UserlistGitHubOAuthenticator

CLASSES = [
    UserlistDummyAuthenticator,
    UserlistPAMAuthenticator,
    UserlistNativeAuthenticator,
    UserlistGitHubOAuthenticator,
    UserlistGenericOAuthenticator,
]


@pytest.fixture
def userlist(tmp_path):
    path = tmp_path / "userlist"
    path.write_text("Teacher admin group:teachers\nstudent1 group:class-a\n")
    return path


def make(cls, userlist, **extra):
    from jupyterhub import orm

    c = Config()
    c.UserlistMixin.userlist_file = str(userlist)
    for k, v in extra.items():
        setattr(c.Authenticator, k, v)
    db = orm.new_session_factory("sqlite://")()
    return cls(config=c, _deprecated_db_session=db)


def auth_model(name, admin=None):
    return {"name": name, "admin": admin, "auth_state": {}}


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
async def test_allowed_admin_and_defaults(cls, userlist):
    a = make(cls, userlist)
    assert await a.check_allowed("teacher", auth_model("teacher"))
    assert await a.check_allowed("student1", auth_model("student1"))
    assert not await a.check_allowed("mallory", auth_model("mallory"))
    assert await a.is_admin(None, auth_model("teacher")) is True
    assert await a.is_admin(None, auth_model("student1")) is False
    # JupyterHub < 6.1 has no auth_refresh_strict: it behaves as if it were True
    assert a.manage_groups is True and a.auth_refresh_age == 30
    assert getattr(a, "auth_refresh_strict", True)
    assert a.any_allow_config  # no "nobody can log in" warning


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
async def test_missing_file_fails_closed(cls, tmp_path):
    a = make(cls, tmp_path / "nope")
    assert not await a.check_allowed("teacher", auth_model("teacher"))
    assert not await a.is_admin(None, auth_model("teacher"))


async def test_other_allow_config_still_adds(userlist):
    a = make(UserlistDummyAuthenticator, userlist, allowed_users={"guest"})
    assert await a.check_allowed("guest", auth_model("guest"))


async def test_post_auth_sets_groups_keeping_unmanaged_ones(userlist):
    a = make(UserlistGitHubOAuthenticator, userlist)
    model = await a.run_post_auth_hook(None, {**auth_model("student1"), "groups": ["from-github"]})
    assert model["groups"] == ["class-a", "from-github"]
    # OAuthenticator with manage_groups and no auth_state_groups_key does not crash
    assert await a.get_user_groups({}) == set()


def fake_user(name, admin=False, groups=()):
    return SimpleNamespace(name=name, admin=admin, groups=[SimpleNamespace(name=g) for g in groups])


async def test_refresh_revokes_demotes_and_syncs_groups(userlist):
    a = make(UserlistDummyAuthenticator, userlist)
    assert await a.refresh_user(fake_user("teacher", True, ["teachers"])) is True  # up to date
    assert await a.refresh_user(fake_user("mallory")) is False  # not listed: revoked
    userlist.write_text("teacher group:staff\nstudent1 admin group:class-a\n")
    import os

    st = os.stat(userlist)
    os.utime(userlist, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert await a.refresh_user(fake_user("teacher", True, ["teachers", "manual"])) == {
        "name": "teacher",
        "admin": False,
        "groups": ["manual", "staff"],
    }
    assert await a.refresh_user(fake_user("student1", False, ["class-a"])) == {
        "name": "student1",
        "admin": True,
        "groups": ["class-a"],
    }


async def test_broken_file_never_revokes_open_sessions(userlist):
    a = make(UserlistDummyAuthenticator, userlist)
    a.userlist()
    userlist.write_text("teacher admn\n")
    import os

    st = os.stat(userlist)
    os.utime(userlist, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert await a.refresh_user(fake_user("student1")) is True
    assert not await a.check_allowed("student1", auth_model("student1"))  # but no new logins


def test_with_userlist_factory():
    from jupyterhub.auth import Authenticator

    cls = with_userlist(Authenticator)
    assert cls.__name__ == "UserlistAuthenticator" and issubclass(cls, Authenticator)


def test_entry_points_resolve():
    from importlib.metadata import entry_points

    names = {
        ep.name: ep.load()
        for ep in entry_points(group="jupyterhub.authenticators")
        if ep.name.startswith("userlist-")
    }
    assert names["userlist-native"] is UserlistNativeAuthenticator
    assert names["userlist-github"] is UserlistGitHubOAuthenticator
    spawners = {ep.name: ep.load() for ep in entry_points(group="jupyterhub.spawners")}
    assert spawners["quota-docker"].__name__ == "QuotaDockerSpawner"
