"""The kit's threads for work that would hold the hub's event loop: file writes,
directory and mount-table reads, cgroup reads, the warm pool's engine calls.

Two process-wide executors, sized for a class rather than the event loop's
default executor (``min(32, cores + 4)`` threads shared with everything else in
the hub): :func:`run_io` for files (many short calls, 16 threads: a class's
hand-overs at once), :func:`run_engine` for the pool's Docker calls while it
fills (4 threads: filling is background work and must leave the engine to the
students' starts, which use the spawner's own ``docker_threads``).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

IO_THREADS = 16
ENGINE_THREADS = 4

_EXECUTORS: dict[str, ThreadPoolExecutor] = {}


def executor(kind: str) -> ThreadPoolExecutor:
    """The process's ``"io"`` or ``"engine"`` executor (made at first use)."""
    if kind not in _EXECUTORS:
        size = IO_THREADS if kind == "io" else ENGINE_THREADS
        _EXECUTORS[kind] = ThreadPoolExecutor(size, thread_name_prefix=f"jhub-kit-{kind}")
    return _EXECUTORS[kind]


async def run_io(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` on a file thread."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor("io"), functools.partial(fn, *args, **kwargs))


async def run_engine(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` on an engine thread (the pool's fill)."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor("engine"), functools.partial(fn, *args, **kwargs))
