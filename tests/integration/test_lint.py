"""The package passes ruff (lint and format) and mypy, as part of the suite."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.tools


def _tool(name: str) -> str:
    path = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if not path:
        pytest.fail(f"{name} is not installed; install the dev extra: pip install -e '.[dev]'")
    return path


@pytest.mark.parametrize(
    "args",
    [["check", "jhub_kit", "tests"], ["format", "--check", "jhub_kit", "tests"]],
    ids=["ruff-check", "ruff-format"],
)
def test_ruff(args):
    r = subprocess.run([_tool("ruff"), *args], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy():
    r = subprocess.run([_tool("mypy")], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def _timeout_catches(tree) -> list[int]:
    """Lines of ``except`` clauses that name TimeoutError or asyncio.TimeoutError."""
    import ast

    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.ExceptHandler) or node.type is None:
            continue
        names = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
        for n in names:
            text = ast.unparse(n)
            if text in ("TimeoutError", "asyncio.TimeoutError", "asyncio.exceptions.TimeoutError"):
                lines.append(node.lineno)
    return lines


def test_timeouts_are_caught_as_jupyterhubs_any_timeout_error():
    """Before Python 3.11 asyncio.TimeoutError and the builtin TimeoutError are two
    classes, and JupyterHub's helpers raise either: a catch of one of them missed the
    other (every start failed on 3.10). jupyterhub.utils.AnyTimeoutError covers both."""
    import ast

    found = {}
    for path in sorted((ROOT / "jhub_kit").rglob("*.py")):
        if path.name == "launcher.py":  # runs in the server image: the standard library only
            continue
        lines = _timeout_catches(ast.parse(path.read_text()))
        if lines:
            found[str(path.relative_to(ROOT))] = lines
    assert not found, f"catch jupyterhub.utils.AnyTimeoutError instead: {found}"


def test_the_timeout_rule_finds_what_it_forbids():
    import ast

    src = "try:\n    pass\nexcept (OSError, asyncio.TimeoutError):\n    pass\n"
    assert _timeout_catches(ast.parse(src)) == [3]
    assert _timeout_catches(ast.parse("try:\n    pass\nexcept AnyTimeoutError:\n    pass\n")) == []
