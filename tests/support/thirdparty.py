"""A third-party home provisioner, installed for a test: a distribution on disk
(a module and its ``.dist-info`` with ``entry_points.txt``) that registers a
provisioner in the ``jhub_kit.home_provisioners`` entry-point group, found by
``importlib.metadata`` once its directory is on ``sys.path``.

The provisioner is a directory home that marks itself: :data:`MARK` in the home
holds the key it was made for, so a test can tell which provisioner made a home.
"""

from __future__ import annotations

import importlib
import itertools
from pathlib import Path

#: the file a marking provisioner writes in each home it makes
MARK = ".made-by-marking-provisioner"

_MODULE = '''
"""A directory home with a mark in it (a test's third-party provisioner)."""

import os

from jhub_kit.provision.directory import DirectoryProvisioner


class {cls}(DirectoryProvisioner):
    async def _provision(self, username, record, quota, undo):
        mount = await super()._provision(username, record, quota, undo)
        mark = os.path.join(mount.source, {mark!r})
        with open(mark, "w") as f:
            f.write(username)
        os.chown(mark, self.uid, self.gid)
        return mount
'''

_COUNTER = itertools.count()


def install_distribution(
    where: Path,
    *,
    short_name: str = "marking",
    dist: str | None = None,
    cls: str = "MarkingProvisioner",
    entry_points: dict[str, str] | None = None,
) -> str:
    """Write a distribution under ``where`` (a directory the caller puts on
    ``sys.path``) whose module defines ``cls`` and whose entry points register it
    as ``short_name`` (plus any ``entry_points``: name -> ``module:Class``).
    Returns the module's name, unique per call (no test sees another's module)."""
    n = next(_COUNTER)
    module = f"kit_thirdparty_homes_{n}"
    dist = dist or f"kit-thirdparty-homes-{n}"
    where.mkdir(parents=True, exist_ok=True)
    (where / f"{module}.py").write_text(_MODULE.format(cls=cls, mark=MARK))
    info = where / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    registered = {short_name: f"{module}:{cls}", **(entry_points or {})}
    lines = [f"{name} = {target}" for name, target in registered.items()]
    (info / "entry_points.txt").write_text(
        "[jhub_kit.home_provisioners]\n" + "\n".join(lines) + "\n"
    )
    importlib.invalidate_caches()
    return module
