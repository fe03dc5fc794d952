"""The warm pool's pure parts: the limits a member gets at assignment, its name."""

from __future__ import annotations

import os

import pytest

from jhub_kit.pool.members import PoolError, member_name, stale, update_body
from jhub_kit.quota.policy import Quota

M = 1024**2


def test_update_body_gives_exactly_the_students_limits():
    q = Quota(mem_limit=400 * M, swap_limit=0, cpu_limit=0.5, pids_limit=256)
    assert update_body(q) == {
        "Memory": 400 * M,
        "MemorySwap": 400 * M,
        "CpuPeriod": 100000,
        "CpuQuota": 50000,
        "PidsLimit": 256,
    }
    # limits the student does not have are lifted, not left at the member's
    body = update_body(Quota(mem_limit=400 * M, swap_limit=None, mem_guarantee=100 * M))
    assert body == {
        "Memory": 400 * M,
        "MemorySwap": -1,
        "CpuQuota": -1,
        "PidsLimit": -1,
        "MemoryReservation": 100 * M,
    }
    assert update_body(Quota(mem_limit=M * 8, cpu_guarantee=1))["CpuShares"] == 1024
    assert update_body(Quota(mem_limit=M * 8, cpu_limit=1), cpu_period=50000)["CpuQuota"] == 50000


def test_no_memory_limit_cannot_be_set_on_a_running_container():
    with pytest.raises(PoolError, match="without a memory limit"):
        update_body(Quota(mem_limit=None))


def test_member_names_carry_nothing_of_a_user():
    a, b = member_name("jupyter"), member_name("jupyter")
    assert a != b and a.startswith("jupyter-pool-") and len(a) == len("jupyter-pool-") + 10


def test_stale():
    assert stale(0, 100, 50) and not stale(0, 100, 500) and not stale(0, 10**9, 0)


def test_the_launcher_sleeps_on_the_fifo_and_the_hub_wakes_it(tmp_path):
    """A waiting member sleeps on the channel's FIFO (no polling): the hub's write
    after the identity wakes it at once; an identity written with no wake (the
    launcher between two looks) is found at the next look; without a FIFO (a
    member of an older hub) it polls."""
    import json
    import os
    import threading
    import time

    from jhub_kit.pool import launcher, members

    channel, fifo = tmp_path / "identity.json", tmp_path / "wake"
    os.mkfifo(fifo, 0o644)
    got = {}

    def run(nap):
        t0 = time.monotonic()
        got["identity"] = launcher.wait(str(channel), str(fifo), nap=nap)
        got["took"] = time.monotonic() - t0

    t = threading.Thread(target=run, args=(30,))
    t.start()
    time.sleep(0.5)
    members.wake(fifo)  # a wake with no identity yet: it looks, and sleeps again
    time.sleep(0.3)
    assert t.is_alive()
    channel.write_text(json.dumps({"env": {"A": "1"}, "args": []}))
    members.wake(fifo)
    t.join(5)
    assert not t.is_alive() and got["identity"]["env"] == {"A": "1"}
    assert got["took"] < 5  # woken, not after the 30 s nap
    # no wake at all: found at the next look (nap)
    channel.unlink()
    t = threading.Thread(target=run, args=(0.2,))
    t.start()
    time.sleep(0.3)
    channel.write_text(json.dumps({"env": {"A": "2"}, "args": []}))
    t.join(5)
    assert not t.is_alive() and got["identity"]["env"] == {"A": "2"}
    # no FIFO: polled
    fifo.unlink()
    assert launcher.wait(str(channel), str(fifo))["env"] == {"A": "2"}
    members.wake(fifo)  # no FIFO, no reader: nothing raised


def test_the_launcher_reads_entry_points_once_and_puts_the_real_function_back():
    import importlib.metadata as md

    from jhub_kit.pool import launcher

    real = md.entry_points
    want = sorted(ep.name for ep in real(group="console_scripts"))
    put_back = launcher.read_entry_points_once()
    try:
        assert md.entry_points is not real
        assert sorted(ep.name for ep in md.entry_points(group="console_scripts")) == want
        assert "pytest" in [ep.name for ep in md.entry_points(group="console_scripts")]
        assert md.entry_points(group="no-such-group-here") == real(group="no-such-group-here")
    finally:
        put_back()
    assert md.entry_points is real


def test_the_launcher_adds_the_students_user_site_that_appeared_with_the_home(
    tmp_path, monkeypatch
):
    """A member started before the home was mounted: Python left ~/.local out of
    sys.path; after the hand-over it is in, as for a cold start (only if it exists)."""
    import site
    import sys

    from jhub_kit.pool import launcher

    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(site, "ENABLE_USER_SITE", True)
    monkeypatch.setattr(site, "USER_BASE", site.USER_BASE)
    monkeypatch.setattr(site, "USER_SITE", site.USER_SITE)
    monkeypatch.setenv("PYTHONUSERBASE", str(tmp_path / ".local"))
    assert launcher.user_site_again() is False  # no ~/.local: nothing added
    user_site = site.getusersitepackages()
    os.makedirs(user_site)
    assert launcher.user_site_again() is True
    assert user_site in sys.path and user_site.startswith(str(tmp_path))
    assert launcher.user_site_again() is False  # once


def test_the_launcher_hands_a_tls_context_built_ahead_once_for_the_same_arguments(
    tmp_path, monkeypatch, capsys
):
    """The CA bundle's context is built while the member waits; the server's first
    identical call gets it (a fresh object nobody else holds); other arguments, a
    second call, or an SSLKEYLOGFILE the student's environment set get the real
    function's context, and the real function is back once it is taken."""
    import ssl

    import certifi

    from jhub_kit.pool import launcher

    real = ssl.create_default_context
    monkeypatch.delenv("SSLKEYLOGFILE", raising=False)
    ahead = launcher.tls_contexts_ahead()
    try:
        built = next(iter(ahead.ready.values()))
        assert ssl.create_default_context is not real
        assert built.verify_mode == ssl.CERT_REQUIRED and built.get_ca_certs()
        # other arguments: the real function, the one built ahead stays
        plain = ssl.create_default_context()
        assert plain is not built and ahead.ready
        with pytest.raises(TypeError, match="unexpected keyword"):  # as the real one says
            ssl.create_default_context(cafile=certifi.where(), bogus=1)
        assert ahead.ready
        # the same arguments but a key log file asked for since: not this one
        monkeypatch.setenv("SSLKEYLOGFILE", str(tmp_path / "keys"))
        assert ssl.create_default_context(cafile=certifi.where()) is not built
        monkeypatch.delenv("SSLKEYLOGFILE")
        assert ssl.create_default_context(cafile=certifi.where()) is built
        assert "a TLS context built ahead was taken" in capsys.readouterr().out
        assert ssl.create_default_context is real  # all taken: the real one is back
        assert ssl.create_default_context(cafile=certifi.where()) is not built
    finally:
        ahead.put_back()
    assert ssl.create_default_context is real
    # not taken in time: put back, nothing kept
    ahead = launcher.tls_contexts_ahead()
    ahead.put_back()
    assert ssl.create_default_context is real and not ahead.ready
    # someone else's function put in ssl's place meanwhile is left there
    ahead = launcher.tls_contexts_ahead()
    try:
        ssl.create_default_context = theirs = lambda **kw: real(**kw)
        ahead.put_back()
        assert ssl.create_default_context is theirs
        assert ahead.create_default_context(cafile=certifi.where()) is not built
    finally:
        ssl.create_default_context = real
