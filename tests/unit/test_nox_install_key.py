"""The version matrix reinstalls an environment only when what the install depends
on changes (noxfile.py's install_key): never for a change to the code alone."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def noxfile():
    pytest.importorskip("nox")
    spec = importlib.util.spec_from_file_location("kit_noxfile", ROOT / "noxfile.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def checkout(tmp_path):
    (tmp_path / "jhub_kit").mkdir()
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copy(ROOT / "jhub_kit" / "_version.py", tmp_path / "jhub_kit" / "_version.py")
    (tmp_path / "jhub_kit" / "spawner.py").write_text("x = 1\n")
    return tmp_path


def test_the_key_follows_the_requirements_the_version_and_the_week(noxfile, checkout):
    def key(*extra, week="2026-W49"):
        return noxfile.install_key(*extra, root=str(checkout), week=week)

    first = key()
    assert key() == first
    (checkout / "jhub_kit" / "spawner.py").write_text("x = 2\n")  # code: editable
    assert key() == first
    assert key("jupyterhub==5.4.3") != first
    assert key(week="2026-W50") != first
    with open(checkout / "pyproject.toml", "a") as f:
        f.write("\n# a new requirement\n")
    changed = key()
    assert changed != first
    (checkout / "jhub_kit" / "_version.py").write_text('__version__ = "9.0"\n')
    assert key() != changed
    other = checkout.parent / "elsewhere"
    shutil.copytree(checkout, other)
    assert noxfile.install_key(root=str(other), week="2026-W49") != key()
