"""A named Docker volume per user, labelled, for hosts without a disk-quota backend.

Docker copies the image's files (and their owner, jovyan) into a new volume
at its first mount, so the home belongs to the user. No size limit.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import docker
import docker.errors
import docker.utils
from traitlets import Any as AnyTrait
from traitlets import Unicode, default

from ..quota import Quota
from .base import HomeMount, HomeProvisioner, Undo, Usage

LABEL = "io.jhub-kit.home"


class DockerVolumeProvisioner(HomeProvisioner):
    """Volume ``<volume_prefix><name>`` with labels naming the user."""

    backend = "docker-volume"

    volume_prefix = Unicode(
        "jhub-home-", help='Prefix of the volume names. Example: ``"jupyterhub-user-"``.'
    ).tag(config=True)

    docker_client = AnyTrait(
        help="A docker.APIClient. Default: one from the environment (DOCKER_HOST...); "
        "the kit's spawner hands over its own."
    )

    @default("docker_client")
    def _docker_client_default(self) -> Any:
        return docker.APIClient(version="auto", **docker.utils.kwargs_from_env())

    async def _provision(
        self, username: str, record: dict[str, Any], quota: Quota, undo: Undo
    ) -> HomeMount:
        name = record.get("volume") or self.volume_prefix + record["name"]
        if not await self._volume_exists(name):
            await asyncio.to_thread(
                self.docker_client.create_volume,
                name=name,
                labels={LABEL: "true", f"{LABEL}.user": username},
            )
            undo.push(
                f"remove volume {name}",
                lambda: asyncio.to_thread(self.docker_client.remove_volume, name),
            )
        record["volume"] = name
        return HomeMount(name, "volume")

    async def _volume_exists(self, name: str) -> bool:
        try:
            await asyncio.to_thread(self.docker_client.inspect_volume, name)
        except docker.errors.NotFound:
            return False
        return True

    async def _missing(self, record: dict[str, Any]) -> str | None:
        name = record.get("volume") or self.volume_prefix + record["name"]
        if not await self._volume_exists(name):
            return f"its Docker volume {name} is missing"
        return None

    async def _usage(self, record: dict[str, Any]) -> Usage:
        df = await asyncio.to_thread(self.docker_client.df)
        for v in df.get("Volumes") or []:
            if v.get("Name") == record.get("volume"):
                size = (v.get("UsageData") or {}).get("Size", -1)
                return Usage(max(size, 0), None)
        return Usage(0, None)

    async def _home_path(self, record: dict[str, Any]) -> Path:
        info = await asyncio.to_thread(self.docker_client.inspect_volume, record["volume"])
        return Path(info["Mountpoint"])

    async def _destroy(self, record: dict[str, Any]) -> None:
        await asyncio.to_thread(self.docker_client.remove_volume, record["volume"])
