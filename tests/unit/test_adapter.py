"""The DockerSpawner internals the kit relies on are still there (pure: no engine)."""

from __future__ import annotations

import inspect

import dockerspawner
from dockerspawner import DockerSpawner

from jhub_kit import QuotaDockerSpawner
from jhub_kit.spawners.adapter import PRIVATE_NAMES


def test_private_names_exist():
    missing = [n for n in PRIVATE_NAMES if not hasattr(DockerSpawner, n)]
    assert not missing, (
        f"dockerspawner {dockerspawner.__version__} lacks {missing}: "
        "update jhub_kit/spawners/adapter.py and the pin in pyproject.toml"
    )


def test_create_object_is_the_one_spec_mirrors():
    """jhub_kit.spec.make_spec mirrors this code (tests/unit/test_spec.py compares the
    results); a DockerSpawner that builds its container another way fails here first."""
    src = inspect.getsource(DockerSpawner.create_object)
    for line in (
        "_deep_merge(create_kwargs, extra_create_kwargs)",
        "_deep_merge(host_config, extra_host_config)",
        'host_config.setdefault("network_mode", self.network_name)',
        "binds=self.volume_binds",
        "mounts=self.mount_binds",
        'create_kwargs["ports"] = {"%i/tcp" % self.port: None}',
    ):
        assert line in src, f"DockerSpawner.create_object changed: {line}"


def test_the_kit_uses_no_other_private_dockerspawner_name():
    """Every private DockerSpawner attribute the spawner module touches is in the list."""
    import jhub_kit.spawners.docker as mod

    used = _private_names_used(mod, DockerSpawner, QuotaDockerSpawner)
    assert used - set(PRIVATE_NAMES) <= {"_log_name", "_progress_events"}, used


def _private_names_used(module, base: type, ours: type) -> set[str]:
    """Private attributes of ``base`` that ``module`` touches and ``ours`` does not define."""
    src = inspect.getsource(module)
    used = {n for n in dir(base) if n.startswith("_") and not n.startswith("__") and f".{n}" in src}
    return used - {n for n in vars(ours) if n.startswith("_")}


def test_supported_range_is_pinned():
    from pathlib import Path

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    deps = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"][
        "dependencies"
    ]
    pin = next(d for d in deps if d.startswith("dockerspawner"))
    assert "<15" in pin and ">=14" in pin, pin
    major = int(dockerspawner.__version__.split(".")[0])
    assert major == 14


def test_swarm_create_object_is_the_one_spec_mirrors():
    from dockerspawner import SwarmSpawner

    src = inspect.getsource(SwarmSpawner.create_object)
    for line in (
        "container_kwargs.update(self.extra_container_spec)",
        "task_kwargs.update(self.extra_task_spec)",
        "placement_kwargs.update(self.extra_placement_spec)",
        "endpoint_kwargs.update(self.extra_endpoint_spec)",
        "create_kwargs.update(self.extra_create_kwargs)",
        "mounts=self.mounts,",
    ):
        assert line in src, f"SwarmSpawner.create_object changed: {line}"


def test_the_swarm_spawner_uses_no_private_dockerspawner_name():
    from dockerspawner import SwarmSpawner

    import jhub_kit.spawners.swarm as mod
    from jhub_kit import QuotaSwarmSpawner

    # _log_name: the kit's own (KitSpawner.log_name), which DockerSpawner also has
    assert _private_names_used(mod, SwarmSpawner, QuotaSwarmSpawner) <= {"_log_name"}
