"""Pure tests of the start gate (asyncio only, no services)."""

from __future__ import annotations

import asyncio

import pytest

from jhub_kit.loop.admission import QueueFull, QueueTimeout, StartGate, default_limit


async def test_limit_fifo_order_and_positions():
    gate = StartGate(limit=2, max_queue=10)
    running, peak, order, seen = 0, 0, [], {}
    release = asyncio.Event()

    async def job(i):
        nonlocal running, peak
        async with gate.slot(lambda ahead: seen.setdefault(i, []).append(ahead), poll=0.01):
            running += 1
            peak = max(peak, running)
            order.append(i)
            await release.wait()
            running -= 1

    tasks = []
    for i in range(6):
        tasks.append(asyncio.create_task(job(i)))
        await asyncio.sleep(0.01)  # arrive in order
    assert order == [0, 1] and gate.queued == 4
    assert seen[5] == [3]  # told: 3 ahead of you
    release.set()
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3, 4, 5]  # arrival order
    assert peak == 2
    assert seen[5] == sorted(seen[5], reverse=True)  # only ever moves forward
    assert gate.active == 0 and gate.queued == 0


async def test_queue_full():
    gate = StartGate(limit=1, max_queue=1)
    hold = asyncio.Event()

    async def holder():
        async with gate.slot():
            await hold.wait()

    t1 = asyncio.create_task(holder())
    await asyncio.sleep(0)
    t2 = asyncio.create_task(holder())
    await asyncio.sleep(0.01)
    with pytest.raises(QueueFull, match="1 starts are already waiting"):
        async with gate.slot():
            pass
    hold.set()
    await asyncio.gather(t1, t2)
    assert gate.active == 0


async def test_cancelled_waiter_leaves_the_queue_and_slots_are_not_lost():
    gate = StartGate(limit=1, max_queue=5)
    hold = asyncio.Event()

    async def holder():
        async with gate.slot(poll=0.01):
            await hold.wait()

    t1 = asyncio.create_task(holder())
    await asyncio.sleep(0)
    t2 = asyncio.create_task(holder())
    t3 = asyncio.create_task(holder())
    await asyncio.sleep(0.02)
    t2.cancel()
    await asyncio.sleep(0.02)
    assert gate.queued == 1
    hold.set()
    await asyncio.gather(t1, t3)
    assert gate.active == 0 and gate.queued == 0


async def test_failure_inside_releases():
    gate = StartGate(limit=1, max_queue=5)
    with pytest.raises(RuntimeError):
        async with gate.slot():
            raise RuntimeError("boom")
    async with gate.slot():
        assert gate.active == 1


def test_default_limit_is_the_cores_available_and_one_more(monkeypatch):
    import os

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    assert default_limit() == 3
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    assert default_limit() == 3
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)))
    assert default_limit() == 9


async def test_a_start_that_gives_up_names_who_holds_the_slots():
    gate = StartGate(limit=1, max_queue=5)
    hold = asyncio.Event()

    async def alice():
        async with gate.slot(owner="alice's server"):
            await hold.wait()

    t = asyncio.create_task(alice())
    await asyncio.sleep(0.05)
    with pytest.raises(QueueTimeout, match=r"held by alice's server \(0 s\)"):
        async with gate.slot(poll=0.01, timeout=0.05, owner="bob's server"):
            pass
    hold.set()
    await t
    assert gate.holders == {} and gate.active == 0


async def test_raising_the_limit_lets_waiting_starts_in():
    """A swarm that gains nodes raises the gate's limit: those waiting go in at once."""
    gate = StartGate(1, 10)
    entered: list[str] = []
    release = asyncio.Event()

    async def start(name: str) -> None:
        async with gate.slot(owner=name, poll=0.05):
            entered.append(name)
            await release.wait()

    tasks = [asyncio.create_task(start(n)) for n in "abc"]
    await asyncio.sleep(0.2)
    assert entered == ["a"] and gate.queued == 2
    gate.set_limit(3)
    await asyncio.sleep(0.2)
    assert entered == ["a", "b", "c"] and gate.active == 3 and gate.queued == 0
    release.set()
    await asyncio.gather(*tasks)
    assert gate.active == 0
