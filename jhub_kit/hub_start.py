"""What the kit does when a hub starts and stops, with no hook of JupyterHub's for it.

When the hub serves: the warm pool starts filling (:func:`jhub_kit.pool.mixin.wake_pool`,
before anyone logs in), and the class dashboard's settings are written and kept
current (:mod:`jhub_kit.views.dashboard.settings`). When it stops: the pool's
unassigned members are removed (JupyterHub cancels every task at shutdown: the
pool's own task does it) and the settings writer ends.

JupyterHub 6 has no start-up hook for plugins (no entry point it runs, no callable
it calls when it serves). It runs ``jupyterhub_config.py`` inside its event loop,
in :meth:`JupyterHub.initialize`, however it is launched (the ``jupyterhub``
command, ``python -m jupyterhub``, ``JupyterHub.launch_instance()`` from a
script). So the config asks for it: :func:`follow_hub` (which
:func:`jhub_kit.config.configure` and :func:`jhub_kit.config.add_dashboard` call)
puts one task on that loop that waits until the hub serves, then runs
:func:`on_hub_start`. Nothing of this runs at import. With JupyterHub's own test
fixtures (``MockHub``, no config file run), the test calls :func:`follow_hub` in
its loop once the hub object exists, or :func:`on_hub_start` itself. A config
that calls none of them gets a pool that starts filling with the hub's first
server of the kit (:meth:`jhub_kit.spawners.pool.PoolPart.wake_with_the_hub`), and a log
line that says how to fill it at the start.
"""

from __future__ import annotations

import asyncio
import warnings
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
        await _prepare_teachers_files(app, stand_in)
        task = asyncio.get_running_loop().create_task(
            dashboard.keep_written(stand_in, path, settings, authenticator=auth)
        )
        tasks: list[asyncio.Task[None]] = registry.shared("hub-tasks", app.config, list)
        tasks.append(task)


async def _prepare_teachers_files(app: Any, stand_in: Any) -> None:
    """The teachers' policy file's and audit log's folders, writable by the class
    dashboard's user (:func:`jhub_kit.views.dashboard.limits.prepare_for`)."""
    import logging

    from .views.dashboard import SERVICE_NAME, limits, settings

    env = settings.environment_of(list(getattr(app, "services", []) or []), SERVICE_NAME)
    teachers = getattr(stand_in, "teacher_policy_file", "")
    try:
        ceiling = limits.ceiling_from_env_of(env)
    except ValueError:  # QuotaError: the dashboard says so when it starts
        ceiling = {}
    if not (teachers or ceiling):
        return  # no teacher changes anything here
    user = env.get(settings.USER_ENV, "")
    paths = [teachers, env.get(limits.AUDIT_ENV, "")]
    try:
        problems = await offloop.run_io(limits.prepare_for, user, paths)
    except OSError as e:
        problems = [f"cannot prepare the teachers' files {paths}: {e}"]
    for line in problems:
        logging.getLogger("jhub_kit").warning(line)


async def on_hub_stop(app: Any) -> None:
    """The hub stops: its pool's unassigned members go, the kit's tasks end."""
    from .pool.mixin import close_pools

    registry.forget("hub-followed", app.config)
    registry.forget("pool-woken", app.config)
    for tasks in registry.forget("hub-tasks", app.config):
        for task in tasks:
            task.cancel()
    await close_pools(app.config)
    for health in registry.forget("loop-health"):  # the lag sampler and stall watch
        health.stop()


#: how often the task of :func:`follow_hub` looks whether the hub serves yet
SERVING_POLL = 0.2


def follow_hub() -> bool:
    """Call in ``jupyterhub_config.py``: run :func:`on_hub_start` once the hub that
    is loading the config serves. True if a hub's event loop runs (the config is
    being loaded by the hub: every way of launching it), False elsewhere (a config
    loaded by ``jhub-kit`` commands or a test), where it does nothing. Idempotent.

    Example::

        c.JupyterHub.spawner_class = "jhub_kit.QuotaDockerSpawner"
        c.QuotaDockerSpawner.pool_size = 10
        import jhub_kit
        jhub_kit.follow_hub()  # the pool fills when the hub starts, not at the first login

    .. versionadded:: 0.5
    """
    from jupyterhub.app import JupyterHub

    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return False  # no hub loads this config
    if not JupyterHub.initialized():
        return False
    app = JupyterHub.instance()
    followed: list[asyncio.Task[None]] = registry.shared("hub-followed", app.config, list)
    if not followed:
        followed.append(loop.create_task(_when_serving(app), name="jhub-kit-hub-start"))
    return True


async def _when_serving(app: Any) -> None:
    # JupyterHub.start() makes its http_server once its proxy, services and routes
    # are up (a public attribute; the end of start() has no public signal)
    while getattr(app, "http_server", None) is None:
        await asyncio.sleep(SERVING_POLL)
    await on_hub_start(app)


def start_waker() -> None:
    """Gone in 0.5: importing the spawner started a thread for the hub's start.

    .. deprecated:: 0.5
       Use :func:`follow_hub` in ``jupyterhub_config.py``.
    """
    warnings.warn(
        "jhub_kit.hub_start.start_waker() does nothing since jhub_kit 0.5; "
        "call jhub_kit.follow_hub() in jupyterhub_config.py",
        DeprecationWarning,
        stacklevel=2,
    )
