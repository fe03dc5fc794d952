"""The hub's event loop: how late it runs (lag), and what held it (stalls).

Every page, API call and progress event of the hub waits for its one event loop.
:class:`LoopHealth` measures that wait: a task sleeps ``interval`` seconds again
and again and records how much later than asked it woke up (the *lag*: what a
request arriving then would have waited). Pooled starts are admitted only while
the recent lag is within a budget (:meth:`LoopHealth.admit`), so a class's rush
cannot freeze the hub for everyone else.

Optionally each callback the loop runs is timed and a thread samples the loop
thread's Python stack while a long one runs; a callback over a threshold is a
*stall*, attributed to the innermost frame of the kit, JupyterHub or a test
(:func:`decisive`): the code that held the loop, not the library it called.

Pure parts (:func:`decisive`, :meth:`LoopHealth.record`, :meth:`LoopHealth.lag`)
take the clock's readings as arguments and are table-tested.
"""

from __future__ import annotations

import asyncio
import collections
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import registry

#: where a frame's file lives -> who owns it (the first match, in this order)
OWNERS = (
    ("/jhub_kit/", "jhub_kit"),
    ("/jupyterhub/", "jupyterhub"),
    ("/dockerspawner/", "dockerspawner"),
    ("/tests/", "tests"),
    ("/benchmarks/", "benchmarks"),
)

Frame = tuple[str, int, str]  # file, line, function
_THIS_FILE = "/jhub_kit/spawners/loop_health.py"


def owner(filename: str) -> str | None:
    """Who a frame of ``filename`` belongs to (None: a library or the stdlib)."""
    for part, who in OWNERS:
        if part in filename:
            return who
    return None


def decisive(frames: Sequence[Frame]) -> tuple[str, Frame | None]:
    """Who held the loop in a stack, innermost frame first: the owner of the
    innermost frame that has one (a library called by JupyterHub is
    JupyterHub's time; by the kit, the kit's), with that frame. This module's
    own frames (the timing wrapper around every callback) are the instrument,
    not an owner."""
    for f in frames:
        if f[0].endswith(_THIS_FILE):
            continue
        who = owner(f[0])
        if who is not None:
            return who, f
    return "other", None


@dataclass
class Stall:
    """One callback of the loop ran ``seconds``; ``owner`` and ``where`` from the
    stack samples taken meanwhile (the most frequent decisive frame), or, for a
    callback too short to be sampled, from where its task is suspended after it."""

    seconds: float
    owner: str
    where: str
    samples: int
    stack: list[str] = field(default_factory=list)
    cpu: float = 0.0  # of the loop thread during the callback

    def describe(self) -> str:
        return (
            f"{self.seconds * 1000:.0f} ms ({self.cpu * 1000:.0f} ms of CPU) in {self.owner} "
            f"({self.where}, {self.samples} samples)"
        )


@dataclass
class LoopHealth:
    """One event loop's lag and stalls. ``interval``: how often the sampler wakes;
    ``window``: how far back :meth:`lag` looks."""

    interval: float = 0.02
    window: float = 0.5
    clock: Callable[[], float] = time.monotonic
    samples: collections.deque[tuple[float, float]] = field(
        default_factory=lambda: collections.deque(maxlen=15_000)  # 5 min at 50 Hz
    )
    stalls: list[Stall] = field(default_factory=list)
    max_stalls: int = 200
    last_tick: float = 0.0
    last_lag: float = 0.0
    log: Any = None
    _task: asyncio.Task[None] | None = None
    _gate: asyncio.Lock | None = None
    _watcher: threading.Thread | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    threshold: float = 0.0
    _pending: dict[float, tuple[collections.Counter[Any], dict[Any, list[str]]]] = field(
        default_factory=dict
    )

    # -- pure ------------------------------------------------------------------

    def record(self, now: float, lag: float) -> None:
        """The sampler woke ``lag`` seconds late at ``now``."""
        self.samples.append((now, lag))
        self.last_tick, self.last_lag = now, lag

    def lag(self, now: float | None = None) -> float:
        """The largest lag of the last ``window`` seconds, or how long the loop
        has not ticked (beyond ``interval``), whichever is larger."""
        now = self.clock() if now is None else now
        overdue = max(0.0, now - self.last_tick - self.interval) if self.last_tick else 0.0
        recent = 0.0
        for t, lag in reversed(self.samples):
            if now - t > self.window:
                break
            recent = max(recent, lag)
        return max(recent, overdue)

    def series(self, since: float = 0.0) -> list[tuple[float, float]]:
        """``(time, lag)`` samples from ``since`` (the monotonic clock)."""
        return [(t, lag) for t, lag in self.samples if t >= since]

    # -- the sampler -----------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self, stall_threshold: float = 0.0) -> None:
        """Sample the running loop (once); with ``stall_threshold`` > 0, also watch it
        for stalls that long from a thread."""
        if not self.running:
            self.last_tick = self.clock()
            self._task = asyncio.get_running_loop().create_task(self._sample())
        if stall_threshold > 0 and self._watcher is None:
            loop_thread = threading.get_ident()
            self.threshold = stall_threshold
            _time_callbacks(self)
            self._watcher = threading.Thread(
                target=self._watch,
                args=(loop_thread, stall_threshold, self._stop),
                name="jhub-kit-loop-watch",
                daemon=True,
            )
            self._watcher.start()

    def stop(self) -> None:
        """Stop sampling and watching (a later :meth:`start` begins again)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._stop.set()
        for tid, health in list(_WATCHED.items()):
            if health is self:
                del _WATCHED[tid]
        if self._watcher is not None and self._watcher is not threading.current_thread():
            self._watcher.join(timeout=1)
        self._watcher, self._stop = None, threading.Event()
        with self._lock:
            self._pending.clear()

    async def _sample(self) -> None:
        while True:
            asked = self.clock()
            await asyncio.sleep(self.interval)
            now = self.clock()
            self.record(now, max(0.0, now - asked - self.interval))

    # -- admission -------------------------------------------------------------

    async def admit(
        self, budget: float, max_wait: float, waiting: Callable[[float], None]
    ) -> float:
        """Return once the loop's lag is within ``budget`` seconds (at once if it is
        and nobody is held back), one start at a time while it is not; after
        ``max_wait`` seconds regardless. ``waiting(lag)`` is called once when a start
        is held back (by the lag or behind another held start). Returns the seconds waited."""
        if budget <= 0 or not self.running:
            return 0.0
        if self._gate is None:
            self._gate = asyncio.Lock()
        if self.lag() <= budget and not self._gate.locked():
            return 0.0
        t0 = self.clock()
        waiting(self.lag())  # held back: by the lag, or behind a start that is
        gate = self._gate
        await gate.acquire()
        held = False
        try:
            while self.lag() > budget and self.clock() - t0 < max_wait:
                held = True
                await asyncio.sleep(self.interval)
        except BaseException:
            gate.release()
            raise
        if held:  # the next start waits until this one's work shows in the lag
            asyncio.get_running_loop().call_later(2 * self.interval, gate.release)
        else:
            gate.release()
        return self.clock() - t0

    # -- stalls: one callback at a time ------------------------------------------

    def _watch(self, loop_thread: int, threshold: float, stop: threading.Event) -> None:
        """Sample the loop thread's stack while its running callback has run for a
        quarter of the threshold (the samples are kept under the callback's start
        until :meth:`_callback_done` decides), until ``stop``."""
        while not stop.wait(0.002):
            started = _STARTED.get(loop_thread)
            if started is None or self.clock() - started < threshold / 4:
                continue
            frame = sys._current_frames().get(loop_thread)
            if frame is None or _STARTED.get(loop_thread) != started:
                continue
            frames = _stack(frame)
            del frame
            key = decisive(frames)
            with self._lock:
                counts, stacks = self._pending.setdefault(started, (collections.Counter(), {}))
                counts[key] += 1
                stacks.setdefault(key, [f"{f[0]}:{f[1]} {f[2]}" for f in frames[:25]])

    def _callback_done(self, started: float, seconds: float, cpu: float, handle: Any) -> None:
        """In the loop thread: a callback that started at ``started`` ran ``seconds``."""
        with self._lock:
            counts, stacks = self._pending.pop(started, (collections.Counter(), {}))
            for old in [t for t in self._pending if t < started]:
                del self._pending[old]
        if seconds < self.threshold:
            return
        if counts:
            (who, where), n = counts.most_common(1)[0]
            stack = stacks[(who, where)]
        else:  # too short to be sampled: where its task is suspended now
            frames = _suspended_frames(handle)
            who, where = decisive(frames)
            n, stack = 0, [f"{f[0]}:{f[1]} {f[2]}" for f in frames[:25]]
        self._keep(
            Stall(
                seconds,
                who,
                "?" if where is None else f"{where[0]}:{where[1]} {where[2]}",
                n,
                stack,
                cpu=cpu,
            )
        )

    def _keep(self, stall: Stall) -> None:
        with self._lock:
            self.stalls.append(stall)
            self.stalls.sort(key=lambda s: -s.seconds)
            del self.stalls[self.max_stalls :]
        if self.log is not None:
            self.log.warning(
                "The hub's event loop was held %s; innermost frames:\n  %s",
                stall.describe(),
                "\n  ".join(stall.stack[:8]),
            )


def _stack(frame: Any, limit: int = 60) -> list[Frame]:
    """A thread's Python stack, innermost first (no source lines read: the
    sampling thread holds the GIL while it walks)."""
    frames: list[Frame] = []
    while frame is not None and len(frames) < limit:
        code = frame.f_code
        frames.append((code.co_filename, frame.f_lineno or 0, code.co_name))
        frame = frame.f_back
    return frames


def _suspended_frames(handle: Any) -> list[Frame]:
    """Innermost first: where the task whose step ``handle`` ran is suspended now
    (its coroutines' chain), or the callback's own function."""
    cb = getattr(handle, "_callback", None)
    task = getattr(cb, "__self__", None)
    frames: list[Frame] = []
    if isinstance(task, asyncio.Task):
        coro: Any = task.get_coro()
        while coro is not None:
            f = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
            if f is not None:
                frames.append((f.f_code.co_filename, f.f_lineno or 0, f.f_code.co_name))
            coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
        return list(reversed(frames))
    code = getattr(cb, "__code__", None) or getattr(getattr(cb, "__func__", None), "__code__", None)
    if code is not None:
        frames.append((code.co_filename, code.co_firstlineno, code.co_name))
    return frames


# While a loop is watched, each of its callbacks is timed: asyncio's Handle._run
# (pure Python; a task's step is a handle too) is wrapped, once per process, to
# note when the running callback started, per thread. Threads of unwatched loops
# pay one dictionary lookup per callback.
_STARTED: dict[int, float] = {}
_WATCHED: dict[int, LoopHealth] = {}
_ORIGINAL_RUN: Callable[[Any], None] | None = None


def _timed_run(handle: Any) -> None:
    assert _ORIGINAL_RUN is not None
    tid = threading.get_ident()
    health = _WATCHED.get(tid)
    if health is None:
        _ORIGINAL_RUN(handle)
        return
    started, cpu0 = time.monotonic(), time.thread_time()
    _STARTED[tid] = started
    try:
        _ORIGINAL_RUN(handle)
    finally:
        _STARTED.pop(tid, None)
        seconds = time.monotonic() - started
        if seconds >= health.threshold / 4:
            health._callback_done(started, seconds, time.thread_time() - cpu0, handle)


def _time_callbacks(health: LoopHealth) -> None:
    global _ORIGINAL_RUN
    if _ORIGINAL_RUN is None:
        _ORIGINAL_RUN = asyncio.events.Handle._run
        asyncio.events.Handle._run = _timed_run  # type: ignore[method-assign,assignment]
    _WATCHED[threading.get_ident()] = health


def of_this_loop(interval: float = 0.02, log: Any = None) -> LoopHealth:
    """The running loop's :class:`LoopHealth` (one per loop, kept in the registry)."""
    loop = asyncio.get_running_loop()
    return registry.shared("loop-health", None, lambda: LoopHealth(interval, log=log), id(loop))
