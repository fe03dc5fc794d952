"""A named Docker volume per user, labelled, for hosts without a disk-quota backend.

Docker copies the image's files (and their owner, jovyan) into a new volume
at its first mount, so the home belongs to the user. No size limit.
"""

from __future__ import annotations

import asyncio
from typing import Any

from traitlets import Any as AnyTrait
from traitlets import Unicode

from ..quota import Quota
from .base import HomeMount, HomeProvisioner, Usage

LABEL = "io.jhub-kit.home"


class DockerVolumeProvisioner(HomeProvisioner):
    """Volume ``<volume_prefix><name>`` with labels naming the user."""

    backend = "docker-volume"

    volume_prefix = Unicode(
        "jhub-home-", help='Prefix of the volume names. Example: ``"jupyterhub-user-"``.'
    ).tag(config=True)

    docker_client = AnyTrait(help="A docker.APIClient; the spawner sets its own.")

    async def _provision(self, username: str, record: dict[str, Any], quota: Quota) -> HomeMount:
        name = self.volume_prefix + record["name"]
        # creating an existing volume returns it unchanged
        await asyncio.to_thread(
            self.docker_client.create_volume,
            name=name,
            labels={LABEL: "true", f"{LABEL}.user": username},
        )
        record["volume"] = name
        return HomeMount(name, "volume")

    async def _usage(self, record: dict[str, Any]) -> Usage:
        df = await asyncio.to_thread(self.docker_client.df)
        for v in df.get("Volumes") or []:
            if v.get("Name") == record.get("volume"):
                size = (v.get("UsageData") or {}).get("Size", -1)
                return Usage(max(size, 0), None)
        return Usage(0, None)

    async def _home_path(self, record: dict[str, Any]) -> Any:
        from pathlib import Path

        info = await asyncio.to_thread(self.docker_client.inspect_volume, record["volume"])
        return Path(info["Mountpoint"])

    async def _destroy(self, record: dict[str, Any]) -> None:
        await asyncio.to_thread(self.docker_client.remove_volume, record["volume"])
