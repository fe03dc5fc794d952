"""Every DockerSpawner internal the kit relies on, in one place.

DockerSpawner 14 has no hook to replace a container's limits, so the kit
evaluates ``extra_host_config`` the way DockerSpawner does (with its private
helpers) and hands DockerSpawner the quota's limits by setting three traits
around its ``create_object``. If a new DockerSpawner renames any of these,
``tests/test_adapter.py`` fails before a user meets it; pyproject.toml pins
the supported range.
"""

from __future__ import annotations

import inspect
from typing import Any

from dockerspawner import DockerSpawner

#: Private DockerSpawner names the kit calls (checked by the tests).
PRIVATE_NAMES = ("_eval_if_callable", "_render_templates", "_default_use_ip", "_executor")

#: Traits DockerSpawner.create_object reads, which the kit sets around it.
SWAPPED_TRAITS = ("mem_limit", "cpu_limit", "extra_host_config")


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

    async def create_with_host_config(self, host_config: dict[str, Any]) -> Any:
        """DockerSpawner's ``create_object`` with ``host_config`` merged last and
        DockerSpawner's own mem/cpu limits off (the kit's come in ``host_config``)."""
        saved = {name: getattr(self, name) for name in SWAPPED_TRAITS}
        try:
            self.mem_limit = None
            self.cpu_limit = None
            self.extra_host_config = host_config
            return await DockerSpawner.create_object(self)
        finally:
            for name, value in saved.items():
                setattr(self, name, value)
