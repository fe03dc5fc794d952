"""What the kit does when a hub starts and stops, with no hook of JupyterHub's for it.

When the hub serves: the warm pool starts filling (:func:`jhub_kit.pool.mixin.wake_pool`,
before anyone logs in), and the class dashboard's settings are written and kept
current (:mod:`jhub_kit.views.dashboard.settings`). When it stops: the pool's
unassigned members are removed (JupyterHub cancels every task at shutdown: the
pool's own task does it) and the settings writer ends.

JupyterHub has no startup hook for plugins, and imports its spawner class while
it constructs itself (before its event loop exists). So in the ``jupyterhub``
process a thread waits until the hub serves, then hands :func:`on_hub_start` to
the hub's loop (``IOLoop.add_callback`` is safe from another thread). The kit's
test harness (:mod:`jhub_kit.testing`) calls the two functions itself.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from pathlib import Path
from typing import Any

from . import offloop, registry


async def on_hub_start(app: Any) -> None:
    """The hub serves: fill its pool, hand the dashboard its settings."""
    from .pool.mixin import wake_pool
    from .standin import stand_in as make_stand_in
    from .views.dashboard import SERVICE_NAME
    from .views.dashboard import settings as dashboard

    spawner_class = getattr(app, "spawner_class", None)
    if not (isinstance(spawner_class, type) and hasattr(spawner_class, "configured_defaults")):
        return  # not a kit spawner: nothing of the kit's runs in this hub
    await wake_pool(app)
    path = dashboard.path_in(list(getattr(app, "services", []) or []), SERVICE_NAME)
    if path:
        stand_in = make_stand_in(spawner_class, app.config, hub=app.hub)
        auth = getattr(app, "authenticator", None)
        settings = await offloop.run_io(dashboard.settings_of, stand_in, auth)
        await offloop.run_io(dashboard.write, path, settings)
        task = asyncio.get_running_loop().create_task(
            dashboard.keep_written(stand_in, path, settings, authenticator=auth)
        )
        tasks: list[asyncio.Task[None]] = registry.shared("hub-tasks", app.config, list)
        tasks.append(task)


async def on_hub_stop(app: Any) -> None:
    """The hub stops: its pool's unassigned members go, the kit's tasks end."""
    from .pool.mixin import close_pools

    for tasks in registry.forget("hub-tasks", app.config):
        for task in tasks:
            task.cancel()
    await close_pools(app.config)
    for health in registry.forget("loop-health"):  # the lag sampler and stall watch
        health.stop()


def _is_the_hub_process() -> bool:
    """``jupyterhub`` (the command, or ``python -m jupyterhub``) runs this process."""
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path()
    return argv0.name == "jupyterhub" or argv0.parts[-2:] == ("jupyterhub", "__main__.py")


def _when_the_hub_serves(timeout: float = 3600) -> None:
    from jupyterhub.app import JupyterHub

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        app = JupyterHub.instance() if JupyterHub.initialized() else None
        loop = getattr(app, "io_loop", None)
        if loop is not None and getattr(app, "http_server", None) is not None:

            def start(hub: Any = app) -> None:
                _TASKS.append(asyncio.create_task(on_hub_start(hub)))

            loop.add_callback(start)
            return
        time.sleep(0.5)


_TASKS: list[asyncio.Task[None]] = []
_WAKER: list[threading.Thread] = []


def start_waker() -> None:
    """In the ``jupyterhub`` process, once: call :func:`on_hub_start` when the hub serves."""
    if _is_the_hub_process() and not _WAKER:
        t = threading.Thread(target=_when_the_hub_serves, name="jhub-kit-hub-start", daemon=True)
        _WAKER.append(t)
        t.start()
