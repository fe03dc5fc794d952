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


def test_the_launcher_adds_the_students_user_site_that_appeared_with_the_home(
    tmp_path, monkeypatch
):
    """A member started before the home was mounted over the same path: Python left
    ~/.local out of sys.path; after the hand-over it is in, where a cold start puts
    it (before the image's site-packages; only if it exists), with no change to what
    ``site`` worked out at start. A module of ~/.local that the member already
    imported from the image is named instead (the server must start afresh)."""
    import site
    import sys
    import sysconfig

    from jhub_kit.pool import launcher

    base = str(tmp_path / ".local")
    user_site = sysconfig.get_path("purelib", f"{os.name}_user", vars={"userbase": base})
    monkeypatch.setattr(sys, "path", list(sys.path))
    # what the member's interpreter worked out when it started, HOME being tmp_path
    monkeypatch.setattr(site, "ENABLE_USER_SITE", True)
    monkeypatch.setattr(site, "USER_BASE", base)
    monkeypatch.setattr(site, "USER_SITE", user_site)
    assert launcher.user_site_again() == []  # no ~/.local: nothing added
    os.makedirs(user_site)
    with open(os.path.join(user_site, "json.py"), "w") as f:  # json: imported already
        f.write("")
    assert launcher.user_site_again() == ["json"] and user_site not in sys.path
    os.remove(os.path.join(user_site, "json.py"))
    os.makedirs(os.path.join(user_site, "studentpkg"))
    assert launcher.user_site_again() == []
    image = [i for i, p in enumerate(sys.path) if p in site.getsitepackages()]
    assert user_site in sys.path
    assert not image or sys.path.index(user_site) < min(image)  # as a cold start has it
    assert (base, user_site) == (site.USER_BASE, site.USER_SITE)  # site left alone
    assert launcher.user_site_again() == []  # once


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param({"JUPYTERHUB_API_TOKEN": "t", "PATH": "/x"}, [], id="server-env"),
        pytest.param({"PYTHONPATH": "/srv/course"}, ["PYTHONPATH"], id="pythonpath"),
        pytest.param({"PYTHONPATH": "/image/lib"}, [], id="pythonpath-as-image"),
        pytest.param({"LANG": "de_DE.UTF-8"}, ["LANG"], id="locale"),
        pytest.param({"HOME": "/home/jovyan"}, [], id="same-home"),
        pytest.param({"HOME": "/home/jovyan/"}, [], id="same-home-slash"),
        pytest.param({"HOME": "/home/alice"}, ["HOME (the user base)"], id="other-home"),
        pytest.param(
            {"HOME": "/home/alice", "PYTHONUSERBASE": "/home/jovyan/.local"},
            ["PYTHONUSERBASE"],
            id="userbase",
        ),
    ],
)
def test_the_launcher_knows_what_only_a_fresh_interpreter_would_take(monkeypatch, env, expected):
    """The student's environment comes after the member's interpreter started: a
    variable read only at start that it changes, or another user base, makes a
    cold start in the member (the image's own variables are the member's too)."""
    import site

    from jhub_kit.pool import launcher

    for name in launcher.INTERPRETER_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", "/home/jovyan")
    monkeypatch.setenv("PYTHONPATH", "/image/lib")  # the image's ENV
    monkeypatch.setattr(site, "ENABLE_USER_SITE", True)
    monkeypatch.setattr(site, "USER_BASE", "/home/jovyan/.local")
    assert launcher.started_otherwise(env) == expected


#: attributes of an imported module the package may assign: (file, what)
ASSIGNED_ON_PURPOSE = {
    # the argument vector of the program the launcher starts in-process, as the
    # interpreter sets it for a script (jupyterhub.singleuser.app's main reads it)
    ("pool/launcher.py", "sys.argv"),
}


def assigned_to_imports(source: str) -> list[str]:
    """Every assignment (``=``, ``+=``, ``setattr``) in ``source`` to an attribute of
    an imported name (a module, or a class or function of another package)."""
    import ast

    tree = ast.parse(source)
    imported = {
        alias.asname or alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    targets: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            targets += [t for target in node.targets for t in getattr(target, "elts", [target])]
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets.append(node.target)
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "setattr" and node.args:
            targets.append(ast.Attribute(node.args[0], "<setattr>", ast.Store()))
    found = []
    for target in targets:
        base = target
        while isinstance(base, ast.Attribute):
            base = base.value
        if target is not base and isinstance(base, ast.Name) and base.id in imported:
            found.append(ast.unparse(target))
    return found


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import ssl\nssl.create_default_context = f", ["ssl.create_default_context"]),
        ("import importlib.metadata as md\nmd.entry_points = f", ["md.entry_points"]),
        (
            "import importlib.metadata\nimportlib.metadata.entry_points = f",
            ["importlib.metadata.entry_points"],
        ),
        ("from importlib import metadata\nmetadata.entry_points = f", ["metadata.entry_points"]),
        (
            "import site\nsite.USER_BASE = site.USER_SITE = None",
            ["site.USER_BASE", "site.USER_SITE"],
        ),
        ("import asyncio\nsetattr(asyncio, 'run', f)", ["asyncio.<setattr>"]),
        ("from x import Cls\nCls.limit += 1", ["Cls.limit"]),
        ("import os\nself.os = os\nobj = os.environ\nd = {}\nd.x = 1", []),
    ],
    ids=["ssl", "alias", "dotted", "from-module", "site-state", "setattr", "class", "own-objects"],
)
def test_assignments_to_imports_are_found(source, expected):
    assert assigned_to_imports(source) == expected


def test_the_package_changes_no_module_of_another_library():
    """Nowhere in jhub_kit is an attribute of an imported module (or of another
    package's class) assigned: no library's function is replaced at run time, not
    even for a while (the pool's launcher once replaced ssl.create_default_context
    and importlib.metadata.entry_points for two minutes after a hand-over)."""
    import pathlib

    import jhub_kit

    root = pathlib.Path(jhub_kit.__file__).parent
    found = {
        (path.relative_to(root).as_posix(), what)
        for path in sorted(root.rglob("*.py"))
        for what in assigned_to_imports(path.read_text())
    }
    assert found == ASSIGNED_ON_PURPOSE


class _Describing:
    """What :meth:`PoolPart.describe_or_cold` asks of its spawner: a description
    that reads the image (here: not on this host, or a description)."""

    log = __import__("logging").getLogger("test-pool")
    log_name = "ann"
    home_provisioner = None

    def __init__(self, described=None):
        self.described = described

    async def describe(self, *, home_target=None, identity=True):
        import docker.errors

        if self.described is None:
            raise docker.errors.ImageNotFound("No such image: course:new")
        return self.described


def test_an_image_not_here_yet_starts_cold_instead_of_failing(caplog):
    import asyncio

    from jhub_kit.spawners.pool import PoolPart

    with caplog.at_level("INFO", logger="test-pool"):
        assert asyncio.run(PoolPart(_Describing()).describe_or_cold()) is None
    assert "ann: starting cold, not from the warm pool: the image is not here" in caplog.text
    assert "No such image: course:new" in caplog.text
    assert asyncio.run(PoolPart(_Describing("described")).describe_or_cold()) == "described"
