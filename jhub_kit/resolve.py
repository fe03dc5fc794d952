"""Quotas and homes from a loaded config, the way the hub resolves them.

One public place that the spawner, the ``jhub-kit`` CLI and any other
spawner share, so a config means the same thing to all of them. Pure
configuration: nothing is started.
"""

from __future__ import annotations

import logging
from importlib.metadata import entry_points
from typing import Any

from traitlets import import_item
from traitlets.config import Config

from .provision import HomeProvisioner, make_provisioner
from .provision.dockervolume import DockerVolumeProvisioner
from .quota.policy import Quota
from .quota.traits import QuotaConfigMixin
from .standin import stand_in

log = logging.getLogger(__name__)


def spawner_class(config: Config) -> type[QuotaConfigMixin]:
    """The kit spawner class the config selects (``c.JupyterHub.spawner_class``),
    or :class:`~jhub_kit.QuotaDockerSpawner` when it names none of the kit's."""
    from .spawners.docker import QuotaDockerSpawner

    chosen: Any = config.JupyterHub.get("spawner_class") if "JupyterHub" in config else None
    if isinstance(chosen, str):
        try:
            found = entry_points(group="jupyterhub.spawners", name=chosen)
            chosen = next(iter(found)).load() if found else import_item(chosen)
        except Exception:  # an unknown name: fall back; `config check` reports it
            chosen = None
    if isinstance(chosen, type) and issubclass(chosen, QuotaConfigMixin):
        return chosen
    return QuotaDockerSpawner


def configured_spawner(config: Config, username: str = "config-check", groups: Any = ()) -> Any:
    """The configured kit spawner for a stand-in user (callable traits get it as
    their ``spawner`` argument); never started."""
    return stand_in(spawner_class(config), config, name=username, groups=tuple(groups))


async def quota_for(config: Config, username: str, groups: Any = ()) -> Quota:
    """The quota ``username`` (in ``groups``) gets at their next spawn: JupyterHub's
    ``group_overrides`` applied first, as the hub does before a start."""
    sp = configured_spawner(config, username, groups)
    await sp.apply_group_overrides()
    quota: Quota = await sp.resolve_quota()
    return quota


def provisioner_for(config: Config) -> HomeProvisioner | None:
    """The home provisioner the config sets, or None."""
    sp = configured_spawner(config)
    prov = make_provisioner(getattr(sp, "home_provisioner", None), config=config)
    if isinstance(prov, DockerVolumeProvisioner):
        prov.server_image = getattr(sp, "image", "") or ""  # a new volume's owner is set with it
    return prov
