"""The warm pool's bookkeeping with a fake engine and a fake clock (no Docker):
a start taking a member while maintenance awaits the engine, a member that keeps
failing backs off, a marker that cannot be written leaks nothing, students
never wait behind a fill, the fill request's cap, removal at shutdown."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from jhub_kit.loop.admission import StartGate
from jhub_kit.pool import members as pool_mod
from jhub_kit.pool import schedule
from jhub_kit.pool.members import Member, MemberKind, WarmPool


class FakeEngine:
    """The few engine calls the pool makes, answered from a dict; ``slow`` makes
    a call wait (in its thread) until ``release`` is set."""

    def __init__(self):
        self.running: dict[str, str] = {}  # id -> name
        self.removed: list[str] = []
        self.slow: set[str] = set()
        self.release = threading.Event()
        self.entered = threading.Event()

    def _maybe_wait(self, method):
        if method in self.slow:
            self.entered.set()
            assert self.release.wait(10)

    def containers(self, all=False, filters=None):
        self._maybe_wait("containers")
        return [{"Id": i, "Names": [f"/{n}"]} for i, n in self.running.items()]

    def remove_container(self, cid, force=False):
        self._maybe_wait("remove_container")
        self.removed.append(cid)
        self.running.pop(cid, None)

    def logs(self, cid, tail=20):
        return pool_mod.READY_LINE.encode()

    def inspect_container(self, cid):
        return {"State": {"Running": cid in self.running}}


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def make_pool(tmp_path: Path, engine: FakeEngine, size: int = 2, **kw) -> WarmPool:
    pool = WarmPool(
        prefix="t", base=str(tmp_path), size=size, max_age=0, client=engine, log=_Log(), **kw
    )
    pool.clock = Clock()
    return pool


class _Log:
    def __init__(self):
        self.lines = []

    def _add(self, level, msg, *args):
        self.lines.append((level, msg % args if args else msg))

    def info(self, msg, *a):
        self._add("info", msg, *a)

    def warning(self, msg, *a):
        self._add("warning", msg, *a)

    def error(self, msg, *a):
        self._add("error", msg, *a)

    def exception(self, msg, *a):
        self._add("exception", msg, *a)


def kind(engine: FakeEngine, fail: list[bool] | None = None) -> MemberKind:
    fail = fail if fail is not None else []

    async def create(name, directory):
        if fail and fail.pop(0):
            raise RuntimeError("the image would not start")
        cid = f"id-{name}"
        engine.running[cid] = name
        return cid

    return MemberKind("k1", {"image": "x"}, ["slot-0"], create)


def add_ready(pool: WarmPool, engine: FakeEngine, name: str, key: str = "k1") -> Member:
    m = Member(name, f"id-{name}", pool.base / name, key, created=pool.clock())
    (m.dir / "channel").mkdir(parents=True)
    engine.running[m.id] = name
    pool.ready.append(m)
    return m


def free_slot():
    return StartGate(2, 10).background_slot()


async def test_a_start_takes_a_member_while_maintenance_awaits_the_engine(tmp_path):
    engine = FakeEngine()
    pool = make_pool(tmp_path, engine, size=0)
    a, b = add_ready(pool, engine, "a"), add_ready(pool, engine, "b")
    del engine.running[a.id], engine.running[b.id]  # both died, as far as the engine knows
    pool.kind, pool._slot = kind(engine), free_slot
    engine.slow.add("remove_container")
    maintenance = asyncio.create_task(pool.maintain())
    await asyncio.to_thread(engine.entered.wait, 10)  # removing "a", in the engine's thread
    taken = await pool.take("k1")  # a student's start, meanwhile
    engine.release.set()
    await maintenance  # no ValueError: "b" left the list while maintenance awaited
    assert taken is b and (b.dir / pool_mod.ASSIGNED).exists()
    assert engine.removed == [a.id]  # the member given out is the student's now
    assert pool.ready == []


async def test_a_member_that_keeps_failing_backs_off(tmp_path):
    engine = FakeEngine()
    pool = make_pool(tmp_path, engine, size=1)
    fails = [True, True, False]
    pool.kind, pool._slot = kind(engine, fails), free_slot

    async def tick():
        await pool.maintain()
        await asyncio.gather(*pool._adding)

    await tick()
    assert (pool.failures, pool.retry_at - pool.clock()) == (1, 2.0)
    await tick()  # within the back-off: nothing is tried
    assert pool.failures == 1 and fails == [True, False]
    pool.clock.now += 2.5
    await tick()
    assert (pool.failures, pool.retry_at - pool.clock()) == (2, 4.0)
    pool.clock.now += 4.5
    await tick()
    assert pool.failures == 0 and len(pool.ready) == 1
    assert [pool_mod.backoff(n) for n in (0, 1, 2, 8, 9, 30)] == [0, 2, 4, 256, 300, 300]
    assert any("next try in 4 s" in line for _, line in pool.log.lines)


async def test_a_member_whose_marker_cannot_be_written_is_removed_not_leaked(tmp_path):
    engine = FakeEngine()
    pool = make_pool(tmp_path, engine)
    broken = add_ready(pool, engine, "broken")
    good = add_ready(pool, engine, "good")
    (broken.dir / pool_mod.ASSIGNED).mkdir()  # writing the marker fails
    assert await pool.take("k1") is good
    await asyncio.gather(*pool._adding)
    assert broken.id in engine.removed and pool.ready == []


async def test_take_gives_only_members_of_the_key(tmp_path):
    engine = FakeEngine()
    pool = make_pool(tmp_path, engine)
    add_ready(pool, engine, "a", key="other")
    assert await pool.take("k1") is None and len(pool.ready) == 1


async def test_a_student_never_waits_behind_a_fill():
    gate = StartGate(1, 10)
    order = []

    async def student(name, hold):
        async with gate.slot():
            order.append(f"{name} in")
            await asyncio.sleep(hold)

    async def fill():
        async with gate.background_slot(poll=0.01):
            order.append("fill in")
            await asyncio.sleep(0.2)
        order.append("fill out")

    first = asyncio.create_task(student("s1", 0.1))
    await asyncio.sleep(0)
    filling = asyncio.create_task(fill())  # waits: a student holds a slot
    await asyncio.sleep(0.05)
    assert order == ["s1 in"]
    await first
    await asyncio.sleep(0.05)
    assert order == ["s1 in", "fill in"]
    t0 = time.monotonic()
    await student("s2", 0)  # arrives during the fill: let in at once
    assert time.monotonic() - t0 < 0.1
    await filling
    assert order == ["s1 in", "fill in", "s2 in", "fill out"]


async def test_a_fill_takes_a_freed_place_at_once_not_at_its_next_look():
    """Filling a class's pool keeps both cores busy: a fill waiting for a place is
    woken when the last student's start leaves or another fill finishes, not at
    its next look (5 s here), and as many as there are places."""
    gate = StartGate(2, 10)
    entered: dict[int, float] = {}

    async def fill(i):
        async with gate.background_slot(poll=5):
            entered[i] = time.monotonic()
            await asyncio.sleep(0.1)

    async with gate.slot():
        fills = [asyncio.create_task(fill(i)) for i in range(3)]
        await asyncio.sleep(0.05)
        assert entered == {}  # a student holds a place
        t0 = time.monotonic()
    await asyncio.sleep(0.02)
    assert sorted(entered) == [0, 1]  # both places at once, in arrival order
    await asyncio.gather(*fills)
    assert entered[2] - t0 < 2.0  # when a fill finished (0.1 s), long before 5 s


def test_a_fill_request_is_held_to_the_cap():
    import datetime as dt

    now = dt.datetime(2026, 12, 1, 9, 0)
    req = schedule.FillRequest(4000, now.timestamp() + 3600)
    size, why = schedule.target(now, 2, [], req, cap=100)
    assert size == 100 and "held to pool_fill_max 100" in why
    assert schedule.target(now, 2, [], req, cap=0)[0] == 4000
    small = schedule.FillRequest(30, now.timestamp() + 3600)
    assert schedule.target(now, 2, [], small, cap=100)[0] == 30


async def test_close_removes_the_unassigned_members_only(tmp_path):
    engine = FakeEngine()
    pool = make_pool(tmp_path, engine)
    a, b = add_ready(pool, engine, "a"), add_ready(pool, engine, "b")
    given = await pool.take("k1")
    await pool.close()
    assert engine.removed == [b.id] and given is a and a.id in engine.running
    assert not b.dir.exists()
    assert pool.closed
    pool.start(kind(engine), free_slot)  # a closed pool stays closed
    assert not pool.running


@pytest.mark.parametrize("cap, asked", [(100, 150)])
def test_pool_status_says_the_cap(tmp_path, cap, asked):
    pool = WarmPool(
        prefix="t", base=str(tmp_path), size=1, max_age=0, client=None, log=_Log(), fill_max=cap
    )
    schedule.write_request(tmp_path, schedule.FillRequest(asked, time.time() + 60))
    assert pool.target()[0] == cap
    assert pool.status()["fill_max"] == cap


async def test_kinds_per_profile_are_filled_taken_and_trimmed_apart(tmp_path):
    """A pool with the configuration's kind and a profile's (its own image): each
    filled to its own target (pool_size; the profile's pool_size; a class time
    naming the profile), a start takes only a member of its key, the status gives
    each kind, and a kind above its target loses only its own members."""
    import datetime as dt

    engine = FakeEngine()
    now = dt.datetime.now()
    day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[now.weekday()]
    windows = schedule.parse_schedule([f"{day} 00:00-24:00 3 r-course"])
    pool = make_pool(tmp_path, engine, size=1, windows=windows)

    def kind_of(key):
        async def create(name, directory):
            engine.running[f"id-{name}"] = name
            return f"id-{name}"

        return MemberKind(key, {"image": key}, [], create)

    pool.start({"": kind_of("py"), "r-course": kind_of("r")}, free_slot, {"r-course": 1})
    pool._task.cancel()  # ticks by hand below

    async def tick():
        await pool.maintain()
        await asyncio.gather(*pool._adding)

    await tick()
    assert sorted(m.label for m in pool.ready) == ["", "r-course", "r-course", "r-course"]
    assert pool.targets() == {
        "": (1, "pool_size"),
        "r-course": (3, f"schedule '{day} 00:00-24:00 3 r-course'"),
    }
    status = pool.status()
    assert status["target"] == 4 and status["kinds"]["r-course"]["ready"] == 3
    assert status["kinds"][""] == {"ready": 1, "starting": 0, "target": 1, "why": "pool_size"}
    taken = await pool.take("r")
    assert taken.label == "r-course" and taken.key == "r"
    assert pool.kind_for("r") is pool.kinds["r-course"] and pool.kind_for("julia") is None
    # the class time ends: the profile falls back to its own pool_size (1)
    pool.windows = []
    await tick()
    assert sorted(m.label for m in pool.ready) == ["", "r-course"]
    assert (await pool.take("py")).label == "" and await pool.take("py") is None
