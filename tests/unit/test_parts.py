"""The spawners' shape (STYLE.md item 13): one start, its parts called in a visible
order; and the one way a start fails for a reason only an administrator can mend."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import pytest

from jhub_kit.compat import SpawnException, admin_message, admin_must_fix


def test_an_administrators_failure_is_logged_and_the_student_reads_plain_words(caplog):
    log = logging.getLogger("jhub_kit.test_parts")
    with caplog.at_level(logging.ERROR, logger=log.name), pytest.raises(SpawnException) as info:
        try:
            raise KeyError("the cause")
        except KeyError:
            admin_must_fix(log, "Ask your teacher.", "set c.X.y = 1", reason="why")
    e = info.value
    assert e.message == "Ask your teacher."
    assert admin_message(e) == "set c.X.y = 1"
    assert e.status_code == 500 and e.reason == "why"
    assert e.__suppress_context__  # the admin's words say it; no traceback of the cause
    assert [r.getMessage() for r in caplog.records] == ["set c.X.y = 1"]


# -- the spawners' shape -------------------------------------------------------------

PKG = Path(__file__).resolve().parents[2] / "jhub_kit"


def _spawners():
    from jhub_kit import QuotaDockerSpawner, QuotaSwarmSpawner

    return [QuotaDockerSpawner, QuotaSwarmSpawner]


def _kits_own(cls: type) -> bool:
    return cls.__module__.split(".")[0] == "jhub_kit"


@pytest.mark.parametrize("index", [0, 1], ids=["docker", "swarm"])
def test_a_spawner_has_at_most_three_bases_of_the_kits_own(index):
    spawner = _spawners()[index]
    own = [b.__name__ for b in spawner.__bases__ if _kits_own(b)]
    assert len(own) <= 3, f"{spawner.__name__} has {len(own)} bases of the kit's own: {own}"


def test_both_spawners_share_one_start():
    """One start (spawners/kit.py), whose small template methods the engines override:
    no other class of the kit's in either spawner's bases writes start, the cold
    start or the description again."""
    from jhub_kit.spawners.kit import KitSpawner

    for spawner in _spawners():
        assert issubclass(spawner, KitSpawner)
        for name in ("start", "start_cold", "describe", "run_pre_spawn_hook"):
            owners = [c.__qualname__ for c in spawner.__mro__ if _kits_own(c) and name in vars(c)]
            assert owners == ["KitSpawner"], f"{spawner.__name__}.{name} is written in {owners}"


def _type_checking_declarations(source: str) -> list[str]:
    """Attributes and methods a class body declares under ``if TYPE_CHECKING:`` (what
    a mixin writes to borrow another's), as ``Class.name``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ClassDef):
            continue
        for stmt in node.body:
            if not (isinstance(stmt, ast.If) and ast.unparse(stmt.test).endswith("TYPE_CHECKING")):
                continue
            for decl in ast.walk(stmt):
                if isinstance(decl, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    found.append(f"{node.name}.{decl.name}")
                elif isinstance(decl, ast.AnnAssign) and isinstance(decl.target, ast.Name):
                    found.append(f"{node.name}.{decl.target.id}")
    return found


def test_no_part_declares_anothers_attributes_or_methods():
    declared = {
        str(path.relative_to(PKG)): names
        for path in sorted(PKG.rglob("*.py"))
        if (names := _type_checking_declarations(path.read_text()))
    }
    assert not declared, f"declared under TYPE_CHECKING (call a public method instead): {declared}"


def test_the_declaration_check_sees_a_borrowed_method_and_attribute():
    source = (
        "from typing import TYPE_CHECKING\n"
        "class A:\n"
        "    if TYPE_CHECKING:\n"
        "        quota: int\n"
        "        async def _emit(self) -> None: ...\n"
        "if TYPE_CHECKING:\n"
        "    from x import Y\n"
    )
    assert _type_checking_declarations(source) == ["A.quota", "A._emit"]


def test_a_description_is_refined_not_made_again():
    from jhub_kit.spec import SpecInputs, make_spec

    first = make_spec(
        SpecInputs(
            image="img",
            command=["jupyterhub-singleuser"],
            args=["--port=8888"],
            env={"A": "1"},
            name="jupyter-ann",
            port=8888,
            network_name="net",
            use_internal_ip=True,
            host_ip="127.0.0.1",
            remove=True,
            home={"Target": "/home/jovyan", "Source": "", "Type": "bind", "ReadOnly": False},
        )
    )
    home = {"Target": "/home/jovyan", "Source": "/srv/ann", "Type": "bind", "ReadOnly": False}
    refined = first.refined(home=home, env={"A": "2"})
    assert refined.host_config["mounts"][-1] == home
    assert refined.env["A"] == "2" and first.env["A"] == "1"
    assert refined.create["image"] == "img" and refined.args == first.args


# -- the home and the start queue: parts, their options the spawner's ------------------


def _behaviour(cls: type) -> list[str]:
    """What a class body defines besides traits and their handlers (``@default``,
    ``@observe``, ``@validate``, traitlets' ``_name_default``): methods, properties."""
    from traitlets import EventHandler, TraitType

    found = []
    for name, value in vars(cls).items():
        if name.startswith("__") or isinstance(value, (TraitType, EventHandler)):
            continue
        if name.startswith("_") and name.endswith("_default"):
            continue
        if callable(value) or isinstance(value, (property, classmethod, staticmethod)):
            found.append(name)
    return found


@pytest.mark.parametrize(
    "module, part",
    [("homes", "HomePart"), ("start_queue", "StartQueue")],
    ids=["home", "start-queue"],
)
def test_the_home_and_the_start_queue_are_parts_with_their_options_on_the_spawner(module, part):
    """The spawner's bases from the part's module hold its options and nothing else
    (``c.QuotaDockerSpawner.home_provisioner`` is configured as before); the work is
    a plain object, given values and callbacks, not the spawner."""
    import importlib
    import inspect

    from traitlets import HasTraits

    from jhub_kit.spawners.kit import KitSpawner

    mod = importlib.import_module(f"jhub_kit.spawners.{module}")
    bases = [c for c in KitSpawner.__mro__ if c.__module__ == mod.__name__]
    assert bases, f"no base of KitSpawner holds the options of {module}"
    for base in bases:
        assert not _behaviour(base), (
            f"{base.__name__} ({module}) does more than hold options: {_behaviour(base)}"
        )
    cls = getattr(mod, part, None)
    assert cls is not None, f"{module} has no part {part}"
    assert not issubclass(cls, HasTraits) and not issubclass(KitSpawner, cls)
    given = inspect.signature(cls.__init__).parameters
    assert "spawner" not in given, f"{part} is given the whole spawner: {list(given)}"


def test_the_behaviour_check_sees_a_method_and_not_a_trait():
    from traitlets import Int, default
    from traitlets.config import Configurable

    class Options(Configurable):
        size = Int(1).tag(config=True)

        @default("size")
        def _size_default(self):
            return 2

    class Mixin(Options):
        def provision(self):
            return None

        @property
        def key(self):
            return ""

    assert _behaviour(Options) == []
    assert _behaviour(Mixin) == ["provision", "key"]


def test_the_start_calls_the_queue_and_the_home_in_order():
    """Read top to bottom: the start queue admits the cold start, whose first step
    is the home."""
    import inspect

    from jhub_kit.spawners.kit import KitSpawner

    start = inspect.getsource(KitSpawner.start)
    assert "self.start_queue().admit(self.start_cold)" in start
    cold = inspect.getsource(KitSpawner.start_cold)
    assert cold.index("provision_home") < cold.index("prepare_engine") < cold.index("start()")


def test_the_pool_part_needs_of_its_spawner_only_what_its_protocol_names():
    """``PoolSpawner`` (a Protocol) lists what the pool part calls; mypy holds the
    part to it, and here the spawner is checked to have each of them (DockerSpawner
    has no type hints, so mypy cannot check that side)."""
    import re

    from jhub_kit import QuotaDockerSpawner
    from jhub_kit.spawners import pool
    from jhub_kit.spawners.pool import PoolPart, PoolSpawner

    members = set(PoolSpawner.__annotations__) | {
        n
        for n, v in vars(PoolSpawner).items()
        if not n.startswith("_") and (callable(v) or isinstance(v, property))
    }
    assert {"describe", "provision_home", "pool_size", "log_name"} <= members
    missing = sorted(n for n in members if not hasattr(QuotaDockerSpawner, n))
    assert not missing, f"QuotaDockerSpawner lacks what the pool part needs: {missing}"
    source = Path(pool.__file__).read_text()
    private = re.findall(r"\b(?:sp|spawner|stand_in)\.(_\w+)", source)
    assert not private, f"the pool part reaches into its spawner's private names: {private}"
    hint = PoolPart.__init__.__annotations__["spawner"]
    assert hint in ("PoolSpawner", PoolSpawner), hint
