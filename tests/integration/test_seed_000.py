"""Seed 000 as the Japanese post deploys it: the hub in a container on the host's
network, the stock spawner (LocalProcessSpawner), NativeAuthenticator sign-up,
and a Unix account with a home per user made before the first spawn: the post's
``bootstrap.sh`` (``adduser`` from a shell) replaced by the kit's
SystemUserProvisioner as a stock ``pre_spawn_hook``.

The hub image is example_config/'s Dockerfile, built offline from the checkout's
wheel. Traffic stays on 127.0.0.1 (the container shares the host's network, as in
the post); accounts are made inside the hub's container, never on the test host.
"""

from __future__ import annotations

import contextlib
import re
import time

import pytest
import requests
from conftest import TEST_PREFIX, dump_containers
from ports import free_port

pytestmark = [pytest.mark.docker, pytest.mark.hub]

HUB = f"{TEST_PREFIX}-seed000-hub"
PASSWORD = "c0rrect-h0rse-battery"

CONFIG = """\
# seed 000 with jhub_kit: the post's config, with the bootstrap script replaced
import os

import nativeauthenticator

from jhub_kit.provision import pre_spawn_hook

c = get_config()  # noqa: F821
c.JupyterHub.authenticator_class = "userlist-native"  # NativeAuthenticator + userlist
c.UserlistMixin.userlist_file = "/srv/seed000/userlist"
native_templates = os.path.join(os.path.dirname(nativeauthenticator.__file__), "templates")
c.JupyterHub.template_paths = [native_templates]
# the stock spawner: servers run as the students' Unix accounts
c.Spawner.notebook_dir = "/home"
c.Spawner.default_url = "/lab/tree/{{username}}"
c.Spawner.pre_spawn_hook = pre_spawn_hook("system-user")
c.SystemUserProvisioner.base_dir = "/srv/seed000/data/homes"  # the kit's record of homes
# persistence, as the post mounts /srv/jupyterhub
c.JupyterHub.db_url = "sqlite:////srv/seed000/data/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "/srv/seed000/data/jupyterhub_cookie_secret"
# test rig: loopback ports of its own
c.JupyterHub.bind_url = "http://127.0.0.1:{port}"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
"""


@pytest.fixture
def seed000_hub(docker_client, kit_hub_image, tmp_path):
    port, hub_port, api_port = (free_port() for _ in range(3))
    (tmp_path / "data").mkdir()
    (tmp_path / "userlist").write_text("teacher admin\nstudent1\n")
    (tmp_path / "jupyterhub_config.py").write_text(
        CONFIG.format(port=port, hub_port=hub_port, api_port=api_port)
    )
    container = docker_client.containers.run(
        kit_hub_image,
        ["jupyterhub", "-f", "/srv/seed000/jupyterhub_config.py"],
        name=HUB,
        detach=True,
        network_mode="host",  # as the post's docker-compose.yml
        volumes={str(tmp_path): {"bind": "/srv/seed000", "mode": "rw"}},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{url}/hub/api", timeout=5).status_code == 200:
                    break
            container.reload()
            assert container.status == "running", container.logs().decode()[-3000:]
            assert time.monotonic() < deadline, "the seed-000 hub did not answer in 120 s"
            time.sleep(1)
        yield container, url
    except BaseException:
        print(container.logs().decode("utf-8", "replace")[-6000:])
        dump_containers(docker_client)
        raise
    finally:
        container.remove(force=True)


def _session() -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    return s


def _form(s: requests.Session, url: str, data: dict) -> requests.Response:
    r = s.get(url)
    r.raise_for_status()
    return s.post(url, data={**data, "_xsrf": _xsrf(s)})


def _xsrf(s: requests.Session) -> str:
    """The hub's XSRF cookie (the servers set their own, on other paths)."""
    value = s.cookies.get("_xsrf", path="/hub/")
    assert value, list(s.cookies)
    return value


def login(url: str, name: str, password: str) -> requests.Session:
    s = _session()
    r = _form(s, f"{url}/hub/login", {"username": name, "password": password})
    assert r.status_code == 200 and "/hub/login" not in r.url, (name, r.status_code, r.url)
    return s


def test_seed_000_signup_and_system_user_homes(seed000_hub):
    container, url = seed000_hub

    # the admin's password is set on the host (the sign-up form refuses admin names)
    code, out = container.exec_run(
        [
            "jhub-kit",
            "users",
            "set-password",
            "teacher",
            "--generate",
            "--db-url",
            "sqlite:////srv/seed000/data/jupyterhub.sqlite",
        ]
    )
    assert code == 0, out
    teacher_password = re.search(r"password: (\S+)", out.decode()).group(1)

    # a listed student signs up, waits for approval, the teacher approves in the browser
    r = _form(
        _session(),
        f"{url}/hub/signup",
        {
            "username": "student1",
            "signup_password": PASSWORD,
            "signup_password_confirmation": PASSWORD,
        },
    )
    assert r.status_code == 200, r.status_code
    r = _form(_session(), f"{url}/hub/login", {"username": "student1", "password": PASSWORD})
    assert "/hub/login" in r.url  # not yet approved
    teacher = login(url, "teacher", teacher_password)
    assert teacher.get(f"{url}/hub/authorize/student1").status_code == 200

    # the student logs in and starts a server: the account and home are made first
    student = login(url, "student1", PASSWORD)
    student.get(f"{url}/hub/spawn")
    deadline = time.monotonic() + 120
    while True:
        r = student.get(f"{url}/user/student1/lab/tree/student1")
        if r.status_code == 200 and r.url.startswith(f"{url}/user/student1/lab"):
            break
        assert time.monotonic() < deadline, (r.status_code, r.url)
        time.sleep(2)
    r = student.get(f"{url}/user/student1/api/contents/student1")
    assert r.status_code == 200 and r.json()["type"] == "directory", r.text

    code, out = container.exec_run(
        [
            "sh",
            "-c",
            "id -u student1; stat -c %U:%a /home/student1; "
            # [r]: this shell's own command line does not match
            "for p in /proc/[0-9]*; do grep -qa 'jupyterhub-singleuse[r]' $p/cmdline 2>/dev/null"
            " && stat -c %U $p; done; true",
        ]
    )
    assert code == 0, out
    uid, home, *server_users = out.decode().split()
    assert int(uid) >= 1000 and home.startswith("student1:")
    # each server runs as its user's account (the teacher's started at their login), none as root
    assert set(server_users) == {"student1", "teacher"}, server_users

    # stop and start again: the account and its home are kept, nothing re-created
    r = student.delete(
        f"{url}/hub/api/users/student1/server", headers={"X-XSRFToken": _xsrf(student)}
    )
    assert r.status_code in (202, 204), r.text
    deadline = time.monotonic() + 60
    while student.get(f"{url}/hub/api/user").json().get("server"):
        assert time.monotonic() < deadline
        time.sleep(1)
    code, _ = container.exec_run(["sh", "-c", "echo kept > /home/student1/mark"])
    assert code == 0
    student.get(f"{url}/hub/spawn")
    deadline = time.monotonic() + 120
    while True:
        r = student.get(f"{url}/user/student1/api/contents/student1/mark")
        if r.status_code == 200:
            break
        if r.status_code == 403:  # the new server's login through the hub: a page first
            student.get(f"{url}/user/student1/lab")
        assert time.monotonic() < deadline, (r.status_code, r.url)
        time.sleep(2)
    assert r.json()["content"] == "kept\n"
