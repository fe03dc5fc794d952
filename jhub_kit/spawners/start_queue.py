"""The start queue as a Spawner mixin: at most ``concurrent_starts`` starts in
flight, the rest in arrival order with their place shown, a full or slow queue
refused in plain words; and the progress messages a start emits.

Shared by :class:`~jhub_kit.QuotaDockerSpawner` (one host: the default is the
hub's cores) and :class:`~jhub_kit.QuotaSwarmSpawner` (the default is the
swarm's cores). The queue itself is :class:`jhub_kit.loop.admission.StartGate`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from jupyterhub.utils import AnyTimeoutError, wait_for_http_server
from traitlets import Float, Int, default

from .. import metrics, registry
from ..compat import SpawnException
from ..deprecation import RenamedTraits
from ..loop.admission import QueueFull, QueueTimeout, StartGate, default_limit

if TYPE_CHECKING:
    from jupyterhub.spawner import Spawner as _Base
else:
    # JupyterHub refuses Spawner subclasses that do not define start/stop/poll
    from traitlets.config import LoggingConfigurable as _Base

T = TypeVar("T")


class StartQueueMixin(RenamedTraits, _Base):
    """Admission control and progress messages for a spawner's starts."""

    renamed_traits = {"startup_timeout": ("start_after_queue_timeout", "0.5")}

    concurrent_starts = Int(
        help="""Most server starts in flight at once; the rest wait in arrival order.

        A start counts from home provisioning until the server answers HTTP.
        Defaults to the number of CPU cores (at least 2): starting more at once
        only makes all of them slower. Waiting users see their place in line.
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
        hub_limit = self.hub_concurrent_spawn_limit()
        if hub_limit <= 0:
            return 500
        return max(0, hub_limit - self.concurrent_starts)

    def hub_concurrent_spawn_limit(self) -> int:
        """``c.JupyterHub.concurrent_spawn_limit`` as the hub has it (100 when unset)."""
        hub_cfg = self.config.get("JupyterHub", {})
        return int(hub_cfg.get("concurrent_spawn_limit", 100))

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

    def _warn_short_start_timeout(self) -> None:
        budget = self.queue_timeout + self.start_after_queue_timeout
        if self.start_timeout < budget and not getattr(type(self), "_warned_timeout", False):
            type(self)._warned_timeout = True
            self.log.warning(
                "c.Spawner.start_timeout = %s is below queue_timeout + start_after_queue_timeout "
                "= %g: "
                "JupyterHub will give up on a start before the kit's own limits do",
                self.start_timeout,
                budget,
            )

    def start_gate(self) -> StartGate:
        """The gate shared by every server of this hub."""
        gate: StartGate = registry.shared(
            "start-gate",
            self.config,
            lambda: StartGate(self.concurrent_starts, self.start_queue_max),
            type(self),
            self.concurrent_starts,
            self.start_queue_max,
        )
        metrics.watch_queue(lambda: gate.queued)
        return gate

    async def admitted(self, body: Callable[[], Awaitable[T]]) -> T:
        """Run ``body`` (the start proper) in a slot of :meth:`start_gate`, within
        ``start_after_queue_timeout``; a full or slow queue fails the spawn in plain words."""
        cls = type(self).__name__
        self._warn_short_start_timeout()
        asked = time.monotonic()
        try:
            async with self.start_gate().slot(
                self._queued, timeout=self.queue_timeout, owner=self._log_name
            ):
                self.queue_ahead = None
                metrics.START_QUEUE_WAIT.observe(time.monotonic() - asked)
                return await asyncio.wait_for(body(), self.start_after_queue_timeout)
        except QueueTimeout as e:
            metrics.count_refusal("queue_timeout")
            self.queue_ahead = None
            self.log.warning(
                "Start of %s gave up after %g s in line (c.%s.queue_timeout): %s",
                self._log_name,
                self.queue_timeout,
                cls,
                e,
            )
            raise SpawnException(
                "The hub is busy starting other servers; please try again in a few minutes.",
                reason="queue_timeout",
                status_code=503,
                log_message=(
                    f"Start of {self._log_name} waited {self.queue_timeout:g} s in line "
                    f"(c.{cls}.queue_timeout)"
                ),
            ) from None
        except QueueFull as e:
            metrics.count_refusal("queue_full")
            self.log.warning("Start of %s refused: %s", self._log_name, e)
            raise SpawnException(
                "Too many servers are starting right now; please try again in a minute.",
                reason="queue_full",
                status_code=429,
                log_message=f"Start of {self._log_name} refused: the start queue is full ({e})",
            ) from None
        except AnyTimeoutError:
            raise SpawnException(
                f"Your server did not start within {self.start_after_queue_timeout:g} seconds.",
                reason="startup_timeout",
                status_code=500,
                log_message=(
                    f"{self._log_name} not ready {self.start_after_queue_timeout:g} s after it "
                    f"left the start queue (c.{cls}.start_after_queue_timeout)"
                ),
            ) from None

    async def wait_until_answering(self, ip: str, port: int) -> None:
        """Hold the start slot until the server answers HTTP: that is where the CPU goes."""
        if self.internal_ssl or self.server is None:
            return  # the hub's own check (with its certificates) does it
        url = f"http://{ip}:{port}{self.server.base_url}"
        while True:
            try:
                await wait_for_http_server(url, timeout=2)
                return
            except AnyTimeoutError:  # before Python 3.11 asyncio's is not the builtin
                status = await self.poll()
                if status is not None:
                    tail = await self._output_tail()
                    raise SpawnException(
                        "Your server stopped while starting.",
                        reason="stopped_while_starting",
                        status_code=500,
                        log_message=f"{self._log_name} stopped while starting: {status}"
                        + (f"; its last output:\n{tail}" if tail else ""),
                    ) from None

    async def _output_tail(self, lines: int = 15) -> str:
        """The last lines a stopped server printed, for the hub log ("" if unknown)."""
        return ""

    queue_ahead: int | None = None
    """How many starts are ahead of this one in the start queue, while it waits."""

    def _queued(self, ahead: int) -> None:
        self.queue_ahead = ahead
        if ahead:
            self.emit_progress(8, f"Waiting to start: {ahead} ahead of you")
        else:
            self.emit_progress(8, "Waiting to start: you are next")

    @property
    def _log_name(self) -> str:
        return f"{self.user.name}'s server" + (f" {self.name!r}" if self.name else "")

    # -- progress ------------------------------------------------------------

    _progress_events: list[dict[str, Any]]

    def emit_progress(self, progress: int, message: str) -> None:
        self.log.info("%s: %s", self._log_name, message)
        self._progress_events.append({"progress": progress, "message": message})

    async def progress(self) -> AsyncIterator[dict[str, Any]]:
        sent = 0
        while True:
            events = getattr(self, "_progress_events", [])
            while sent < len(events):
                yield events[sent]
                sent += 1
            await asyncio.sleep(0.2)
