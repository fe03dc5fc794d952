"""A real JupyterHub (jupyterhub.tests.mocking.MockHub) with the kit's spawner.

The Hub, configurable-http-proxy and single-user containers all talk over
127.0.0.1; containers use host networking.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
from conftest import TEST_PREFIX
from jupyterhub.tests.mocking import MockHub
from jupyterhub.tests.utils import add_user, api_request, public_url
from jupyterhub.utils import url_path_join
from traitlets.config import Config

# Blocking HTTP clients run here, not on the default executor that the hub in
# this process also uses: a spawn request blocks for up to slow_spawn_timeout.
CLIENT_THREADS = ThreadPoolExecutor(64, thread_name_prefix="test-client")


async def in_client_thread(fn: Any, *args: Any, **kwargs: Any) -> Any:
    import functools

    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(CLIENT_THREADS, functools.partial(fn, *args, **kwargs))


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


@contextlib.asynccontextmanager
async def running_hub(config: Config) -> AsyncIterator[MockHub]:
    # MockHub keeps the proxy's pid file in the working directory, and a hub that
    # finds one stops that proxy: give each hub its own, so parallel runs never collide
    import tempfile

    run_dir = tempfile.mkdtemp(prefix="jhub-kit-hub-")
    config.ConfigurableHTTPProxy.pid_file = f"{run_dir}/proxy.pid"
    if "cookie_secret_file" not in config.JupyterHub:  # never in the checkout
        config.JupyterHub.cookie_secret_file = f"{run_dir}/jupyterhub_cookie_secret"
    app = MockHub.instance(config=config)
    try:
        await app.initialize([])
        await app.start()
        yield app
    finally:
        MockHub.clear_instance()
        await stop_hub(app)


async def stop_hub(app: MockHub) -> None:
    """MockHub.stop() without JupyterHub's shutdown_cancel_tasks, which cancels
    every task on the loop, including the next test's hub."""
    if app._stop_called:
        return
    app._stop_called = True
    await app.cleanup()
    app._atexit_ran = True
    if app.http_server:
        app.http_server.stop()
    if app.metrics_collector:
        app.metrics_collector.stop()
    for pc in app._periodic_callbacks.values():
        pc.stop()
    app.db_file.close()


def ensure_user(app: MockHub, name: str, groups: tuple[str, ...] = (), admin: bool = False):
    """Create ``name`` in the hub DB (and its groups) and return the hub's User."""
    from jupyterhub import orm

    user = add_user(app.db, app, name=name, admin=admin)
    orm_user = user.orm_user
    for gname in groups:
        group = orm.Group.find(app.db, gname)
        if group is None:
            group = orm.Group(name=gname)
            app.db.add(group)
        if orm_user not in group.users:
            group.users.append(orm_user)
    app.db.commit()
    return user


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
