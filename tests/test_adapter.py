"""The DockerSpawner internals the kit relies on are still there (pure: no engine)."""

from __future__ import annotations

import inspect

import dockerspawner
from dockerspawner import DockerSpawner

from jhub_kit import QuotaDockerSpawner
from jhub_kit.dockerspawner_adapter import PRIVATE_NAMES, SWAPPED_TRAITS


def test_private_names_exist():
    missing = [n for n in PRIVATE_NAMES if not hasattr(DockerSpawner, n)]
    assert not missing, (
        f"dockerspawner {dockerspawner.__version__} lacks {missing}: "
        "update jhub_kit/dockerspawner_adapter.py and the pin in pyproject.toml"
    )


def test_create_object_still_reads_the_swapped_traits():
    src = inspect.getsource(DockerSpawner.create_object)
    for name in SWAPPED_TRAITS:
        assert f"self.{name}" in src, f"DockerSpawner.create_object no longer reads {name}"
    assert "_deep_merge(host_config, extra_host_config)" in src  # the kit's limits merge last


def test_the_kit_uses_no_other_private_dockerspawner_name():
    """Every private DockerSpawner attribute the spawner module touches is in the list."""
    import jhub_kit.spawner as mod

    src = inspect.getsource(mod)
    used = {
        n
        for n in dir(DockerSpawner)
        if n.startswith("_") and not n.startswith("__") and f".{n}" in src
    }
    ours = {n for n in vars(QuotaDockerSpawner) if n.startswith("_")}
    assert used - ours - set(PRIVATE_NAMES) <= {"_log_name", "_progress_events"}, used


def test_supported_range_is_pinned():
    from pathlib import Path

    import tomllib

    deps = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"][
        "dependencies"
    ]
    pin = next(d for d in deps if d.startswith("dockerspawner"))
    assert "<15" in pin and ">=14" in pin, pin
    major = int(dockerspawner.__version__.split(".")[0])
    assert major == 14
