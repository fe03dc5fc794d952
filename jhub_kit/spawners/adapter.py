"""Every DockerSpawner internal the kit relies on, in one place.

The kit describes a server itself (:mod:`jhub_kit.spec`, which merges options
exactly as DockerSpawner 14's ``create_object`` does: ``tests/unit/test_spec.py``
compares the two), evaluating ``extra_create_kwargs`` and ``extra_host_config``
the way DockerSpawner does, with its private helpers. SwarmSpawner's service is
made from the same description (:func:`jhub_kit.spec.service_kwargs`, compared
with SwarmSpawner's own in the tests). If a new DockerSpawner renames any of
these, ``tests/unit/test_adapter.py`` fails before a user meets it; pyproject.toml
pins the supported range.
"""

from __future__ import annotations

import inspect
import threading
from typing import Any

from dockerspawner import DockerSpawner, SwarmSpawner
from traitlets import default

#: Private DockerSpawner names the kit calls (checked by the tests).
PRIVATE_NAMES = (
    "_eval_if_callable",
    "_render_templates",
    "_default_use_ip",
    "_executor",
    "_object_name_default",
)


class _KitDefaults(DockerSpawner):
    """The kit's defaults for two of DockerSpawner's traits, on both spawners."""

    @default("remove")
    def _remove_default(self) -> bool:
        # a fresh container at every start always carries the current quota;
        # homes live on persistent mounts, so nothing of the user's is lost
        return True

    @default("use_internal_ip")
    def _use_internal_ip_default(self) -> bool:
        # on the host network nothing is published (the engine refuses a published
        # port there: "container cannot be ... connected to host network")
        return self.network_name == "host" or bool(super()._default_use_ip())


#: DockerSpawner makes its one client per class at the first call that needs it
_CLIENT_MADE = threading.Lock()


class DockerSpawnerAdapter(_KitDefaults, DockerSpawner):
    """DockerSpawner with the kit's few uses of its internals made explicit."""

    @property
    def client(self) -> Any:
        """DockerSpawner's client, made once: the kit calls the engine from several
        threads (``docker_threads``), which could each make one at the same moment
        where DockerSpawner's single thread could not (a client dropped while it was
        connecting crashed the hub's process once in 30 runs of 4 starts at once)."""
        with _CLIENT_MADE:
            return DockerSpawner.client.fget(self)

    async def _evaluated(self, value: Any) -> dict[str, Any]:
        """An ``extra_*`` option as DockerSpawner evaluates it (callable, awaitable,
        templates rendered)."""
        value = self._eval_if_callable(value)
        if inspect.isawaitable(value):
            value = await value
        rendered: dict[str, Any] = self._render_templates(value or {})
        return rendered

    async def evaluated_extra_host_config(self) -> dict[str, Any]:
        """``extra_host_config`` as DockerSpawner evaluates it."""
        return await self._evaluated(getattr(self, "extra_host_config"))  # noqa: B009

    async def evaluated_extra_create_kwargs(self) -> dict[str, Any]:
        """``extra_create_kwargs`` as DockerSpawner evaluates it."""
        return await self._evaluated(getattr(self, "extra_create_kwargs"))  # noqa: B009

    def default_object_name(self) -> str:
        """The container name DockerSpawner gives this user's server (``name_template``)."""
        name: str = self._object_name_default()
        return name


class SwarmSpawnerAdapter(_KitDefaults, SwarmSpawner):
    """SwarmSpawner with the kit's few uses of its internals made explicit."""
