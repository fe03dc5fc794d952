"""The kit's threads for work that would hold the hub's event loop: file writes,
directory and mount-table reads, cgroup reads, the warm pool's engine calls.

Three process-wide executors, sized for a class rather than the event loop's
default executor (``min(32, cores + 4)`` threads shared with everything else in
the hub): :func:`run_io` for files (many short calls, 16 threads: a class's
hand-overs at once), :func:`run_command` for programs (16 threads, so a slow
``mkfs`` never holds up a hand-over's file writes), :func:`run_engine` for the
pool's Docker calls while it fills (4 threads: filling is background work and
must leave the engine to the students' starts, which use the spawner's own
``docker_threads``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from . import registry

T = TypeVar("T")

IO_THREADS = 16
COMMAND_THREADS = 16
ENGINE_THREADS = 4
SIZES = {"io": IO_THREADS, "commands": COMMAND_THREADS, "engine": ENGINE_THREADS}


def executor(kind: str) -> ThreadPoolExecutor:
    """The process's ``"io"``, ``"commands"`` or ``"engine"`` executor (made at first
    use, its threads started at once from a thread of its own: a ThreadPoolExecutor
    starts a thread inside ``submit`` and waits for it to run, which in a rush held
    the hub's loop for tens of milliseconds)."""

    def make() -> ThreadPoolExecutor:
        ex = ThreadPoolExecutor(SIZES[kind], thread_name_prefix=f"jhub-kit-{kind}")
        threading.Thread(
            target=_start_threads, args=(ex, SIZES[kind]), name="jhub-kit-warm", daemon=True
        ).start()
        return ex

    found: ThreadPoolExecutor = registry.shared("executor", None, make, kind)
    return found


def _start_threads(ex: ThreadPoolExecutor, n: int) -> None:
    """Make ``ex`` start all its ``n`` threads: ``n`` tasks that wait for each other."""
    barrier = threading.Barrier(n + 1)
    for _ in range(n):
        ex.submit(barrier.wait, 10)
    with contextlib.suppress(threading.BrokenBarrierError):
        barrier.wait(10)


async def _to_the_end(kind: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn`` on a ``kind`` thread. Cancelled, this still waits for the thread to
    finish before the cancellation goes on: a thread cannot be stopped, and the
    caller's files and descriptors (a mount point passed as ``/proc/self/fd/N``)
    must stay valid until it is done with them."""
    loop = asyncio.get_running_loop()
    fut = loop.run_in_executor(executor(kind), functools.partial(fn, *args, **kwargs))
    try:
        return await asyncio.shield(fut)
    except asyncio.CancelledError:
        await asyncio.wait([fut])
        raise


async def run_io(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` on a file thread."""
    return await _to_the_end("io", fn, *args, **kwargs)


async def run_command(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` on a thread for programs (which may run for minutes:
    ``mkfs``, ``e2fsck``), apart from the quick file work."""
    return await _to_the_end("commands", fn, *args, **kwargs)


async def run_engine(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` on an engine thread (the pool's fill)."""
    return await _to_the_end("engine", fn, *args, **kwargs)
