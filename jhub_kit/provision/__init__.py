"""Home provisioners: per-user homes with the right owner, optionally size-limited."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .base import HomeMount, HomeProvisioner, HomeUnavailable, ProvisionError, Usage

#: Short names for ``c.QuotaDockerSpawner.home_provisioner``.
BACKENDS = {
    "directory": "jhub_kit.provision.directory:DirectoryProvisioner",
    "loopfile": "jhub_kit.provision.loopfile:LoopfileProvisioner",
    "btrfs": "jhub_kit.provision.btrfs:BtrfsProvisioner",
    "lvm": "jhub_kit.provision.lvm:LvmProvisioner",
    "docker-volume": "jhub_kit.provision.dockervolume:DockerVolumeProvisioner",
    "system-user": "jhub_kit.provision.systemuser:SystemUserProvisioner",
}


def provisioner_class(name: str) -> type[HomeProvisioner]:
    """The class for a short name (``"loopfile"``) or a ``module:Class`` / ``module.Class`` path."""
    target = BACKENDS.get(name, name)
    if ":" in target:
        module, cls = target.split(":", 1)
    else:
        module, _, cls = target.rpartition(".")
    if not module:
        raise ValueError(
            f"unknown home provisioner {name!r}; use one of {', '.join(BACKENDS)} or a class path"
        )
    klass: Any = getattr(import_module(module), cls)
    if not (isinstance(klass, type) and issubclass(klass, HomeProvisioner)):
        raise ValueError(f"{name!r} is not a HomeProvisioner")
    return klass


__all__ = [
    "BACKENDS",
    "HomeMount",
    "HomeProvisioner",
    "HomeUnavailable",
    "ProvisionError",
    "Usage",
    "provisioner_class",
]
