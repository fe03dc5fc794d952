"""The version lands with the code (jhub_kit/_version.py, in git) and never goes
backwards: above every release CHANGELOG.md lists, or the newest of them."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner
from packaging.version import Version

import jhub_kit
from jhub_kit.cli import main

ROOT = Path(__file__).resolve().parents[2]


def released() -> list[Version]:
    text = (ROOT / "CHANGELOG.md").read_text()
    return [Version(v) for v in re.findall(r"^## \[(\d[^\]]*)\] - ", text, re.M)]


def test_the_version_is_above_every_release_in_the_changelog():
    current = Version(jhub_kit.__version__)
    assert released(), "no release sections in CHANGELOG.md"
    newest = max(released())
    assert current > newest or (current == newest and not current.is_devrelease), (
        f"jhub_kit/_version.py says {current}; CHANGELOG.md has released {newest}"
    )
    assert not current.local  # a checkout and a wheel agree: no +g<hash>


def test_hatchling_reads_the_same_file():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'path = "jhub_kit/_version.py"' in pyproject
    assert "hatch-vcs" not in pyproject
    text = (ROOT / "jhub_kit" / "_version.py").read_text()
    assert f'__version__ = "{jhub_kit.__version__}"' in text


def test_jhub_kit_version_prints_it():
    r = CliRunner().invoke(main, ["--version"])
    assert r.exit_code == 0
    assert r.output.startswith(f"jhub-kit {jhub_kit.__version__} (jupyterhub ")
