"""A release builds and checks offline (scripts/release.sh): sdist and wheel,
`twine check`, the wheel's contents, the wheel installed alone, its version."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.tools


def test_release_builds_and_checks(tmp_path):
    r = subprocess.run(
        ["bash", str(ROOT / "scripts" / "release.sh"), str(tmp_path / "dist")],
        capture_output=True,
        text=True,
        env={"PYTHON": sys.executable, "PATH": "/usr/bin:/bin"},
        timeout=600,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    version = r.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"\d+\.\d+(\.\d+)?(\.dev\d+)?(\+[\w.]+)?", version), version
    wheels = list((tmp_path / "dist").glob("jhub_kit-*.whl"))
    assert len(wheels) == 1 and version.split("+")[0] in wheels[0].name


def test_cli_version_names_what_it_runs_with():
    from click.testing import CliRunner

    import jhub_kit
    from jhub_kit.cli import main

    r = CliRunner().invoke(main, ["--version"])
    assert r.exit_code == 0
    assert r.output.startswith(f"jhub-kit {jhub_kit.__version__} (jupyterhub ")
    assert "dockerspawner 14." in r.output


def test_changelog_has_the_version_of_every_versionadded_mark():
    """Keep a Changelog's sections name every version the configuration reference cites."""
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert changelog.startswith("# Changelog") and "## [Unreleased]" in changelog
    released = set(re.findall(r"^## \[(\d+\.\d+)\.\d+\]", changelog, re.M))
    cited = set()
    for path in (ROOT / "jhub_kit").rglob("*.py"):
        cited |= set(re.findall(r"versionadded:: (\d+\.\d+)", path.read_text()))
    assert cited and cited <= released, f"versionadded without a release: {cited - released}"
