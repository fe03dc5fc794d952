"""The documentation builds with no warnings (sphinx-build -W)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.tools


def test_docs_build_without_warnings(tmp_path):
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-q",
            "-b",
            "html",
            str(ROOT / "docs"),
            str(tmp_path / "html"),
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    page = (tmp_path / "html" / "reference" / "configuration.html").read_text()
    assert "QuotaDockerSpawner.quota_groups" in page  # generated from the traitlets
    assert "LoopfileProvisioner.default_size" in page
