"""Admission control for server starts: a bounded number in flight, the rest in
arrival order.

On a 2-core host a single-user server needs about 3 CPU-seconds to start.
Started all at once, 20 servers share the CPU equally and all cross
JupyterHub's timeouts together (measured: 0 of 20 ready). Started a few at a
time, each finishes quickly and the queue drains at the speed of the CPU.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections import deque
from collections.abc import AsyncIterator, Callable


class QueueFull(RuntimeError):
    """The start queue is at its maximum; the caller should refuse (HTTP 429)."""


class QueueTimeout(RuntimeError):
    """A start waited in line longer than it may."""


def default_limit() -> int:
    """Starts in flight by default: one per CPU core available to the hub, and one
    more (at least 3). A start spends part of its time waiting (the engine's calls,
    the server's first answer), and one more in flight keeps the cores busy through
    it: 100 students at once on 2 cores, cold, were all served in 81 s with 3 in
    flight against 105 s with 2 (docs/benchmarks.md)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cores = os.cpu_count() or 2
    return max(2, cores) + 1


class StartGate:
    """A FIFO semaphore that tells waiters their place in the queue."""

    def __init__(self, limit: int, max_queue: int):
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.max_queue = max_queue
        self.active = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        #: who holds a slot now, and since when (loop time): named when a start
        #: gives up waiting, so a slot held too long can be traced
        self.holders: dict[int, tuple[str, float]] = {}
        self._next_key = 0
        #: background work in flight (filling the warm pool): never in a student's way
        self.background = 0
        self._background_waiters: deque[asyncio.Future[None]] = deque()

    def describe_holders(self, now: float) -> str:
        held = sorted(self.holders.values(), key=lambda h: h[1])
        return ", ".join(f"{who or 'a start'} ({now - since:.0f} s)" for who, since in held)

    def set_limit(self, limit: int) -> None:
        """Change the number of slots (e.g. when nodes join a swarm); a raise lets
        waiting starts in at once."""
        self.limit = max(1, limit)
        while self.active < self.limit and self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                self.active += 1
                fut.set_result(None)
        self._wake_background()

    @property
    def queued(self) -> int:
        return len(self._waiters)

    def _release(self) -> None:
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)  # hand our slot straight to the next in line
                return
        self.active -= 1
        self._wake_background()

    def _wake_background(self) -> None:
        """Wake as many background waiters as may take a place now (each looks
        again when it runs: a student who came first keeps the gate)."""
        free = self.limit - self.background if self.idle else 0
        while free > 0 and self._background_waiters:
            fut = self._background_waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                free -= 1

    @contextlib.asynccontextmanager
    async def slot(
        self,
        on_wait: Callable[[int], None] | None = None,
        *,
        poll: float = 0.5,
        timeout: float | None = None,
        owner: str = "",
    ) -> AsyncIterator[None]:
        """Hold one of the ``limit`` slots; ``on_wait(n_ahead)`` while queued.

        Raises :class:`QueueFull` at once when ``max_queue`` are already waiting,
        and :class:`QueueTimeout` after waiting ``timeout`` seconds in line.
        """
        if self.active < self.limit and not self._waiters:
            self.active += 1
        else:
            if len(self._waiters) >= self.max_queue:
                raise QueueFull(f"{len(self._waiters)} starts are already waiting")
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(fut)
            loop = asyncio.get_running_loop()
            deadline = None if timeout is None else loop.time() + timeout
            try:
                last = -1
                while not fut.done():
                    if deadline is not None and loop.time() >= deadline:
                        raise QueueTimeout(
                            f"waited {timeout:g} s in line; the slots are held by "
                            + (self.describe_holders(loop.time()) or "nobody")
                        )
                    ahead = self._waiters.index(fut)
                    if ahead != last and on_wait is not None:
                        on_wait(ahead)
                        last = ahead
                    wait = poll if deadline is None else max(0.0, min(poll, deadline - loop.time()))
                    await asyncio.wait([fut], timeout=wait)
            except BaseException:
                if fut.done() and not fut.cancelled():
                    self._release()  # we were handed a slot: pass it on
                else:
                    fut.cancel()
                    with contextlib.suppress(ValueError):
                        self._waiters.remove(fut)
                raise
        key = self._next_key
        self._next_key += 1
        self.holders[key] = (owner, asyncio.get_running_loop().time())
        try:
            yield
        finally:
            del self.holders[key]
            self._release()

    @property
    def idle(self) -> bool:
        """No start holds or waits for a slot."""
        return self.active == 0 and not self._waiters

    @contextlib.asynccontextmanager
    async def background_slot(self, poll: float = 0.5) -> AsyncIterator[None]:
        """A place for work no student waits for (filling the warm pool): taken only
        while no start holds or waits for a slot, at most ``limit`` at once, and not
        counted against the starts' slots: a student who arrives meanwhile is let in
        at once, never queued behind it."""
        loop = asyncio.get_running_loop()
        while not self.idle or self.background >= self.limit:
            # woken when the last start leaves or a background place frees (the
            # fill of a class keeps both cores busy); ``poll`` is only a backstop
            fut: asyncio.Future[None] = loop.create_future()
            self._background_waiters.append(fut)
            try:
                await asyncio.wait([fut], timeout=poll)
            except BaseException:
                if fut.done() and not fut.cancelled():
                    self._wake_background()  # woken, then cancelled: pass the wake on
                raise
            finally:
                if not fut.done():
                    fut.cancel()
                with contextlib.suppress(ValueError):
                    self._background_waiters.remove(fut)
        self.background += 1
        try:
            yield
        finally:
            self.background -= 1
            self._wake_background()
