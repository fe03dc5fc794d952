"""The version matrix: what pyproject.toml claims, each run for real.

- ``pure``: the tests that need no service, on every supported Python;
- ``spawn``: one real spawn, cold and from the warm pool, on the oldest and the
  newest Python;
- ``jupyterhub5``: the newest JupyterHub 5 (what Zero to JupyterHub 4.x and many
  hub images run): the pure tests, and on a real hub the spawner's lifecycle, the
  userlist authenticators, the student view and the dashboard;
- ``lowest``: the lowest version of every dependency pyproject.toml allows, with
  the pure tests and a real spawn;

The test command runs them all (``tests/system/test_matrix.py``); alone:
``nox -s pure spawn`` (the interpreters must be on PATH: ``scripts/lib.sh``
adds pyenv's). Virtualenvs are kept in ``$JHUB_KIT_CACHE/nox``.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import os

import nox

ROOT = os.path.dirname(os.path.abspath(__file__))
PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
OLDEST_NEWEST = [PYTHONS[0], PYTHONS[-1]]

nox.options.reuse_existing_virtualenvs = True
nox.options.envdir = os.path.join(os.environ.get("JHUB_KIT_CACHE", "/var/cache/jhub-kit"), "nox")
nox.options.error_on_missing_interpreters = True

#: the tests that need no service: the unit tier (the repository's checks, lint,
#: docs and the release build, are the main suite's, not per Python)
UNIT = ["tests/unit"]


#: what an environment's install depends on: the requirements, the version, the
#: entry points (pyproject.toml) and the version file; the code itself is installed
#: editable, so a change to it needs no new install
INSTALL_INPUTS = ("pyproject.toml", "jhub_kit/_version.py")
STAMP = "jhub-kit-install.sha256"


def install_key(*extra: str, root: str = ROOT, week: str = "") -> str:
    """The key of one environment's install: its inputs' bytes, the extra
    requirements, the checkout it points at and the week (so the newest releases of
    the dependencies arrive within a week, as a fresh install would bring them)."""
    digest = hashlib.sha256()
    for name in INSTALL_INPUTS:
        with open(os.path.join(root, name), "rb") as f:
            digest.update(f.read())
    year, number, _ = datetime.date.today().isocalendar()
    for part in (*extra, root, week or f"{year}-W{number:02d}"):
        digest.update(b"\0" + part.encode())
    return digest.hexdigest()


def _install(session: nox.Session, *extra: str) -> None:
    """``pip install -e .[test] EXTRA``, unless this environment already holds that
    install (its stamp has the same :func:`install_key`): pip's resolving and
    the editable build cost every session seconds of CPU, beside the suite."""
    stamp = os.path.join(session.virtualenv.location, STAMP)
    key = install_key(*extra)
    with contextlib.suppress(OSError), open(stamp) as f:
        if f.read() == key:
            session.log("already installed: %s unchanged this week", ", ".join(INSTALL_INPUTS))
            return
    with contextlib.suppress(FileNotFoundError):
        os.unlink(stamp)  # an install that fails halfway is done again next time
    session.install("-e", ".[test]", *extra)
    with open(stamp, "w") as f:
        f.write(key)


@nox.session(python=PYTHONS)
def pure(session: nox.Session) -> None:
    """The tests that need no Docker, hub or root."""
    _install(session)
    session.run(
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        *UNIT,
        *session.posargs,
    )


@nox.session(python=OLDEST_NEWEST)
def spawn(session: nox.Session) -> None:
    """A real hub's cold and pooled spawn (the engine, the proxy and root needed)."""
    _install(session)
    session.run("pytest", "-q", "-p", "no:cacheprovider", "tests/integration/test_spawn_smoke.py")


#: the newest JupyterHub 5 release (pyproject.toml: jupyterhub>=5.4,<7)
JUPYTERHUB_5 = "jupyterhub==5.4.3"

#: on a real hub, what a JupyterHub version must keep working
HUB_TESTS = [
    "tests/integration/test_spawn_smoke.py",
    "tests/integration/test_spawner_lifecycle.py",
    "tests/integration/test_userlist_hub.py",
    "tests/integration/test_native_hub.py",
    "tests/integration/test_class_views_hub.py",
]

#: the lowest version of each direct dependency that pyproject.toml allows
LOWEST = [
    "jupyterhub==5.4.0",
    "dockerspawner==14.0.0",
    "docker==7.1.0",
    "traitlets==5.9.0",
    "pyyaml==6.0.1",
    "click==8.1.0",
    "jupyterhub-nativeauthenticator==1.3.0",
    "oauthenticator==17.0.0",
]


@nox.session(python="3.12")
def jupyterhub5(session: nox.Session) -> None:
    """JupyterHub 5: the pure tests, then the real-hub ones."""
    _install(session, JUPYTERHUB_5)
    session.run("python", "-c", "import jupyterhub; assert jupyterhub.version_info[0] == 5")
    session.run(
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        *UNIT,
    )
    session.run("pytest", "-q", "-p", "no:cacheprovider", *HUB_TESTS)


@nox.session(python=PYTHONS[0])
def lowest(session: nox.Session) -> None:
    """The lowest versions the kit claims: the pure tests and a real spawn."""
    _install(session, *LOWEST)
    session.run(
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        *UNIT,
    )
    session.run("pytest", "-q", "-p", "no:cacheprovider", "tests/integration/test_spawn_smoke.py")
