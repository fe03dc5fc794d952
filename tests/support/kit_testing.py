"""Run a real JupyterHub in-process for tests and benchmarks of the kit.

JupyterHub's own MockHub (``jupyterhub.tests.mocking``) with the few fixes a
suite that starts many hubs in one process needs: a proxy pid file and cookie
secret per hub, a stop that does not cancel every task on the loop, and HTTP
clients on their own threads (a spawn request blocks for up to
``slow_spawn_timeout``). Used by the kit's tests and ``benchmarks/``; useful
for testing a config of your own the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from traitlets.config import Config

# Blocking HTTP clients run here, not on the default executor that the hub in
# this process also uses: a spawn request blocks for up to slow_spawn_timeout.
CLIENT_THREADS = ThreadPoolExecutor(64, thread_name_prefix="test-client")


async def in_client_thread(fn: Any, *args: Any, **kwargs: Any) -> Any:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(CLIENT_THREADS, functools.partial(fn, *args, **kwargs))


def own_ports(config: Config) -> None:
    """The hub's, its proxy's and its API's ports from :func:`ports.free_port`, where
    the config names none: MockHub draws each with ``random_port()``, which may give
    the same port twice (CI at c16fc3c: the proxy bound its public side on the port
    drawn for its API, failed its API with EADDRINUSE, and the hub's first request
    got a 404 from its own proxy), and in the kernel's ephemeral range besides. The
    public URL keeps MockHub's path."""
    from ports import free_port

    hub = config.JupyterHub
    if "api_url" not in config.ConfigurableHTTPProxy:
        config.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{free_port()}"
    if not {"bind_url", "ip", "port", "base_url", "subdomain_host"} & set(hub):
        hub.bind_url = f"http://127.0.0.1:{free_port()}/@/space%20word/"
    if not {"hub_port", "hub_bind_url"} & set(hub):
        hub.hub_port = free_port()


@contextlib.asynccontextmanager
async def running_hub(
    config: Config,
    *,
    restart: bool = False,
    follow: bool = False,
    activity_scan: int | None = None,
) -> AsyncIterator[Any]:
    """A started MockHub for ``config``; stopped (its servers too, unless
    ``c.JupyterHub.cleanup_servers = False``) on exit. ``restart=True`` keeps the
    users, groups and server state already in the database (MockHub clears them),
    like a real hub started again on the same ``db_url``. ``activity_scan``: the
    seconds between the hub's scans of the proxy's activity (JupyterHub's
    ``last_activity_interval``, 300 by default), which MockHub fixes at 2 s out of
    the configuration's reach. The kit's start-up
    (:func:`jhub_kit.hub_start.on_hub_start`) is awaited before the hub is yielded;
    ``follow=True`` asks for it as a config does (:func:`jhub_kit.follow_hub`, called
    once the hub object exists) and yields without waiting for it."""
    # MockHub keeps the proxy's pid file in the working directory, and a hub that
    # finds one stops that proxy: give each hub its own, so parallel runs never collide
    run_dir = tempfile.mkdtemp(prefix="jhub-kit-hub-")
    config.ConfigurableHTTPProxy.pid_file = f"{run_dir}/proxy.pid"
    if "cookie_secret_file" not in config.JupyterHub:  # never in the checkout
        config.JupyterHub.cookie_secret_file = f"{run_dir}/jupyterhub_cookie_secret"
    own_ports(config)
    from jupyterhub.tests.mocking import MockHub

    hub_class = _restarted_hub_class() if restart else MockHub
    if activity_scan is not None:
        hub_class = type(
            hub_class.__name__, (hub_class,), {"last_activity_interval": activity_scan}
        )
    app = hub_class.instance(config=config)
    try:
        from jhub_kit.hub_start import follow_hub, on_hub_start

        if follow:
            assert follow_hub(), "follow_hub() found no hub"
        await app.initialize([])
        await app.start()
        if not follow:
            await on_hub_start(app)  # what follow_hub() does in a hub's config
        yield app
    finally:
        hub_class.clear_instance()
        await stop_hub(app)


async def stop_hub(app: Any) -> None:
    """MockHub.stop() without JupyterHub's shutdown_cancel_tasks, which cancels
    every task on the loop, including the next test's hub."""
    if app._stop_called:
        return
    app._stop_called = True
    await app.cleanup()
    from jhub_kit.hub_start import on_hub_stop

    await on_hub_stop(app)  # what the hub's shutdown does to the kit's pool and tasks
    app._atexit_ran = True
    if app.http_server:
        app.http_server.stop()
    if app.metrics_collector:
        app.metrics_collector.stop()
    for pc in app._periodic_callbacks.values():
        pc.stop()
    app.db_file.close()


def ensure_user(app: Any, name: str, groups: tuple[str, ...] = (), admin: bool = False):
    """Create ``name`` in the hub DB (and its groups) and return the hub's User."""
    from jupyterhub import orm
    from jupyterhub.tests.utils import add_user

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


def _restarted_hub_class() -> Any:
    from jupyterhub.tests.mocking import MockHub

    class RestartedHub(MockHub):
        test_clean_db = False

    return RestartedHub


LOGS = Path(os.environ.get("JHUB_KIT_LOGS", "/var/log/jhub-kit"))
STATE = Path(os.environ.get("JHUB_KIT_STATE", "/var/lib/jhub-kit-dev"))


def restart_dockerd(client: Any) -> None:
    """Stop the running dockerd (SIGTERM, as systemd does) and start it again with the
    same command line, logging to a file; the test command's pid file follows it.
    Holds the engine lock (tests/conftest.py) exclusively: the version matrix's
    sessions beside the suite are not using the engine meanwhile."""
    import fcntl

    STATE.mkdir(parents=True, exist_ok=True)
    with open(STATE / "engine.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _restart_dockerd(client)


def _restart_dockerd(client: Any) -> None:
    pid = int(Path("/var/run/docker.pid").read_text())
    argv = [a.decode() for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if a]
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 60
    while Path(f"/proc/{pid}").exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"dockerd (pid {pid}) did not stop within 60 s")
        time.sleep(0.2)
    LOGS.mkdir(parents=True, exist_ok=True)
    with open(LOGS / "dockerd.log", "ab") as log:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
        )
    pidfile = STATE / "dockerd.pid"
    if pidfile.exists():  # scripts/lib.sh started the old one: it stops this one at the end
        pidfile.write_text(f"{proc.pid}\n")
    deadline = time.monotonic() + 60
    while True:
        try:
            client.ping()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise RuntimeError(f"dockerd did not answer within 60 s (log: {LOGS})") from None
            time.sleep(0.3)
