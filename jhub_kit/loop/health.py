"""The hub's event loop: how late it runs (lag), and what held it (stalls).

Every page, API call and progress event of the hub waits for its one event loop.
:class:`LoopHealth` measures that wait: a task sleeps ``interval`` seconds again
and again and records how much later than asked it woke up (the *lag*: what a
request arriving then would have waited). Pooled starts are admitted only while
the recent lag is within a budget (:meth:`LoopHealth.admit`), so a class's rush
cannot freeze the hub for everyone else.

Optionally a watchdog thread (started with the sampler, stopped with it) wakes
four times per threshold, and while the sampler's tick is overdue it takes the
loop thread's Python stack (:func:`sys._current_frames`), as sampling profilers
do. A tick that comes ``threshold`` seconds or more late closes a *stall*,
attributed to the innermost frame of the kit, JupyterHub or a test
(:func:`decisive`) seen most often in its samples: the code that held the loop,
not the library it called. Nothing of asyncio is replaced or wrapped.

What a sample can and cannot say: it names the frame running when it was taken,
which may be later than the start of the stall (the first sample comes a quarter
of the threshold after the tick was due); a stall made of many short callbacks
in a row is one stall, named by the frame sampled most; a loop thread sampled in
its selector's wait (not run by the OS, or waiting for the GIL) is ``"waiting"``;
C code that keeps the GIL cannot be sampled until it lets go; and a stall's
length is how late the tick ran, up to ``interval`` shorter than the hold itself.

Pure parts (:func:`decisive`, :func:`stall_of`, :meth:`LoopHealth.record`,
:meth:`LoopHealth.lag`) take the clock's readings as arguments and are table-tested.
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
Key = tuple[str, Frame | None]  # who, and the decisive frame (None: nobody's)
#: counted by the watchdog for a tick during which the loop was not running at all
STOPPED: Key = ("stopped", None)
_THIS_FILE = "/jhub_kit/loop/health.py"
_SELECTORS = "/selectors.py"  # the stdlib's: where an idle loop waits for events
#: the watchdog never wakes more often than this (seconds), whatever the threshold
MIN_WAKE = 0.002


def owner(filename: str) -> str | None:
    """Who a frame of ``filename`` belongs to (None: a library or the stdlib)."""
    for part, who in OWNERS:
        if part in filename:
            return who
    return None


def decisive(frames: Sequence[Frame]) -> Key:
    """Who held the loop in a stack, innermost frame first: the owner of the
    innermost frame that has one (a library called by JupyterHub is
    JupyterHub's time; by the kit, the kit's), with that frame. This module's
    own frames (the lag sampler's step) are the instrument, not an owner. A
    stack that ends in the selector's wait is nobody's: the loop thread was
    waiting for the OS or for the GIL, running no one's code (``"waiting"``)."""
    if frames and frames[0][0].endswith(_SELECTORS):
        return "waiting", None
    for f in frames:
        if f[0].endswith(_THIS_FILE):
            continue
        who = owner(f[0])
        if who is not None:
            return who, f
    return "other", None


@dataclass
class Stall:
    """The loop's tick came ``seconds`` late. ``owner`` and ``where``: the decisive
    frame seen in most of the ``taken`` stack samples (``samples`` of them);
    ``"other"`` and ``"?"`` if none was taken. ``cpu``: the loop thread's CPU
    time from the tick before to this one; ``owner_cpu``: the part of it spent up to
    a sample that named the owner, since the sample before (the loop thread's own
    CPU clock, read at each sample): time the thread waited, for the GIL or a core,
    is nobody's."""

    seconds: float
    owner: str
    where: str
    samples: int
    stack: list[str] = field(default_factory=list)
    cpu: float = 0.0
    taken: int = 0
    owner_cpu: float = 0.0

    def describe(self) -> str:
        return (
            f"{self.seconds * 1000:.0f} ms ({self.cpu * 1000:.0f} ms of CPU) in {self.owner} "
            f"({self.where}, {self.samples} of {self.taken} samples, "
            f"{self.owner_cpu * 1000:.0f} ms of CPU in them)"
        )


def stall_of(
    seconds: float,
    cpu: float,
    counts: collections.Counter[Key],
    stacks: dict[Key, list[str]],
    cpu_by: dict[Key, float] | None = None,
) -> Stall:
    """A stall from the samples taken during it: ``counts`` of each decisive frame,
    ``stacks`` one stack (innermost first) for each, ``cpu_by`` the loop thread's CPU
    up to each frame's samples (None: not measured, all of ``cpu`` is the owner's)."""
    if not counts:
        return Stall(seconds, "other", "?", 0, [], cpu=cpu, taken=0)
    (who, where), n = counts.most_common(1)[0]
    place = "?" if where is None else _line(where)
    owner_cpu = cpu if cpu_by is None else cpu_by.get((who, where), 0.0)
    return Stall(
        seconds,
        who,
        place,
        n,
        stacks.get((who, where), []),
        cpu,
        sum(counts.values()),
        owner_cpu,
    )


@dataclass
class _Samples:
    """The stack samples taken under one tick: how often each decisive frame was
    seen, a stack of each, the loop thread's CPU up to each frame's samples, and the
    thread's CPU clock at the last sample (or at the tick)."""

    cpu_at: float | None
    counts: collections.Counter[Key] = field(default_factory=collections.Counter)
    stacks: dict[Key, list[str]] = field(default_factory=dict)
    cpu_by: dict[Key, float] = field(default_factory=dict)


def _thread_cpu_clock(thread_id: int) -> Callable[[], float] | None:
    """The CPU clock of thread ``thread_id`` (a pthread id, as threading gives it),
    or None where the platform has none."""
    try:
        clock_id = time.pthread_getcpuclockid(thread_id)
        time.clock_gettime(clock_id)
    except (AttributeError, OSError):
        return None
    return lambda: time.clock_gettime(clock_id)


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
    threshold: float = 0.0
    _task: asyncio.Task[None] | None = None
    _gate: asyncio.Lock | None = None
    _watcher: threading.Thread | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    #: the loop thread's CPU clock at the last tick (the watchdog reads the same clock)
    last_tick_cpu: float = 0.0
    # stack samples by the tick they follow
    _pending: dict[float, _Samples] = field(default_factory=dict)

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

    # -- the sampler and the watchdog ------------------------------------------

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def watching(self) -> bool:
        """A watchdog thread is sampling stalls."""
        return self._watcher is not None and self._watcher.is_alive()

    def start(self, stall_threshold: float = 0.0) -> None:
        """Sample the running loop (once); with ``stall_threshold`` > 0, also start a
        watchdog thread that names what holds it that long. Call from the loop."""
        loop = asyncio.get_running_loop()
        if not self.running:
            if self._stop.is_set():  # the last sampler ended (a hub's shutdown)
                self._stop = threading.Event()
            self.last_tick = self.clock()
            self._task = loop.create_task(self._sample())
            # the hub's shutdown cancels every task: the watchdog ends with the sampler
            stop = self._stop

            def sampler_ended(_task: asyncio.Task[None]) -> None:
                stop.set()

            self._task.add_done_callback(sampler_ended)
        if stall_threshold > 0 and not self.watching:
            self.threshold = stall_threshold
            self._watcher = threading.Thread(
                target=self._watch,
                args=(loop, threading.get_ident(), stall_threshold, self._stop),
                name="jhub-kit-loop-watch",
                daemon=True,
            )
            self._watcher.start()

    def stop(self) -> None:
        """Stop sampling and watching; the watchdog thread has ended when this
        returns (a later :meth:`start` begins again)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._stop.set()
        watcher = self._watcher
        if watcher is not None and watcher is not threading.current_thread():
            watcher.join(timeout=5)
        self._watcher, self._stop = None, threading.Event()
        self.threshold = 0.0
        with self._lock:
            self._pending.clear()

    async def _sample(self) -> None:
        cpu = time.thread_time()
        while True:
            asked = self.clock()
            await asyncio.sleep(self.interval)
            now, cpu_now = self.clock(), time.thread_time()
            lag = max(0.0, now - asked - self.interval)
            before = self.last_tick
            self.last_tick_cpu = cpu_now  # before the tick: a watchdog that sees it sees this
            self.record(now, lag)
            if self.threshold > 0:
                self._close(before, lag, cpu_now - cpu)
            cpu = cpu_now

    def _close(self, tick: float, lag: float, cpu: float) -> None:
        """In the loop thread: the tick after ``tick`` came ``lag`` seconds late,
        with ``cpu`` seconds of the loop thread's CPU since; a stall if that is the
        threshold or more, named by the samples taken meanwhile."""
        with self._lock:
            taken = self._pending.pop(tick, None) or _Samples(None)
            for old in [t for t in self._pending if t < tick]:
                del self._pending[old]
        if lag >= self.threshold and not taken.counts[STOPPED]:  # stopped: nobody held it
            cpu_by = taken.cpu_by if taken.cpu_at is not None else None
            self._keep(stall_of(lag, cpu, taken.counts, taken.stacks, cpu_by))

    def _watch(
        self,
        loop: asyncio.AbstractEventLoop,
        loop_thread: int,
        threshold: float,
        stop: threading.Event,
    ) -> None:
        """The watchdog thread: wake every quarter of ``threshold`` (asleep in
        between, without the GIL); while the sampler's tick is overdue by that
        much, sample the loop thread's stack under the tick it follows; until
        ``stop`` or the loop is closed."""
        every = max(threshold / 4, MIN_WAKE)
        thread_cpu = _thread_cpu_clock(loop_thread)  # its time.thread_time(), from here
        while not stop.wait(every) and not loop.is_closed():
            tick, tick_cpu = self.last_tick, self.last_tick_cpu
            if self.clock() - tick - self.interval < every:
                continue
            frame = sys._current_frames().get(loop_thread) if loop.is_running() else None
            frames = [] if frame is None else _stack(frame)
            del frame
            cpu_now = thread_cpu() if thread_cpu is not None else None
            if self.last_tick != tick:  # the loop ticked meanwhile: not this hold's
                continue
            key = decisive(frames) if frames else STOPPED
            with self._lock:
                taken = self._pending.setdefault(tick, _Samples(tick_cpu))
                taken.counts[key] += 1
                taken.stacks.setdefault(key, [_line(f) for f in frames[:25]])
                if cpu_now is None or taken.cpu_at is None:
                    taken.cpu_at = None  # not measured
                else:  # the CPU since the last sample (or the tick) goes to this one's frame
                    spent = max(0.0, cpu_now - taken.cpu_at)
                    taken.cpu_by[key] = taken.cpu_by.get(key, 0.0) + spent
                    taken.cpu_at = cpu_now

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

    # -- stalls ----------------------------------------------------------------

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


def _line(f: Frame) -> str:
    return f"{f[0]}:{f[1]} {f[2]}"


def _stack(frame: Any, limit: int = 60) -> list[Frame]:
    """A thread's Python stack, innermost first (no source lines read, to be quick:
    the sampled thread may run on between two frames, so a sample can mix two
    moments of its stack)."""
    frames: list[Frame] = []
    while frame is not None and len(frames) < limit:
        code = frame.f_code
        frames.append((code.co_filename, frame.f_lineno or 0, code.co_name))
        frame = frame.f_back
    return frames


def of_this_loop(interval: float = 0.02, log: Any = None) -> LoopHealth:
    """The running loop's :class:`LoopHealth` (one per loop, kept in the registry)."""
    loop = asyncio.get_running_loop()
    # kept with the loop itself as its owner: a loop's id is reused once it is gone,
    # and the registry's reference keeps it from going while its health is kept
    return registry.shared("loop-health", loop, lambda: LoopHealth(interval, log=log))
