"""The version matrix: what pyproject.toml claims, each run for real.

- ``pure``: the tests that need no service, on every supported Python;
- ``spawn``: one real spawn, cold and from the warm pool, on the oldest and the
  newest Python;

The test command runs them all (``tests/test_matrix.py``); alone:
``nox -s pure spawn`` (the interpreters must be on PATH: ``scripts/lib.sh``
adds pyenv's). Virtualenvs are kept in ``$JHUB_KIT_CACHE/nox``.
"""

from __future__ import annotations

import os

import nox

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
OLDEST_NEWEST = [PYTHONS[0], PYTHONS[-1]]

nox.options.reuse_existing_virtualenvs = True
nox.options.envdir = os.path.join(os.environ.get("JHUB_KIT_CACHE", "/var/cache/jhub-kit"), "nox")
nox.options.error_on_missing_interpreters = True

#: what the pure run leaves to the main suite (tools, not Python versions)
NOT_PER_PYTHON = ["--deselect", "tests/test_lint.py", "--deselect", "tests/test_docs.py"]


def _install(session: nox.Session, *extra: str) -> None:
    session.install("-e", ".[test]", *extra)


@nox.session(python=PYTHONS)
def pure(session: nox.Session) -> None:
    """The tests that need no Docker, hub or root."""
    _install(session)
    session.run(
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-m",
        "not docker and not hub and not root",
        *NOT_PER_PYTHON,
        *session.posargs,
    )


@nox.session(python=OLDEST_NEWEST)
def spawn(session: nox.Session) -> None:
    """A real hub's cold and pooled spawn (the engine, the proxy and root needed)."""
    _install(session)
    session.run("pytest", "-q", "-p", "no:cacheprovider", "tests/test_spawn_smoke.py")
