"""A real JupyterHub (jupyterhub.tests.mocking.MockHub) with the kit's spawner.

The Hub, configurable-http-proxy and single-user containers all talk over
127.0.0.1; containers use host networking.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from typing import Any

import requests
from conftest import TEST_PREFIX
from jupyterhub.tests.mocking import MockHub
from jupyterhub.tests.utils import api_request, public_url
from jupyterhub.utils import url_path_join
from kit_testing import (  # noqa: F401 - re-exported for the tests
    CLIENT_THREADS,
    ensure_user,
    in_client_thread,
    running_hub,
    stop_hub,
)
from traitlets.config import Config

#: run in a server as ``python3 -c PROBE '{"name": [host, port], ...}'``: prints
#: {"name": "open" | "refused" | "timed out" | "error N"}
PROBE = r"""
import json, socket, sys
out = {}
for name, (host, port) in json.loads(sys.argv[1]).items():
    s = socket.socket()
    s.settimeout(3)
    try:
        s.connect((host, port))
        out[name] = "open"
    except ConnectionRefusedError:
        out[name] = "refused"
    except socket.timeout:
        out[name] = "timed out"
    except OSError as e:
        out[name] = f"error {e.errno}"
    finally:
        s.close()
print(json.dumps(out))
"""


def kit_config(image: str, **spawner: Any) -> Config:
    """Config for a hub that spawns the test image with QuotaDockerSpawner."""
    c = Config()
    # MockHub's default MockPAMAuthenticator shares an executor that the first
    # hub's cleanup shuts down, which breaks a second hub in the same test
    c.JupyterHub.authenticator_class = "dummy"
    c.Authenticator.admin_users = {"admin"}  # api_request() acts as "admin"
    c.JupyterHub.spawner_class = "jhub_kit.QuotaDockerSpawner"
    c.QuotaDockerSpawner.image = image
    c.QuotaDockerSpawner.network_name = "host"
    c.QuotaDockerSpawner.prefix = TEST_PREFIX
    c.QuotaDockerSpawner.pull_policy = "never"
    c.QuotaDockerSpawner.start_timeout = 120
    c.QuotaDockerSpawner.http_timeout = 120
    c.QuotaDockerSpawner.poll_interval = 5
    for key, value in spawner.items():
        setattr(c.QuotaDockerSpawner, key, value)
    return c


async def spawn_request(app: MockHub, name: str, **kwargs: Any) -> requests.Response:
    """POST /users/NAME/server as the admin, on a thread of its own.

    (jupyterhub.tests.utils.api_request runs every request on one shared
    thread, which would serialize simultaneous spawns.)
    """
    from jupyterhub.tests.utils import auth_header

    url = url_path_join(public_url(app), "hub/api/users", name, "server")
    headers = {**auth_header(app.db, "admin"), "Sec-Fetch-Mode": "cors"}
    return await in_client_thread(requests.post, url, headers=headers, timeout=300, **kwargs)


async def start_server(app: MockHub, name: str, timeout: float = 180) -> Any:
    """Start ``name``'s default server through the REST API and wait until ready."""
    r = await spawn_request(app, name)
    assert r.status_code in (201, 202), f"spawn request failed: {r.status_code} {r.text}"
    user = app.users[name]
    deadline = time.monotonic() + timeout
    while user.spawner.pending:
        assert time.monotonic() < deadline, f"{name}'s server never became ready"
        await asyncio.sleep(0.2)
    assert user.running, f"{name}'s server is not running after spawn"
    return user


async def stop_server(app: MockHub, name: str, timeout: float = 60) -> None:
    r = await api_request(app, "users", name, "server", method="delete")
    assert r.status_code in (202, 204), f"stop request failed: {r.status_code} {r.text}"
    user = app.users[name]
    deadline = time.monotonic() + timeout
    while user.spawner.pending or user.running:
        assert time.monotonic() < deadline, f"{name}'s server never stopped"
        await asyncio.sleep(0.2)


async def server_get(app: MockHub, name: str, path: str = "api/status") -> requests.Response:
    """GET a path of ``name``'s server through the proxy, with the user's token."""
    user = app.users[name]
    token = user.new_api_token()
    url = url_path_join(public_url(app, user), path)
    return await in_client_thread(
        requests.get, url, headers={"Authorization": f"token {token}"}, timeout=30
    )


async def container_exec(docker_client, name: str, cmd: list[str], **kw) -> tuple[int, str]:
    """Run ``cmd`` in ``name``'s server container; return (exit code, output)."""
    container = docker_client.containers.get(f"{TEST_PREFIX}-{name}")
    result = await in_client_thread(container.exec_run, cmd, **kw)
    return result.exit_code, result.output.decode("utf-8", "replace")


async def form_login(app: MockHub, name: str, password: str):
    """Submit the hub's login form; return (response, session). Redirects not followed."""
    from jupyterhub.tests.utils import AsyncSession
    from tornado.httputil import url_concat

    s = AsyncSession()
    url = url_path_join(public_url(app), "hub/login")
    r = await s.get(url)
    r.raise_for_status()
    r = await s.post(
        url_concat(url, {"_xsrf": r.cookies["_xsrf"]}),
        data={"username": name, "password": password},
        allow_redirects=False,
    )
    return r, s


async def failed_spawn(app: MockHub, name: str, timeout: float = 60) -> Any:
    """Ask for ``name``'s server, wait until the start is over; it must have failed.
    Returns the exception (a SpawnException: ``.message`` is what the student reads).

    JupyterHub 6.1 may answer 201 to a spawn that fails within ``slow_spawn_timeout``;
    the failure itself is on the spawn future, which the pending page reports."""
    spawner = app.users[name].spawner
    r = await spawn_request(app, name)
    assert r.status_code in (201, 202, 500), (r.status_code, r.text)
    deadline = time.monotonic() + timeout
    while spawner.pending:
        assert time.monotonic() < deadline, f"{name}'s start never ended"
        await asyncio.sleep(0.1)
    assert not app.users[name].running, f"{name}'s server started"
    return spawner._spawn_future.exception()


@contextlib.contextmanager
def own_network(docker_client: Any, name: str) -> Iterator[Any]:
    """A user-defined bridge network of the test's own; removed afterwards with its
    containers and the kit's isolation rules for it."""
    from jhub_kit.network import firewall

    for old in docker_client.networks.list(names=[name]):
        old.remove()
    net = docker_client.networks.create(name, driver="bridge", labels={"io.jhub-kit.test": "1"})
    try:
        yield net
    finally:
        net.reload()
        for c in net.containers:
            c.remove(force=True)
        asyncio.run(firewall.remove(firewall.Isolation(firewall.bridge_of(net.attrs), ())))
        net.remove()


BUNDLE = """\
import jhub_kit
c = get_config()
c.JhubKit.authenticator = {auth!r}
c.JhubKit.data_dir = {data!r}
c.JhubKit.userlist = {userlist!r}
c.JhubKit.image = {image!r}
c.JhubKit.network_name = {net!r}
c.JhubKit.idle_timeout = {idle}
c.JhubKit.dashboard_settings = "/run/jhub-kit/{prefix}-class-dashboard.json"
{before}
jhub_kit.configure(c)
c.QuotaDockerSpawner.prefix = {prefix!r}
c.QuotaDockerSpawner.pull_policy = "never"
c.QuotaDockerSpawner.home_provisioner = "loopfile"
c.HomeProvisioner.base_dir = {homes!r}
"""


def bundle_config_file(
    tmp_path, image: str, net: str, userlist: str, extra: str = "", before: str = "", **kw
):
    """A jupyterhub_config.py from the bundle (``jhub_kit.configure``) in ``tmp_path``:
    the given userlist, loopfile homes, servers on network ``net``, ``before`` the
    bundle's call (the ``JhubKit`` choices), then ``extra``."""
    (tmp_path / "userlist").write_text(userlist)
    cfg = tmp_path / "jupyterhub_config.py"
    values = {
        "auth": "dummy",
        "data": str(tmp_path / "data"),
        "userlist": str(tmp_path / "userlist"),
        "image": image,
        "net": net,
        "prefix": TEST_PREFIX,
        "homes": str(tmp_path / "homes"),
        "idle": 0,
        "before": before,
        **kw,
    }
    cfg.write_text(BUNDLE.format(**values) + extra)
    return cfg
