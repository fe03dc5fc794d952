"""Module-level state lives in one registry with one keying scheme
(:mod:`jhub_kit.registry`): no other module of the package keeps an empty dict,
set or list at its top level to fill later (issue 36: ``_WARNED``, ``_ISOLATED``,
``_NODES``... each had its own lifetime and no way to be forgotten per hub)."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "jhub_kit"
EMPTY_CALLS = {"set", "dict", "list", "defaultdict", "OrderedDict", "WeakValueDictionary"}


def _empty_container(node: ast.expr | None) -> bool:
    if isinstance(node, (ast.Dict, ast.Set, ast.List)):
        return not (getattr(node, "keys", None) or getattr(node, "elts", None))
    if isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        return name in EMPTY_CALLS and not node.args and not node.keywords
    return False


def module_state(source: str) -> list[str]:
    """The names a module's top level binds to an empty container."""
    found = []
    for stmt in ast.parse(source).body:
        if isinstance(stmt, ast.Assign) and _empty_container(stmt.value):
            found += [t.id for t in stmt.targets if isinstance(t, ast.Name)]
        elif (
            isinstance(stmt, ast.AnnAssign)
            and isinstance(stmt.target, ast.Name)
            and _empty_container(stmt.value)
        ):
            found.append(stmt.target.id)
    return found


def test_the_reader_sees_state_in_every_form():
    src = "A = {}\nB: set[str] = set()\nC = []\nD = dict()\n"
    src += "E = {'k': 1}\nF = (1,)\ndef f():\n    x = {}\n"
    assert module_state(src) == ["A", "B", "C", "D"]


def test_no_module_but_the_registry_keeps_state_of_its_own():
    offenders = {
        str(path.relative_to(PKG.parent)): names
        for path in sorted(PKG.rglob("*.py"))
        if path.name != "registry.py" and (names := module_state(path.read_text()))
    }
    assert not offenders, f"keep these in jhub_kit.registry (registry.shared): {offenders}"
