"""Two writers of the teachers' policy file at once lose no change: the read, the
change and the write of :func:`jhub_kit.views.dashboard.limits.write_limits` hold an
exclusive ``flock`` on a lock file beside the file (:func:`jhub_kit.files.locked`).
Real files; threads (the dashboard's requests) and processes (another writer)."""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path

import tomlkit

from jhub_kit.files import locked
from jhub_kit.views.dashboard.limits import write_limits

CEILING = {"mem_limit": "4G", "cpu_limit": 4}
N = 12


def _students(policy: Path) -> dict:
    return tomlkit.parse(policy.read_text()).unwrap().get("users", {})


def _write_many(path: str, first: int, count: int, go: object = None) -> None:
    if go is not None:
        go.wait(30)  # type: ignore[attr-defined]  # all processes start writing at once
    for i in range(first, first + count):
        write_limits(path, "users", f"s{i}", {"mem_limit": f"{100 + i}M"}, CEILING)


def test_threads_lose_no_change(tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text("# the teachers' changes\n")
    threads = [threading.Thread(target=_write_many, args=(str(policy), k * N, N)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    users = _students(policy)
    assert sorted(users, key=lambda s: int(s[1:])) == [f"s{i}" for i in range(4 * N)]
    assert policy.read_text().startswith("# the teachers' changes")


def test_processes_lose_no_change(tmp_path):
    policy = tmp_path / "policy.toml"
    ctx = multiprocessing.get_context("spawn")  # a fresh interpreter: no shared locks
    go = ctx.Event()
    procs = [
        ctx.Process(target=_write_many, args=(str(policy), k * 3 * N, 3 * N, go)) for k in range(3)
    ]
    for p in procs:
        p.start()
    time.sleep(1)  # the interpreters have started
    go.set()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert len(_students(policy)) == 9 * N


def test_the_lock_is_exclusive_and_released(tmp_path):
    target = tmp_path / "policy.toml"
    order: list[str] = []
    inside = threading.Event()

    def other() -> None:
        with locked(target):
            order.append("other")

    with locked(target):
        t = threading.Thread(target=other)
        t.start()
        inside.wait(0.3)  # the other writer waits for us
        order.append("first")
    t.join(5)
    assert order == ["first", "other"]
    assert (tmp_path / ".policy.toml.lock").exists() and not target.exists()
