"""Home provisioners: per-user homes with the right owner, optionally size-limited."""

from __future__ import annotations

import logging
import sys
from collections.abc import Awaitable, Callable
from importlib import import_module
from importlib.metadata import entry_points
from typing import Any

from traitlets.config import Config

from .. import registry
from .base import HomeMount, HomeProvisioner, HomeUnavailable, ProvisionError, Usage

log = logging.getLogger(__name__)

#: The entry-point group that names home provisioners: a distribution registers
#: ``name = "module:Class"`` there, and ``home_provisioner = "name"`` finds it
#: (as JupyterHub's ``jupyterhub.spawners`` group does for ``spawner_class``).
ENTRY_POINT_GROUP = "jhub_kit.home_provisioners"

#: The kit's own provisioners, exactly as pyproject.toml registers them in
#: :data:`ENTRY_POINT_GROUP` (a unit test holds the two equal). Kept here as well so
#: the short names work from a checkout whose metadata predates them (an editable
#: install not reinstalled since, a source tree on ``PYTHONPATH``): a name the kit
#: ships never depends on how it was installed. Another distribution cannot take
#: one of these names over.
BACKENDS = {
    "directory": "jhub_kit.provision.directory:DirectoryProvisioner",
    "loopfile": "jhub_kit.provision.loopfile:LoopfileProvisioner",
    "btrfs": "jhub_kit.provision.btrfs:BtrfsProvisioner",
    "lvm": "jhub_kit.provision.lvm:LvmProvisioner",
    "docker-volume": "jhub_kit.provision.dockervolume:DockerVolumeProvisioner",
    "system-user": "jhub_kit.provision.systemuser:SystemUserProvisioner",
}


def _scan() -> tuple[dict[str, str], dict[str, list[str]]]:
    """The short names and their ``module:Class``, and the names that several
    distributions register (each with who registers what). Read once per
    ``sys.path`` (reading every installed distribution's metadata takes about 10 ms,
    and a start asks for its provisioner's class)."""
    # sys.path is only the key: entry_points() reads sys.path itself
    found: tuple[dict[str, str], dict[str, list[str]]] = registry.shared(
        "home-provisioner-names", None, _read_entry_points, tuple(sys.path)
    )
    return found


def _read_entry_points() -> tuple[dict[str, str], dict[str, list[str]]]:
    found = dict(BACKENDS)
    targets: dict[str, dict[str, str]] = {}  # name: {module:Class: distribution}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        name, dist = ep.name.lower(), ep.dist.name if ep.dist else "?"
        if name in BACKENDS:
            if ep.value != BACKENDS[name]:  # once: the reading is kept
                log.warning(
                    "%s registers home provisioner %r as %s; the name is the kit's own "
                    "(%s) and keeps it: name the class path to use the other one",
                    dist,
                    name,
                    ep.value,
                    BACKENDS[name],
                )
            continue
        found.setdefault(name, ep.value)
        targets.setdefault(name, {})[ep.value] = dist
    clashes = {
        name: [f"{dist} ({value})" for value, dist in these.items()]
        for name, these in targets.items()
        if len(these) > 1
    }
    return found, clashes


def registered() -> dict[str, str]:
    """Every short name and its ``module:Class``: the kit's own (:data:`BACKENDS`)
    and each one an installed distribution registers in :data:`ENTRY_POINT_GROUP`
    (names are case-insensitive, as JupyterHub's). Nothing is imported."""
    return dict(_scan()[0])


def _load(target: str, asked: str) -> type[HomeProvisioner]:
    if ":" in target:
        module, cls = target.split(":", 1)
    else:
        module, _, cls = target.rpartition(".")
    klass: Any = import_module(module)
    for part in cls.split("."):
        klass = getattr(klass, part, None)
        if klass is None:
            raise ValueError(f"home provisioner {asked!r}: {module} has no {cls}")
    if not (isinstance(klass, type) and issubclass(klass, HomeProvisioner)):
        raise ValueError(f"home provisioner {asked!r} ({target}) is not a HomeProvisioner")
    return klass


def provisioner_class(name: str) -> type[HomeProvisioner]:
    """The class for a short name (``"loopfile"``, or one another distribution
    registers in :data:`ENTRY_POINT_GROUP`) or a ``module:Class`` / ``module.Class``
    path. An unknown name is a ValueError that lists the names there are; so is a
    name two distributions register for different classes (neither is guessed)."""
    names, clashes = _scan()
    key = name.lower()
    if key in clashes:
        raise ValueError(
            f"home provisioner {name!r} is registered by {' and by '.join(clashes[key])}; "
            "name the class path instead"
        )
    target = names.get(key)
    if target is None:
        if "." not in name and ":" not in name:
            raise ValueError(
                f"unknown home provisioner {name!r}; use one of {', '.join(sorted(names))}, "
                "or a class path such as 'mypackage.homes:MyProvisioner'"
            )
        target = name
    return _load(target, name)


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
    "ENTRY_POINT_GROUP",
    "HomeMount",
    "HomeProvisioner",
    "HomeUnavailable",
    "ProvisionError",
    "Usage",
    "make_provisioner",
    "pre_spawn_hook",
    "provisioner_class",
    "registered",
]
