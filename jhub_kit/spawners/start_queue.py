"""The start queue as a part: at most ``concurrent_starts`` starts in flight, the
rest in arrival order with their place shown, a full or slow queue refused in
plain words.

:class:`StartQueueMixin` holds the options (traits only: configured as
``c.QuotaDockerSpawner.concurrent_starts`` and so on); :class:`StartQueue` is one
start's way through the hub's queue, made by the spawner for each start
(:meth:`jhub_kit.spawners.kit.KitSpawner.start_queue`) from what it is given: the
hub's gate, the timeouts, and callbacks for the student's progress and the place
in line the views show. Shared by :class:`~jhub_kit.QuotaDockerSpawner` (one
host: the default width is the hub's cores) and
:class:`~jhub_kit.QuotaSwarmSpawner` (the swarm's cores). The gate itself is
:class:`jhub_kit.loop.admission.StartGate`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from jupyterhub.utils import AnyTimeoutError
from traitlets import Float, Int, default

from .. import metrics
from ..compat import SpawnException
from ..deprecation import RenamedTraits
from ..loop.admission import QueueFull, QueueTimeout, StartGate, default_limit

if TYPE_CHECKING:
    from jupyterhub.spawner import Spawner as _Base
else:
    # JupyterHub refuses Spawner subclasses that do not define start/stop/poll
    from traitlets.config import LoggingConfigurable as _Base

T = TypeVar("T")


def hub_spawn_limit(config: Mapping[str, Any]) -> int:
    """``c.JupyterHub.concurrent_spawn_limit`` as the hub has it (100 when unset)."""
    hub_cfg = config.get("JupyterHub", {})
    return int(hub_cfg.get("concurrent_spawn_limit", 100))


class StartQueueMixin(RenamedTraits, _Base):
    """The start queue's options (traits only; the queue is :class:`StartQueue`)."""

    renamed_traits = {"startup_timeout": ("start_after_queue_timeout", "0.5")}

    concurrent_starts = Int(
        help="""Most server starts in flight at once; the rest wait in arrival order.

        A start counts from home provisioning until the server answers HTTP.
        Defaults to the number of CPU cores plus one (at least 3): a start spends
        part of its time waiting on the engine and the server's first answer, and
        one more in flight keeps the cores busy through it; starting many more at
        once only makes all of them slower. Waiting users see their place in line.
        Example: ``c.QuotaDockerSpawner.concurrent_starts = 4``.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    @default("concurrent_starts")
    def _concurrent_starts_default(self) -> int:
        return default_limit()

    start_queue_max = Int(
        help="""Most starts waiting in line; beyond it a start is refused (HTTP 429)
        with a "try again in a minute" message.

        JupyterHub's own ``c.JupyterHub.concurrent_spawn_limit`` (default 100)
        counts every pending start, queued or in flight, and answers 429 first
        when it is reached. So the default is that limit minus
        :attr:`concurrent_starts` (500 when the hub sets no limit): both refuse
        at the same count. Raise both together for a larger class.
        Example: ``200`` (with ``c.JupyterHub.concurrent_spawn_limit = 210``).

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    @default("start_queue_max")
    def _start_queue_max_default(self) -> int:
        hub_limit = hub_spawn_limit(self.config)
        if hub_limit <= 0:
            return 500
        return max(0, hub_limit - self.concurrent_starts)

    start_after_queue_timeout = Float(
        120,
        help="""Seconds a start may take once it has left the start queue: the home,
        the container (or the warm pool's hand-over) and the server answering HTTP.
        The wait in line is :attr:`queue_timeout`; JupyterHub's ``start_timeout``
        covers both. Example: ``c.QuotaDockerSpawner.start_after_queue_timeout = 300``
        for large images.

        .. versionadded:: 0.5
           Named ``startup_timeout`` (since 0.1), which still works with a warning.
        """,
    ).tag(config=True)

    queue_timeout = Float(
        900,
        help="""Seconds a start may wait in line; then it fails with a "the hub is
        busy, try again" message. Enforced by the queue itself, whatever
        ``start_timeout`` is. JupyterHub's ``start_timeout`` (the whole start,
        queue included) defaults to ``queue_timeout + start_after_queue_timeout`` for this
        spawner; set lower, it cuts both short (a warning says so). Example: ``600``.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    @default("start_timeout")
    def _start_timeout_default(self) -> int:
        return int(self.queue_timeout + self.start_after_queue_timeout)


def short_start_timeout(start_timeout: float, queue_timeout: float, after: float) -> str:
    """Why JupyterHub's ``start_timeout`` gives up before the queue's own limits
    (``queue_timeout`` in line, ``after`` once out of it), or "" when it does not."""
    budget = queue_timeout + after
    if start_timeout >= budget:
        return ""
    return (
        f"c.Spawner.start_timeout = {start_timeout} is below queue_timeout + "
        f"start_after_queue_timeout = {budget:g}: JupyterHub will give up on a start "
        "before the kit's own limits do"
    )


class StartQueue:
    """One start's way through the hub's start queue: a slot of ``gate`` within
    ``queue_timeout``, then the start proper within ``after_queue_timeout``.

    ``owner`` names the server in the log (and in the gate's list of holders),
    ``spawner_class`` the section of the options a message names; ``progress``
    tells the student their place, ``place`` records it (None once out of line)."""

    def __init__(
        self,
        gate: StartGate,
        *,
        owner: str,
        spawner_class: str,
        queue_timeout: float,
        after_queue_timeout: float,
        progress: Callable[[int, str], None],
        place: Callable[[int | None], None],
        log: logging.Logger | logging.LoggerAdapter[Any],
    ) -> None:
        self.gate = gate
        self.owner = owner
        self.spawner_class = spawner_class
        self.queue_timeout = queue_timeout
        self.after_queue_timeout = after_queue_timeout
        self.progress = progress
        self.place = place
        self.log = log

    def queued(self, ahead: int) -> None:
        """The gate's word on this start's place in line."""
        self.place(ahead)
        if ahead:
            self.progress(8, f"Waiting to start: {ahead} ahead of you")
        else:
            self.progress(8, "Waiting to start: you are next")

    async def admit(self, body: Callable[[], Awaitable[T]]) -> T:
        """Run ``body`` (the start proper) in a slot of the gate, within the timeout
        after the queue; a full or slow queue fails the spawn in plain words."""
        cls, owner = self.spawner_class, self.owner
        asked = time.monotonic()
        try:
            async with self.gate.slot(self.queued, timeout=self.queue_timeout, owner=owner):
                self.place(None)
                metrics.START_QUEUE_WAIT.observe(time.monotonic() - asked)
                return await asyncio.wait_for(body(), self.after_queue_timeout)
        except QueueTimeout as e:
            metrics.count_refusal("queue_timeout")
            self.place(None)
            self.log.warning(
                "Start of %s gave up after %g s in line (c.%s.queue_timeout): %s",
                owner,
                self.queue_timeout,
                cls,
                e,
            )
            raise SpawnException(
                "The hub is busy starting other servers; please try again in a few minutes.",
                reason="queue_timeout",
                status_code=503,
                log_message=(
                    f"Start of {owner} waited {self.queue_timeout:g} s in line "
                    f"(c.{cls}.queue_timeout)"
                ),
            ) from None
        except QueueFull as e:
            metrics.count_refusal("queue_full")
            self.log.warning("Start of %s refused: %s", owner, e)
            raise SpawnException(
                "Too many servers are starting right now; please try again in a minute.",
                reason="queue_full",
                status_code=429,
                log_message=f"Start of {owner} refused: the start queue is full ({e})",
            ) from None
        except AnyTimeoutError:
            raise SpawnException(
                f"Your server did not start within {self.after_queue_timeout:g} seconds.",
                reason="startup_timeout",
                status_code=500,
                log_message=(
                    f"{owner} not ready {self.after_queue_timeout:g} s after it "
                    f"left the start queue (c.{cls}.start_after_queue_timeout)"
                ),
            ) from None
