"""The start queue part (:class:`jhub_kit.spawners.start_queue.StartQueue`) with a
real gate: what the student reads, what the views are told, and the three ways a
start is refused (asyncio only, no services)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from jhub_kit.compat import SpawnException, admin_message
from jhub_kit.loop.admission import StartGate
from jhub_kit.spawners.start_queue import StartQueue, short_start_timeout


def _queue(gate: StartGate, *, queue_timeout: float = 5, after: float = 5):
    said: list[tuple[int, str]] = []
    places: list[int | None] = []
    queue = StartQueue(
        gate,
        owner="ann's server",
        spawner_class="QuotaDockerSpawner",
        queue_timeout=queue_timeout,
        after_queue_timeout=after,
        progress=lambda p, m: said.append((p, m)),
        place=places.append,
        log=logging.getLogger("jhub_kit.test_start_queue_part"),
    )
    return queue, said, places


async def _hold(gate: StartGate, release: asyncio.Event) -> None:
    async with gate.slot():
        await release.wait()


async def test_a_start_waits_its_turn_and_is_told_its_place():
    gate = StartGate(limit=1, max_queue=5)
    release = asyncio.Event()
    holder = asyncio.create_task(_hold(gate, release))
    await asyncio.sleep(0)
    queue, said, places = _queue(gate)

    async def body() -> str:
        assert gate.active == 1 and gate.holders != {}
        return "started"

    start = asyncio.create_task(queue.admit(body))
    await asyncio.sleep(0.05)
    assert said == [(8, "Waiting to start: you are next")] and places == [0]
    release.set()
    assert await start == "started"
    assert places == [0, None]  # out of line: the views show no place
    await holder
    assert gate.idle


async def test_a_full_queue_is_refused_with_429():
    gate = StartGate(limit=1, max_queue=0)
    release = asyncio.Event()
    holder = asyncio.create_task(_hold(gate, release))
    await asyncio.sleep(0)
    queue, _, _ = _queue(gate)
    with pytest.raises(SpawnException) as info:
        await queue.admit(lambda: asyncio.sleep(0))
    release.set()
    await holder
    e = info.value
    assert (e.status_code, e.reason) == (429, "queue_full")
    assert "Too many servers are starting" in e.message
    assert "ann's server refused: the start queue is full" in admin_message(e)


async def test_a_long_wait_in_line_is_refused_with_503_naming_the_option():
    gate = StartGate(limit=1, max_queue=5)
    release = asyncio.Event()
    holder = asyncio.create_task(_hold(gate, release))
    await asyncio.sleep(0)
    queue, _, places = _queue(gate, queue_timeout=0.1)

    async def body() -> None:
        raise AssertionError("never admitted")

    with pytest.raises(SpawnException) as info:
        await queue.admit(body)
    release.set()
    await holder
    e = info.value
    assert (e.status_code, e.reason) == (503, "queue_timeout")
    assert "c.QuotaDockerSpawner.queue_timeout" in admin_message(e)
    assert places[-1] is None and gate.idle


async def test_a_start_slower_than_its_time_after_the_queue_fails_and_frees_its_slot():
    gate = StartGate(limit=1, max_queue=5)
    queue, _, _ = _queue(gate, after=0.05)
    with pytest.raises(SpawnException) as info:
        await queue.admit(lambda: asyncio.sleep(5))
    e = info.value
    assert (e.status_code, e.reason) == (500, "startup_timeout")
    assert "c.QuotaDockerSpawner.start_after_queue_timeout" in admin_message(e)
    assert gate.idle


@pytest.mark.parametrize(
    "start_timeout, said",
    [(1020, False), (2000, False), (600, True)],
    ids=["equal", "longer", "shorter"],
)
def test_a_start_timeout_below_the_queues_is_said(start_timeout, said):
    why = short_start_timeout(start_timeout, 900, 120)
    assert bool(why) is said
    if said:
        assert "queue_timeout + start_after_queue_timeout = 1020" in why


async def test_the_spawners_old_queue_methods_warn_and_name_their_replacements():
    from types import SimpleNamespace

    from traitlets.config import Config

    from jhub_kit import QuotaDockerSpawner

    c = Config()
    c.JupyterHub.concurrent_spawn_limit = 50
    sp = QuotaDockerSpawner(config=c, user=SimpleNamespace(name="ann", groups=[]))
    with pytest.warns(DeprecationWarning, match=r"hub_spawn_limit\(spawner\.config\)"):
        assert sp.hub_concurrent_spawn_limit() == 50
    with pytest.warns(DeprecationWarning, match=r"use start_queue\(\)\.admit\(body\)"):
        assert await sp.admitted(lambda: asyncio.sleep(0, "started")) == "started"
    assert sp.start_gate().idle
