"""Home provisioners: per-user homes with the right owner, optionally size-limited."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib import import_module
from typing import Any

from traitlets.config import Config

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


def make_provisioner(
    spec: str | HomeProvisioner | None,
    *,
    config: Config,
    log: Any = None,
    docker_client: Any = None,
) -> HomeProvisioner | None:
    """A provisioner from ``home_provisioner``'s value: a short name, a class path,
    an instance (returned as is) or None. A backend with a ``docker_client``
    trait gets ``docker_client`` when one is given (else it makes its own)."""
    if spec is None or isinstance(spec, HomeProvisioner):
        return spec
    cls = provisioner_class(spec)
    kwargs: dict[str, Any] = {"config": config}
    if log is not None:
        kwargs["log"] = log
    if docker_client is not None and cls.class_traits().get("docker_client") is not None:
        kwargs["docker_client"] = docker_client
    return cls(**kwargs)


def pre_spawn_hook(backend: str) -> Callable[[Any], Awaitable[None]]:
    """A ``c.Spawner.pre_spawn_hook`` for any spawner that provisions each user's
    home with ``backend`` (a short name or class path) before their server starts::

        from jhub_kit.provision import pre_spawn_hook
        c.Spawner.pre_spawn_hook = pre_spawn_hook("system-user")
        c.SystemUserProvisioner.base_dir = "/srv/jupyterhub/homes"  # applies: read at spawn

    The provisioner is made at the first spawn from the hub's whole config (so
    lines after this one apply), once per hub, and shared by every user.
    """
    klass = provisioner_class(backend)
    made: dict[int, tuple[Any, HomeProvisioner]] = {}

    async def hook(spawner: Any) -> None:
        key = id(spawner.config)
        if key not in made:  # the config is kept with it: its id stays unique
            made[key] = (spawner.config, klass(config=spawner.config, log=spawner.log))
        await made[key][1].pre_spawn_hook(spawner)

    hook.provisioner_class = klass  # type: ignore[attr-defined]  # what the CLI checks
    return hook


def __getattr__(name: str) -> Any:
    """The backends' classes, imported when asked for
    (``from jhub_kit.provision import SystemUserProvisioner``)."""
    for target in BACKENDS.values():
        module, cls = target.split(":", 1)
        if cls == name:
            return getattr(import_module(module), cls)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BACKENDS",
    "HomeMount",
    "HomeProvisioner",
    "HomeUnavailable",
    "ProvisionError",
    "Usage",
    "make_provisioner",
    "pre_spawn_hook",
    "provisioner_class",
]
