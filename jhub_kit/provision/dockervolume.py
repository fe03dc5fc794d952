"""A named Docker volume per user, labelled, for hosts without a disk-quota backend.

A new volume's top directory is given to ``uid:gid`` with ``mode`` before its
first mount: Docker copies the image's directory (and its owner) into a new
volume only where the image has the mount point, and otherwise leaves a
root-owned directory the user cannot write to (the seeds' "permission denied"
in ``work``). Where the hub sees the volume's directory (a hub on the Docker
host), it sets the owner itself; where it does not (a hub in a container, with
the engine's socket), a short-lived container does, with only CAP_CHOWN, no
network, and the server image. No size limit.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import docker
import docker.errors
import docker.utils
from traitlets import Any as AnyTrait
from traitlets import Unicode, default

from .. import offloop
from ..quota.policy import Quota
from .base import HomeMount, HomeProvisioner, ProvisionError, Undo, Usage

LABEL = "io.jhub-kit.home"


class DockerVolumeProvisioner(HomeProvisioner):
    """Volume ``<volume_prefix><name>`` with labels naming the user."""

    backend = "docker-volume"

    volume_prefix = Unicode(
        "jhub-home-", help='Prefix of the volume names. Example: ``"jupyterhub-user-"``.'
    ).tag(config=True)

    owner_image = Unicode(
        "",
        help="""Image of the short-lived container that gives a new volume to
        ``uid:gid`` when the hub cannot reach the volume's directory itself (a hub in
        a container). It needs ``chown`` and ``chmod``. Default: the image of the
        server being started. Example: ``"quay.io/jupyter/base-notebook:latest"``.

        .. versionadded:: 0.3
        """,
    ).tag(config=True)

    server_image = Unicode(
        "", help="Set by the spawner before each provision: the image it is about to start."
    )

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
            await offloop.run_io(
                self.docker_client.create_volume,
                name=name,
                labels={LABEL: "true", f"{LABEL}.user": username},
            )
            undo.push(
                f"remove volume {name}",
                lambda: offloop.run_io(self.docker_client.remove_volume, name),
            )
            await self._give_to_user(name)
        record["volume"] = name
        return HomeMount(name, "volume")

    async def _give_to_user(self, name: str) -> None:
        """chown/chmod the new, empty volume's top directory."""
        await give_volume_to(
            self.docker_client,
            name,
            uid=self.uid,
            gid=self.gid,
            mode=self.mode,
            image=self.owner_image or self.server_image,
            timeout=self.command_timeout,
        )

    async def _volume_exists(self, name: str) -> bool:
        try:
            await offloop.run_io(self.docker_client.inspect_volume, name)
        except docker.errors.NotFound:
            return False
        return True

    async def _missing(self, record: dict[str, Any]) -> str | None:
        name = record.get("volume") or self.volume_prefix + record["name"]
        if not await self._volume_exists(name):
            return f"its Docker volume {name} is missing"
        return None

    async def _usage(self, record: dict[str, Any]) -> Usage:
        df = await offloop.run_io(self.docker_client.df)
        for v in df.get("Volumes") or []:
            if v.get("Name") == record.get("volume"):
                size = (v.get("UsageData") or {}).get("Size", -1)
                return Usage(max(size, 0), None)
        return Usage(0, None)

    async def _home_path(self, record: dict[str, Any]) -> Path:
        info = await offloop.run_io(self.docker_client.inspect_volume, record["volume"])
        return Path(info["Mountpoint"])

    async def _destroy(self, record: dict[str, Any]) -> None:
        await offloop.run_io(self.docker_client.remove_volume, record["volume"])


async def give_volume_to(
    api: Any, name: str, *, uid: int, gid: int, mode: int, image: str, timeout: float = 60
) -> None:
    """Give a new, empty volume's top directory to ``uid:gid`` with ``mode``: directly
    where the hub sees the volume's directory (the hub on the Docker host, as root),
    else in a short-lived container of ``image`` with only CAP_CHOWN and no network."""
    info = await offloop.run_io(api.inspect_volume, name)
    top = Path(info.get("Mountpoint") or "/nonexistent")
    if await offloop.run_io(_is_local_empty_dir, top):
        try:
            await offloop.run_io(_chown_top, top, uid, gid, mode)
            return
        except PermissionError:  # a hub on the host, but not root: the container can
            pass
    if not image:
        raise ProvisionError(
            f"cannot give the new volume {name} to uid {uid}: the hub cannot see its "
            "directory and no image is known; set c.DockerVolumeProvisioner.owner_image"
        )
    await offloop.run_io(_chown_in_container, api, name, image, uid, gid, mode, timeout)


def _chown_in_container(
    api: Any, name: str, image: str, uid: int, gid: int, mode: int, timeout: float
) -> None:
    target = "/jhub-kit-home"
    script = f"chmod {mode:o} {target} && chown {uid}:{gid} {target}"
    host_config = api.create_host_config(
        binds={name: {"bind": target, "mode": "rw"}},
        network_mode="none",
        cap_drop=["ALL"],
        cap_add=["CHOWN"],  # chmod first, as the owner (root): no CAP_FOWNER needed
        security_opt=["no-new-privileges"],
    )
    container = api.create_container(
        image,
        entrypoint=["/bin/sh", "-c", script],
        command=[],
        user="0",
        host_config=host_config,
        labels={LABEL: "owner", f"{LABEL}.volume": name},
        network_disabled=True,
    )
    try:
        api.start(container)
        result = api.wait(container, timeout=max(timeout, 10))
        if result.get("StatusCode") != 0:
            out = api.logs(container).decode("utf-8", "replace").strip()
            raise ProvisionError(
                f"giving the new volume {name} to uid {uid} failed in a container of "
                f"{image} (exit {result.get('StatusCode')}): {out[-300:]}; set "
                "c.DockerVolumeProvisioner.owner_image to an image with chown and sh"
            )
    finally:
        with contextlib.suppress(docker.errors.APIError):
            api.remove_container(container, force=True)


def make_volume_as_a_first_start(
    api: Any, name: str, *, image: str, target: str, read_only: bool = False
) -> None:
    """Make the named volume ``name`` exactly as the engine makes it when a server's
    container is created with it (DockerSpawner's ``volumes``, a user's first start):
    the ``local`` driver, no options, and the image's content at ``target`` copied
    in with its owners. The engine does that at ``create``: a container of ``image``
    is created with the volume there, never started, and removed."""
    host_config = api.create_host_config(
        binds={name: {"bind": target, "mode": "ro" if read_only else "rw"}},
        network_mode="none",
    )
    container = api.create_container(
        image,
        command=["true"],
        host_config=host_config,
        labels={LABEL: "first-mount", f"{LABEL}.volume": name},
        network_disabled=True,
    )
    with contextlib.suppress(docker.errors.APIError):
        api.remove_container(container, force=True)


def _is_local_empty_dir(path: Path) -> bool:
    """The volume's directory, seen from here (the hub on the Docker host) and empty."""
    try:
        return path.is_dir() and not path.is_symlink() and not any(path.iterdir())
    except OSError:
        return False


def _chown_top(path: Path, uid: int, gid: int, mode: int) -> None:
    import os

    # the engine's own directory of a volume made a moment ago: not a student's path
    os.chmod(path, mode)
    os.lchown(path, uid, gid)
