"""jhub_kit: quotas, homes and user lists for a JupyterHub on one Docker host."""

from __future__ import annotations

from typing import Any

from ._version import __version__

__all__ = ["QuotaDockerSpawner", "QuotaSwarmSpawner", "__version__", "configure", "follow_hub"]


def __getattr__(name: str) -> Any:
    # Lazy, so `import jhub_kit.quota` needs neither jupyterhub nor docker.
    if name == "QuotaDockerSpawner":
        from .spawners.docker import QuotaDockerSpawner

        return QuotaDockerSpawner
    if name == "QuotaSwarmSpawner":
        from .spawners.swarm import QuotaSwarmSpawner

        return QuotaSwarmSpawner
    if name == "configure":
        from .config import configure

        return configure
    if name == "follow_hub":
        from .hub_start import follow_hub

        return follow_hub
    raise AttributeError(f"module 'jhub_kit' has no attribute {name!r}")
