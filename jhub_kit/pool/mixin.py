"""The warm pool's options, and the pool started and closed with the hub.

The options are traits of :class:`PoolMixin` (traits only: a base of
:class:`~jhub_kit.QuotaDockerSpawner`, so ``c.QuotaDockerSpawner.pool_size`` and
the rest are the spawner's as always). What a start does with the pool is the
spawner's pool part (:mod:`jhub_kit.spawners.pool`).
"""

from __future__ import annotations

from typing import Any

from traitlets import Float, Int, List, TraitError, Unicode, validate
from traitlets.config import LoggingConfigurable

from .. import registry
from ..quota.policy import QuotaError
from ..standin import stand_in as make_stand_in
from . import schedule as pool_schedule


class PoolMixin(LoggingConfigurable):
    """The warm pool's options (traits only)."""

    pool_size = Int(
        0,
        help="""Servers kept started ahead of time, each waiting for a student
        (:mod:`jhub_kit.pool`). A student whose start finds one ready gets it in
        about a second: their limits, home and volumes are applied to it, then
        their identity is handed over. A start whose server would differ from
        the pool's in anything else (another image, extra hosts, a command...)
        starts the normal way, and the hub log says why. The pool fills when the
        hub has started, and its unused servers are removed when the hub stops.
        0 turns it off (unless ``pool_schedule`` is set); ``pool_schedule`` and
        ``jhub-kit pool fill`` raise it for a class.
        Example: ``c.QuotaDockerSpawner.pool_size = 10``.

        .. versionadded:: 0.3
        """,
    ).tag(config=True)

    pool_schedule = List(
        Unicode(),
        help="""Class times, when the pool holds more servers than ``pool_size``:
        entries ``"DAYS HH:MM-HH:MM SIZE"`` in the hub's local time, or
        ``"DAYS HH:MM-HH:MM SIZE PROFILE"`` for servers of the profile with that
        slug (``profile_list``). Days are ``mon`` .. ``sun``, lists (``mon,wed``),
        ranges (``mon-fri``) or ``daily``. Filling starts at the first time, so start a few minutes
        before the class (a member of the kit's test image costs about 1.6 CPU-seconds
        of imports, 40 took 39 s and 100 took 102 s on 2 cores; an image without its
        bytecode costs several times that); idle members above the size are removed
        after the span.
        Example: ``["mon 08:50-10:30 40", "wed 13:20-15:00 25 r-course"]``.

        .. versionadded:: 0.3
        """,
    ).tag(config=True)

    @validate("pool_schedule")
    def _valid_schedule(self, proposal: Any) -> list[str]:
        try:
            pool_schedule.parse_schedule(proposal.value)
        except pool_schedule.ScheduleError as e:
            raise TraitError(f"c.{type(self).__name__}.pool_schedule: {e}") from None
        return list(proposal.value)

    pool_fill_max = Int(
        100,
        min=0,
        help="""Most servers ``jhub-kit pool fill N`` may ask the pool to keep: a
        larger request is held to this (``jhub-kit pool status`` says so). Each
        waiting server holds its image's memory (about 100 MB for a small image).
        0: no cap. Example: ``c.QuotaDockerSpawner.pool_fill_max = 150``.

        .. versionadded:: 0.4
        """,
    ).tag(config=True)

    pool_max_age = Float(
        4 * 3600,
        help="""Seconds an unassigned pool member may wait before it is replaced by a
        new one (a fresh image, nothing long-lived). 0: no limit. Example: ``3600``.

        .. versionadded:: 0.3
        """,
    ).tag(config=True)

    pool_dir = Unicode(
        "/run/jhub-kit/pool",
        help="""Host directory for the pool members' channels and mount slots, and
        the copy of the launcher they run (``launcher-<digest>.py``), made a shared
        mount: the hub runs as root on the Docker host, or in a container that can
        mount and has this directory from the host at the same path with shared
        propagation (docs: "The warm pool", a hub in a container).
        Example: ``"/run/jhub-kit/pool"``.

        .. versionadded:: 0.3
        """,
    ).tag(config=True)

    pool_python = Unicode(
        "python3",
        help="""The image's Python that runs the pool launcher (the one with
        jupyterhub installed). Example: ``"/opt/conda/bin/python"``.

        .. versionadded:: 0.3
        """,
    ).tag(config=True)

    pool_lag_budget = Float(
        0.1,
        min=0,
        help="""Seconds the hub's event loop may run late while pooled starts are
        handed over. While its lag (measured every 20 ms, the largest of the last
        half second) is over this, pooled starts wait, one at a time, and each
        waiting student's progress says why: in a class's rush the hub keeps
        answering everyone's pages and API calls, at the cost of a slower last
        start. 0: no pacing. Example: ``c.QuotaDockerSpawner.pool_lag_budget = 0.25``.

        .. versionadded:: 0.4
        """,
    ).tag(config=True)

    pool_lag_max_wait = Float(
        20,
        min=0,
        help="""Most seconds a pooled start waits for the hub's event loop to catch up
        (``pool_lag_budget``); after that it starts anyway. Example: ``10``.

        .. versionadded:: 0.4
        """,
    ).tag(config=True)

    loop_stall_log = Float(
        0,
        min=0,
        help="""Log what held the hub's event loop whenever its 20 ms tick runs this
        many seconds or more late. A watchdog thread (started with the warm pool
        when the hub starts, ended when it stops) wakes four times per threshold
        (at most every 2 ms); while the tick is overdue it samples the loop
        thread's Python stack, and the warning names the kit's, JupyterHub's or
        another frame seen in most samples. A sample names what was running
        when it was taken, which may be later than the start of the stall; a
        stall is measured as how late the tick ran, up to 20 ms less than the
        hold. Nothing of asyncio is replaced. For finding what makes a hub slow.
        0: off. Example: ``c.QuotaDockerSpawner.loop_stall_log = 0.1``.

        .. versionadded:: 0.4

        .. versionchanged:: 0.5
           Sampled by a watchdog thread; asyncio's callbacks are no longer wrapped.
        """,
    ).tag(config=True)


# -- starting the pool with the hub -------------------------------------------------------


async def wake_pool(app: Any) -> None:
    """Start the warm pool of a hub that serves, before anyone logs in (with or
    without users in its database): a stand-in spawner made from the hub's
    configuration starts it, if ``pool_size``, ``pool_schedule`` or a profile's own
    ``pool_size`` (``profile_list``'s or the policy file's) asks for one."""
    spawner_class = getattr(app, "spawner_class", None)
    if not (isinstance(spawner_class, type) and issubclass(spawner_class, PoolMixin)):
        return
    stand_in = make_stand_in(spawner_class, app.config, hub=app.hub)
    part = stand_in.pool_part  # the spawner's pool part (jhub_kit.spawners.pool)
    wanted = part.on
    if not wanted:
        try:
            wanted = part.profile_pools(await stand_in.load_profiles())
        except (QuotaError, TraitError) as e:  # said again at each start; no pool to fill
            stand_in.log.error("Warm pool: the profiles are not read, none pooled: %s", e)
    if wanted:
        await part.running_pool(wanted=True)


async def close_pools(config: Any = None) -> None:
    """Remove the unassigned members of the pools of the hub that owns ``config``
    (every hub's, if None): what a hub's shutdown does."""
    for pool in registry.forget("pool", config):
        await pool.close()
