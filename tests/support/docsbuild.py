"""Builds the documentation as the docs tests read it: sphinx-build -W (a warning
is an error), HTML, from the checkout's docs/ (tests/integration/test_docs.py,
tests/system/test_docs_browser.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def build_docs(out: Path) -> subprocess.CompletedProcess:
    """Build docs/ into ``out``; the caller asserts on the return code."""
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html"]
    return subprocess.run(
        [*cmd, str(ROOT / "docs"), str(out)], capture_output=True, text=True, cwd=ROOT
    )


def pages(html: Path) -> list[Path]:
    """The built pages (not the theme's or the sources' files)."""
    return sorted(p for p in html.rglob("*.html") if not {"_static", "_sources"} & set(p.parts))
