"""Every DockerSpawner internal the kit relies on, in one place.

DockerSpawner 14 has no hook to replace a container's limits, so the kit
evaluates ``extra_host_config`` the way DockerSpawner does (with its private
helpers) and hands DockerSpawner the quota's limits by setting three traits
around its ``create_object``. If a new DockerSpawner renames any of these,
``tests/test_adapter.py`` fails before a user meets it; pyproject.toml pins
the supported range.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator
from typing import Any

from dockerspawner import DockerSpawner, SwarmSpawner

#: Private DockerSpawner names the kit calls (checked by the tests).
PRIVATE_NAMES = (
    "_eval_if_callable",
    "_render_templates",
    "_default_use_ip",
    "_executor",
    "_object_name_default",
)

#: Traits DockerSpawner.create_object reads, which the kit sets around it.
SWAPPED_TRAITS = ("mem_limit", "cpu_limit", "extra_host_config")

#: Traits SwarmSpawner.create_object reads, which the kit sets around it.
SWARM_SWAPPED_TRAITS = (
    "mem_limit",
    "mem_guarantee",
    "cpu_limit",
    "cpu_guarantee",
    "extra_task_spec",
    "extra_placement_spec",
)


class DockerSpawnerAdapter(DockerSpawner):
    """DockerSpawner with the kit's few uses of its internals made explicit."""

    async def evaluated_extra_host_config(self) -> dict[str, Any]:
        """``extra_host_config`` as DockerSpawner evaluates it (callable, awaitable, templates)."""
        ehc = self._eval_if_callable(getattr(self, "extra_host_config"))  # noqa: B009
        if inspect.isawaitable(ehc):
            ehc = await ehc
        rendered: dict[str, Any] = self._render_templates(ehc or {})
        return rendered

    def docker_default_use_ip(self) -> bool:
        return bool(super()._default_use_ip())

    def default_object_name(self) -> str:
        """The container name DockerSpawner gives this user's server (``name_template``)."""
        name: str = self._object_name_default()
        return name

    async def create_with_host_config(self, host_config: dict[str, Any]) -> Any:
        """DockerSpawner's ``create_object`` with ``host_config`` merged last and
        DockerSpawner's own mem/cpu limits off (the kit's come in ``host_config``)."""
        values = {"mem_limit": None, "cpu_limit": None, "extra_host_config": host_config}
        with _traits_set(self, values, SWAPPED_TRAITS):
            return await DockerSpawner.create_object(self)


class SwarmSpawnerAdapter(SwarmSpawner):
    """SwarmSpawner with the kit's few uses of its internals made explicit."""

    def docker_default_use_ip(self) -> bool:
        return bool(super()._default_use_ip())

    async def create_service(
        self, task_spec: dict[str, Any], placement_spec: dict[str, Any]
    ) -> Any:
        """SwarmSpawner's ``create_object`` with ``task_spec`` (TaskTemplate keywords,
        e.g. the quota's ``resources``) and ``placement_spec`` (Placement keywords)
        used as given, and SwarmSpawner's own limits off (the kit's come in
        ``task_spec``)."""
        values = {
            **dict.fromkeys(("mem_limit", "mem_guarantee", "cpu_limit", "cpu_guarantee")),
            "extra_task_spec": task_spec,
            "extra_placement_spec": placement_spec,
        }
        with _traits_set(self, values, SWARM_SWAPPED_TRAITS):
            return await SwarmSpawner.create_object(self)


@contextlib.contextmanager
def _traits_set(obj: Any, values: dict[str, Any], names: tuple[str, ...]) -> Iterator[None]:
    """``values`` set on ``obj`` for the block (every one of ``names`` restored after)."""
    assert set(values) == set(names), (values, names)
    saved = {name: getattr(obj, name) for name in names}
    try:
        for name, value in values.items():
            setattr(obj, name, value)
        yield
    finally:
        for name, value in saved.items():
            setattr(obj, name, value)
