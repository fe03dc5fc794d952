"""Every package jhub_kit/ imports is declared in pyproject.toml (a dependency, or an
extra's for the module that needs it), so a plain ``pip install jhub_kit`` imports."""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "jhub_kit"

#: modules that do not run in the hub's Python
NOT_THE_HUB_S = {
    # mounted into the single-user image and run by its Python (jupyter_server, ...)
    "pool/launcher.py": "the warm pool's launcher runs in the user's image",
    # mounted into a course member's server and read by nbgrader there
    "provision/nbgrader_image/jhub_kit_nbgrader.py": "nbgrader's exchange classes",
    "provision/nbgrader_image/nbgrader_config.py": "nbgrader's config in the server",
    # the deprecated shim of the tests' harness (tests/support/kit_testing.py)
    "testing.py": "imports the tests' own harness",
}
#: extras whose packages a module may import (the rest are tools: test, docs, dev)
RUNTIME_EXTRAS = ("native", "oauth", "postgres")
#: standard-library modules newer than the oldest Python supported, each imported
#: under a version check (tomllib is 3.11's; 3.10 takes the tomli backport)
NEWER_STDLIB = {"tomllib"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in RUNTIME_EXTRAS:
        reqs += project["optional-dependencies"][extra]
    return {_norm(Requirement(r).name) for r in reqs}


def imported() -> dict[str, set[str]]:
    """Top-level names imported by jhub_kit/, each with the files that import it."""
    out: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel in NOT_THE_HUB_S:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                out.setdefault(name.split(".")[0], set()).add(rel)
    return out


def test_every_imported_package_is_declared():
    dists = packages_distributions()
    have = declared()
    missing = {}
    for top, files in imported().items():
        if top in sys.stdlib_module_names | NEWER_STDLIB or top in ("jhub_kit", "__future__"):
            continue
        # the import name's distributions (PyYAML for yaml); an uninstalled one
        # (tomli on Python 3.11+) is looked for under its own name
        if not {_norm(d) for d in dists.get(top, [top])} & have:
            missing[top] = sorted(files)
    assert missing == {}, f"imported but not in pyproject.toml's dependencies: {missing}"


def test_the_check_sees_the_imports_it_is_about():
    """Not vacuous: the kit's known third-party imports are found, and declared."""
    found = imported()
    for top in ("prometheus_client", "requests", "tornado", "sqlalchemy", "docker", "yaml"):
        assert top in found, top
    assert {"prometheus-client", "requests", "tornado", "sqlalchemy"} <= declared()
