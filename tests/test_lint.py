"""The package passes ruff (lint and format) and mypy, as part of the suite."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


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
