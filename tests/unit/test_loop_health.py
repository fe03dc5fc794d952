"""The hub's event-loop lag and stall attribution (jhub_kit.spawners.loop_health):
pure parts with a table and a fake clock; the sampler, admission and the stall
watcher on a real event loop held by a test function."""

from __future__ import annotations

import asyncio
import time

import pytest

from jhub_kit.spawners import loop_health as lh

STDLIB = ("/usr/lib/python3.11/json/encoder.py", 200, "encode")
SQLA = ("/venv/lib/site-packages/sqlalchemy/orm/session.py", 10, "commit")
KIT = ("/venv/lib/site-packages/jhub_kit/pool/members.py", 540, "hand_over")
HUB = ("/venv/lib/site-packages/jupyterhub/user.py", 900, "spawn")
ASYNCIO = ("/usr/lib/python3.11/asyncio/events.py", 80, "_run")


@pytest.mark.parametrize(
    "frames, who",
    [
        ([STDLIB, KIT, HUB, ASYNCIO], "jhub_kit"),  # the kit called json: the kit's time
        ([SQLA, HUB, KIT, ASYNCIO], "jupyterhub"),  # JupyterHub's commit under the kit's start
        ([KIT, HUB], "jhub_kit"),
        ([STDLIB, ASYNCIO], "other"),
        ([], "other"),
        ([("/src/tests/test_x.py", 3, "slow"), ASYNCIO], "tests"),
        # the timing wrapper around a callback written in C is the instrument, not the kit
        ([("/venv/jhub_kit/spawners/loop_health.py", 298, "_timed_run"), ASYNCIO], "other"),
    ],
)
def test_the_innermost_owned_frame_decides(frames, who):
    found, frame = lh.decisive(frames)
    assert found == who
    assert (frame is None) == (who == "other")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_lag_is_the_largest_of_the_window_or_the_overdue_tick():
    clock = Clock()
    h = lh.LoopHealth(interval=0.02, window=0.5, clock=clock)
    assert h.lag() == 0.0  # never ticked: nothing known
    h.record(100.0, 0.3)
    h.record(100.2, 0.01)
    clock.now = 100.21
    assert h.lag() == pytest.approx(0.3)
    clock.now = 100.55  # the 0.3 s sample has left the window; the loop is 0.33 s overdue
    assert h.lag() == pytest.approx(0.33)
    h.record(100.55, 0.33)
    clock.now = 100.56
    h.record(100.56, 0.0)
    clock.now = 101.2
    assert h.lag() == pytest.approx(0.62)  # not ticked since 100.56
    h.record(101.2, 0.0)
    assert h.lag() == 0.0
    assert [t for t, _ in h.series(since=100.55)] == [100.55, 100.56, 101.2]


async def test_admission_waits_while_the_loop_is_late_one_start_at_a_time():
    h = lh.LoopHealth(interval=0.01, window=0.2)
    h.start()
    said: list[float] = []
    assert await h.admit(0.05, 5, said.append) == 0.0  # a healthy loop: at once
    await asyncio.sleep(0.02)  # the sampler is asleep
    time.sleep(0.15)  # the test holds the loop
    await asyncio.sleep(0.02)
    assert h.lag() > 0.1
    order: list[str] = []

    async def start(name: str) -> float:
        waited = await h.admit(0.05, 5, said.append)
        order.append(name)
        return waited

    waited = await asyncio.gather(start("a"), start("b"))
    assert order == ["a", "b"]
    assert all(0.1 < w < 1.0 for w in waited), waited  # until the window forgot the stall
    assert len(said) == 2 and said[0] > 0.05  # each told once why
    assert await h.admit(0, 5, said.append) == 0.0  # budget 0: never held
    h.stop()


async def test_admission_gives_up_waiting_after_max_wait():
    class Late(lh.LoopHealth):
        def lag(self, now: float | None = None) -> float:
            return 1.0

    h = Late(interval=0.01)
    h.start()
    t0 = time.monotonic()
    waited = await h.admit(0.1, 0.3, lambda lag: None)
    assert 0.3 <= waited < 1.0 and time.monotonic() - t0 >= 0.3
    h.stop()


def hold_the_loop(seconds: float) -> None:
    time.sleep(seconds)


async def test_a_stall_is_caught_and_attributed_to_the_code_that_held_the_loop():
    logged: list[str] = []

    class Log:
        def warning(self, msg: str, *args: object) -> None:
            logged.append(msg % args)

    h = lh.LoopHealth(interval=0.01, log=Log())
    h.start(stall_threshold=0.05)
    await asyncio.sleep(0.05)
    hold_the_loop(0.25)
    await asyncio.sleep(0.1)  # the loop ticks: the watcher closes the stall
    hold_the_loop(0.02)  # under the threshold: not kept
    await asyncio.sleep(0.1)
    h.stop()
    assert len(h.stalls) == 1, h.stalls
    stall = h.stalls[0]
    assert stall.owner == "tests" and "hold_the_loop" in stall.where, stall
    assert 0.2 < stall.seconds < 0.5 and stall.samples >= 10
    assert "test_loop_health.py" in stall.stack[0] or "hold_the_loop" in " ".join(stall.stack)
    assert logged and "of CPU) in tests" in logged[0]


async def test_one_per_loop():
    assert lh.of_this_loop() is lh.of_this_loop()


async def test_stopped_and_started_again_it_samples_and_watches_again():
    h = lh.LoopHealth(interval=0.01)
    h.start(stall_threshold=0.05)
    first = h._watcher
    h.stop()
    assert not h.running and h._watcher is None and not first.is_alive()
    h.start(stall_threshold=0.05)
    await asyncio.sleep(0.03)
    hold_the_loop(0.1)
    await asyncio.sleep(0.05)
    h.stop()
    assert h.stalls and h.stalls[0].owner == "tests"


async def test_a_cancelled_thread_call_returns_only_when_the_thread_is_done():
    """A descriptor passed to a program must stay open until the program is done:
    cancelling the caller waits for the thread before the cancellation goes on."""
    import threading

    from jhub_kit import offloop

    done = threading.Event()

    def slow() -> None:
        time.sleep(0.3)
        done.set()

    task = asyncio.create_task(offloop.run_io(slow))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert done.is_set()
