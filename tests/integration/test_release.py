"""A release builds and checks offline (scripts/release.sh): sdist and wheel,
`twine check`, the wheel's contents, the wheel installed alone, its version."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.tools


def release(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(root / "scripts" / "release.sh"), *args],
        capture_output=True,
        text=True,
        env={"PYTHON": sys.executable, "PATH": "/usr/bin:/bin"},
        timeout=600,
    )


def test_release_builds_and_checks(tmp_path):
    r = release(ROOT, str(tmp_path / "dist"))
    assert r.returncode == 0, r.stdout + r.stderr
    version = r.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"\d+\.\d+(\.\d+)?(\.dev\d+)?(\+[\w.]+)?", version), version
    wheels = list((tmp_path / "dist").glob("jhub_kit-*.whl"))
    assert len(wheels) == 1 and version.split("+")[0] in wheels[0].name


def test_a_release_sets_the_version_file_and_the_wheel_carries_it(tmp_path):
    """``--release X.Y.Z`` in a copy of the tree: its CHANGELOG section is there."""
    import jhub_kit

    tree = tmp_path / "tree"
    shutil.copytree(
        ROOT,
        tree,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", ".nox", ".node", "dist", "__pycache__", "*_cache"
        ),
    )
    upcoming = re.sub(r"\.dev\d+$", "", jhub_kit.__version__)
    changelog = tree / "CHANGELOG.md"
    changelog.write_text(
        changelog.read_text().replace(
            "## [Unreleased]\n", f"## [Unreleased]\n\n## [{upcoming}] - 2027-01-01\n", 1
        )
    )
    r = release(tree, "--release", upcoming, str(tmp_path / "dist"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip().splitlines()[-1] == upcoming
    assert f'__version__ = "{upcoming}"' in (tree / "jhub_kit" / "_version.py").read_text()
    assert [w.name for w in (tmp_path / "dist").glob("*.whl")] == [
        f"jhub_kit-{upcoming}-py3-none-any.whl"
    ]
    # released: the same tree now refuses its old .dev0, and a version below it
    again = release(tree, "--release", "0.1.0", str(tmp_path / "dist2"))
    assert again.returncode != 0 and "would go back" in again.stderr


def test_a_release_missing_from_the_changelog_or_going_back_is_refused(tmp_path):
    before = (ROOT / "jhub_kit" / "_version.py").read_text()
    for version, why in [("0.4.0", "would go back"), ("99.0.0", "CHANGELOG.md has no section")]:
        r = release(ROOT, "--release", version, str(tmp_path / "dist"))
        assert r.returncode != 0 and why in r.stderr, r.stderr
    assert (ROOT / "jhub_kit" / "_version.py").read_text() == before
    assert not (tmp_path / "dist").exists()


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
    # and the release the checkout is heading for (jhub_kit/_version.py: 0.5.0.dev0)
    import jhub_kit

    released.add(".".join(jhub_kit.__version__.split(".")[:2]))
    cited = set()
    for path in (ROOT / "jhub_kit").rglob("*.py"):
        cited |= set(re.findall(r"versionadded:: (\d+\.\d+)", path.read_text()))
    assert cited and cited <= released, f"versionadded without a release: {cited - released}"
