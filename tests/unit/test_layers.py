"""The package's layers import downward only (docs/architecture.md).

Every import of a ``jhub_kit`` module by another, at the top of a module or
inside a function, is read from the source with :mod:`ast` and checked against
the layer table below: a module may import its own layer or any layer below it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "jhub_kit"

#: top to bottom; a module belongs to the first entry whose prefix it has
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "entry points people touch",
        (
            "jhub_kit",  # the package's lazy names (QuotaDockerSpawner, configure)
            "jhub_kit.cli",
            "jhub_kit.config",
            "jhub_kit.config_check",
            "jhub_kit.hub_start",
            # shims at 0.3's module paths (each warns and forwards; jhub_kit.deprecation)
            *(
                f"jhub_kit.{old}"
                for old in [
                    "spawner",
                    "swarm_spawner",
                    "quota_config",
                    "docker_limits",
                    "hardening",
                    "firewall",
                    "dockerspawner_adapter",
                    "admission",
                    "oom",
                    "student_view",
                    "dashboard",
                    "report",
                    "policy_file",
                    "userlist",
                    "native",
                    "oauth",
                    "csvimport",
                    "pool_launcher",
                    "testing",
                ]
            ),
        ),
    ),
    ("what students and teachers see", ("jhub_kit.views",)),
    (
        "the spawners, the authenticators",
        # resolve: the configured spawner class and its quotas, for the CLI and views
        ("jhub_kit.spawners", "jhub_kit.auth", "jhub_kit.resolve"),
    ),
    ("engines below the spawners", ("jhub_kit.pool", "jhub_kit.network", "jhub_kit.provision")),
    (
        "pure descriptions and policy",
        ("jhub_kit.spec", "jhub_kit.quota", "jhub_kit.names", "jhub_kit.auth.userlist"),
    ),
    (
        "small shared services",
        (
            "jhub_kit.hubapi",
            "jhub_kit.offloop",
            "jhub_kit.compat",
            "jhub_kit.hubdb",
            "jhub_kit.metrics",
            "jhub_kit.registry",
            "jhub_kit.files",
            "jhub_kit.standin",
            "jhub_kit.deprecation",
            "jhub_kit.loop",
            "jhub_kit._version",
        ),
    ),
]

#: imports that still run upward, each with why; the test fails when one is gone
#: (remove it here) as when a new one appears
STILL_UPWARD: dict[tuple[str, str], str] = {}


def _layer(module: str) -> int:
    best, best_len = None, -1
    for index, (_name, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    assert best is not None, f"{module} is in no layer: add it to LAYERS and docs/architecture.md"
    return best


def _module_of(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _exists(module: str) -> bool:
    rel = Path(*module.split("."))
    return (PKG.parent / rel).with_suffix(".py").is_file() or (
        PKG.parent / rel / "__init__.py"
    ).is_file()


def _imports(path: Path, source: str | None = None) -> set[str]:
    """The kit's modules ``path`` (whose text is ``source``, else read) imports;
    ``from . import x`` names module x."""
    module = _module_of(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text() if source is None else source)):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("jhub_kit"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module and node.module.split(".")[0] == "jhub_kit":
                target = node.module
            else:
                continue
            subs = {f"{target}.{a.name}" for a in node.names if _exists(f"{target}.{a.name}")}
            found.update(subs or {target})
    return found


def _upward() -> dict[tuple[str, str], tuple[str, str]]:
    out = {}
    for path in sorted(PKG.rglob("*.py")):
        importer = _module_of(path)
        for imported in _imports(path):
            if _layer(imported) < _layer(importer):
                out[(importer, imported)] = (
                    LAYERS[_layer(importer)][0],
                    LAYERS[_layer(imported)][0],
                )
    return out


def test_every_module_is_in_a_layer():
    for path in PKG.rglob("*.py"):
        _layer(_module_of(path))


def test_layers_import_downward_only():
    upward = _upward()
    new = {pair: layers for pair, layers in upward.items() if pair not in STILL_UPWARD}
    assert not new, "imports that run up a layer:\n" + "\n".join(
        f"  {a} ({la}) imports {b} ({lb})" for (a, b), (la, lb) in sorted(new.items())
    )
    gone = set(STILL_UPWARD) - set(upward)
    assert not gone, f"no longer imported upward, remove from STILL_UPWARD: {sorted(gone)}"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from .. import offloop\n", {"jhub_kit.offloop"}),
        ("from ..quota.policy import Quota\n", {"jhub_kit.quota.policy"}),
        ("from . import members\n", {"jhub_kit.pool.members"}),
        ("def f():\n    from ...views import student\n", {"jhub_kit.views.student"}),
        ("import jhub_kit.spec\n", {"jhub_kit.spec"}),
        ("import os\nfrom docker.types import Mount\n", set()),
    ],
    ids=["parent-module", "dotted", "sibling", "in-a-function", "absolute", "not-the-kit"],
)
def test_the_reader_sees_each_kind_of_import(source, expected):
    """The checker itself: each way of writing an import is read (as if in jhub_kit/pool/x.py,
    or jhub_kit/pool/sub/x.py for the three-dot case)."""
    where = PKG / "pool" / ("sub" if "..." in source else "") / "x.py"
    assert _imports(where, source) == expected
