"""The home as a part: each server's home made (or found) and measured before its
start (a size from the quota's ``disk_limit``), and the mounts beside it readied.

:class:`HomesMixin` holds the options (traits only: configured as
``c.QuotaDockerSpawner.home_provisioner`` and so on); :class:`HomePart` is the
work, made by the spawner where it needs it
(:meth:`jhub_kit.spawners.kit.KitSpawner.home_part`) from what it is given: the
provisioner, the key the home is kept under, the home as last recorded, the
server's image and the engine's calls. The record stays the spawner's
(``home_mount``, ``home_usage``, kept in the hub's database by
:mod:`.state`): the part starts from it and the spawner takes back what the part
found. Shared by :class:`~jhub_kit.QuotaDockerSpawner` and
:class:`~jhub_kit.QuotaSwarmSpawner`. The provisioner runs in the hub's process,
where ``base_dir`` lives (on a swarm: a share mounted at the same path on every
node).
"""

from __future__ import annotations

import logging
import os
import posixpath
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import docker.errors
from traitlets import Bool, Float, Instance, Unicode, Union

from .. import metrics, offloop, registry
from ..compat import admin_must_fix
from ..provision import (
    HomeMount,
    HomeProvisioner,
    ProvisionError,
    Usage,
    make_provisioner,
    paths,
    provisioner_class,
)
from ..provision.dockervolume import (
    DockerVolumeProvisioner,
    give_volume_to,
    make_volume_as_a_first_start,
)
from ..quota.policy import Quota, approx_size
from ..spec import Mountpoint, ServerSpec, inside

if TYPE_CHECKING:
    from jupyterhub.spawner import Spawner as _Base
else:
    # JupyterHub refuses Spawner subclasses that do not define start/stop/poll
    from traitlets.config import LoggingConfigurable as _Base

#: label of the volumes the kit made beside a home (``volumes`` inside ``home_target``)
VOLUME_LABEL = "io.jhub-kit.volume"


class HomesMixin(_Base):
    """The home's options (traits only; the work is :class:`HomePart`)."""

    home_provisioner = Union(
        [Unicode(), Instance(HomeProvisioner)],
        allow_none=True,
        default_value=None,
        help="""Makes each user's home before their container is created.

        A short name, a ``module:Class`` (or ``module.Class``) path of a
        :class:`~jhub_kit.provision.HomeProvisioner` subclass, or an instance. The
        kit's names: ``"directory"``, ``"loopfile"``, ``"btrfs"``, ``"lvm"``,
        ``"docker-volume"``, ``"system-user"``; another package adds its own in the
        ``jhub_kit.home_provisioners`` entry-point group (an unknown name is refused
        with the list of the installed ones). The home is mounted at
        :attr:`home_target`; its size comes from the quota's ``disk_limit``.
        Configure the backend through its own class, e.g.
        ``c.LoopfileProvisioner.base_dir = "/srv/jupyterhub/homes"``.
        Example: ``c.QuotaDockerSpawner.home_provisioner = "loopfile"``.

        .. versionadded:: 0.1
        .. versionchanged:: 0.5
           Short names come from the ``jhub_kit.home_provisioners`` entry points.
        """,
    ).tag(config=True)

    home_target = Unicode(
        "",
        help="""Where the home is mounted in the container. Default: ``notebook_dir``,
        or ``/home/jovyan``. Example: ``"/home/jovyan/work"``.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    home_per_server = Bool(
        False,
        help="""Give each named server its own home, as ``{servername}`` in
        ``volumes`` gives it its own volume. False (the default): every server of
        a user mounts the user's one home. True: a named server's home is kept by
        the provisioner as ``USER/SERVER`` (a name no user can have: JupyterHub
        refuses "/" in usernames), with the quota's ``disk_limit`` of its own; the
        default server keeps the user's home. ``jhub-kit users remove --forever``
        archives and removes them all.
        Example: ``c.QuotaDockerSpawner.home_per_server = True``.

        .. versionadded:: 0.4
        """,
    ).tag(config=True)

    home_full_notice = Bool(
        True,
        help="""Open a server whose home is full on a notice that says so and how to
        make room, and delete files at once instead of moving them to the trash
        (which needs room), while the home is full. The home is measured before
        each start; full is less than 1 MiB free, or no inode left. The notice is
        a page of the kit's (``jhub_kit/notices``), mounted read-only at
        ``/opt/jhub-kit/notices`` and served by the student's own server
        (QuotaDockerSpawner; QuotaSwarmSpawner keeps every server's runtime files out
        of the home too, but opens no notice). Where the engine's host does not
        have the kit's installed files at the same path (a hub in a container),
        servers open without the notice (the engine is asked once,
        :mod:`jhub_kit.spawners.kit_folders`, and the log says so once); turning
        this off silences that, and a server whose home is full still starts, as
        every server's runtime files are kept outside the home.
        Example: ``c.QuotaDockerSpawner.home_full_notice = False``.

        .. versionadded:: 0.5
        """,
    ).tag(config=True)

    usage_interval = Float(
        60,
        help="""Measure a running server's home at most this often (seconds), in
        poll; the student's pages and the class dashboard show the last measure.
        Cheap for loopfile, lvm and btrfs homes; ``directory`` homes are walked
        file by file. Example: ``c.QuotaDockerSpawner.usage_interval = 300``.""",
    ).tag(config=True)


def home_key(user: str, server: str, per_server: bool) -> str:
    """What the provisioner keeps a server's home under: the user's name, or
    ``USER/SERVER`` for named server ``server`` with ``home_per_server``."""
    if per_server and server:
        return f"{user}/{server}"
    return user


def home_owner(home_provisioner: str | HomeProvisioner | None, config: Any) -> tuple[int, int]:
    """The uid and gid the homes of ``home_provisioner`` belong to (1000:100 without
    one). Read from the configuration: no engine or disk is touched (config check
    runs this where no Docker engine answers)."""
    if home_provisioner is None:
        return (1000, 100)
    if isinstance(home_provisioner, HomeProvisioner):
        return (home_provisioner.uid, home_provisioner.gid)
    prov = provisioner_class(home_provisioner)(config=config)  # no docker client made
    return (prov.uid, prov.gid)


def shared_provisioner(
    home_provisioner: str | HomeProvisioner | None,
    config: Any,
    log: Any,
    client: Callable[[], Any],
) -> HomeProvisioner | None:
    """The provisioner ``home_provisioner`` names, made once per hub and shared by
    every user's spawner (one lock per user); ``client()`` gives the engine's client,
    asked for only when the provisioner is made."""
    if home_provisioner is None or isinstance(home_provisioner, HomeProvisioner):
        return home_provisioner
    hp = home_provisioner
    prov: HomeProvisioner | None = registry.shared(
        "provisioner",
        config,
        lambda: make_provisioner(hp, config=config, log=log, docker_client=client()),
        hp,
    )
    return prov


class HomePart:
    """One server's home, as the spawner gives it: ``provisioner`` (None: the kit
    makes no home) keeps it under ``key``; ``mount`` and ``usage`` are the home as
    last recorded, updated by :meth:`provision` and :meth:`measure`; ``user`` names
    the student in the log, ``image`` is the server's; ``docker`` is the spawner's
    engine call (run on its threads) and ``client`` the engine's client, for the
    volumes beside the home."""

    def __init__(
        self,
        *,
        provisioner: HomeProvisioner | None,
        key: str,
        user: str,
        mount: HomeMount | None,
        usage: Usage | None,
        image: str,
        docker: Callable[..., Awaitable[Any]],
        client: Any,
        log: logging.Logger | logging.LoggerAdapter[Any],
    ) -> None:
        self.provisioner = provisioner
        self.key = key
        self.user = user
        self.mount = mount
        self.usage = usage
        self.image = image
        self.docker = docker
        self.client = client
        self.log = log

    @property
    def owner(self) -> tuple[int, int]:
        """The uid and gid the home belongs to (the provisioner's; 1000:100 without one)."""
        return home_owner(self.provisioner, None)

    async def provision(self, quota: Quota, progress: Callable[[int, str], None]) -> None:
        """Make (or find) the home, sized by ``quota``'s ``disk_limit``, and measure
        it; ``progress`` tells the student how it goes."""
        prov = self.provisioner
        if prov is None:
            return
        progress(30, "Preparing your home directory")
        if isinstance(prov, DockerVolumeProvisioner):
            prov.server_image = self.image  # the image at hand to set a new volume's owner
        try:
            self.mount = await prov.provision(self.key, quota)
        except ProvisionError as e:
            admin_must_fix(
                self.log,
                e.user_message,
                f"Home of {self.key} not provisioned: {e}",
                reason="home",
            )
        usage = self.usage = await prov.usage(self.key)
        size = approx_size(usage.limit) if usage and usage.limit else "no size limit"
        progress(40, f"Home ready ({size})")
        if usage is not None and usage.full:
            what = "space" if usage.full == "space" else "inode"
            self.log.warning("Home of %s is full (no %s left) at its start", self.key, what)
            progress(45, "Your home folder is full: delete files to make room")

    async def measure(self) -> None:
        """Measure the home now (a failure is logged; the last measure stays)."""
        if self.provisioner is None:
            return
        try:
            usage = self.usage = await self.provisioner.usage(self.key)
            if usage is not None:
                metrics.HOME_USE.record(self.key, usage.used, usage.limit)
        except ProvisionError as e:
            self.log.warning("Could not measure the home of %s: %s", self.key, e)

    # -- what sits beside the home ---------------------------------------------------

    async def host_path(self, m: Mountpoint, image: str = "") -> str:
        """Where mount ``m``'s content is on this host: a bind's path, a named volume's
        directory (the engine's ``local`` driver, no options), or the home's. A named
        volume that does not exist yet (a first start) is made as the engine would
        make it for a container of ``image`` (:func:`make_volume_as_a_first_start`)."""
        if m.home and self.mount is not None and self.mount.type != "volume":
            return self.mount.source
        if m.kind == "bind":
            return m.source
        try:
            info = await self.docker("inspect_volume", m.source)
        except docker.errors.NotFound:
            if not image or m.home:
                raise
            await offloop.run_io(
                make_volume_as_a_first_start,
                self.client,
                m.source,
                image=image,
                target=m.target,
                read_only=m.read_only,
            )
            self.log.info("Made volume %s for %s as its first start would", m.source, self.user)
            info = await self.docker("inspect_volume", m.source)
        if info.get("Driver") != "local" or info.get("Options"):
            raise ProvisionError(
                f"volume {m.source} uses driver {info.get('Driver')!r} with options "
                f"{info.get('Options')}: the engine mounts it only for a container it starts"
            )
        return str(info["Mountpoint"])

    async def prepare_mounts(self, described: ServerSpec) -> None:
        """Before a server starts (cold or pooled), for each mount beside the kit home:

        - inside the home (``~/work`` on a named volume): its mount point made in the
          home for the home's owner (the engine would make it root's), and a named
          volume that does not exist yet made and given to the home's owner (there
          is no directory in the image for the engine to copy an owner from);
        - a read-write bind the student cannot write to: a warning in the hub log
          (a path the admin named keeps its owner: the kit never changes it)."""
        uid, gid = self.owner
        home_dir = None
        if self.mount is not None and described.home_target:
            home_dir = await self._home_dir_on_host()
        for m in described.mounts:
            if m.home or m.kind == "tmpfs":
                continue
            if m.kind == "bind" and not m.read_only:
                await offloop.run_io(self._check_writable, m, uid, gid)
            if described.home_target is None or not inside(m.target, described.home_target):
                continue
            if m.named_volume:
                await self._ensure_volume(m.source, uid, gid)
            if home_dir is not None:
                rel = posixpath.relpath(posixpath.normpath(m.target), described.home_target)
                try:
                    await offloop.run_io(paths.make_dirs, home_dir, rel, uid=uid, gid=gid)
                except ProvisionError as e:
                    admin_must_fix(
                        self.log,
                        e.user_message,
                        f"Mount point {m.target} in the home of {self.user}: {e}",
                        reason="home",
                    )

    async def _home_dir_on_host(self) -> str | None:
        """The home's directory as this host sees it (None if it cannot: a volume of
        an engine whose directories the hub does not see)."""
        assert self.mount is not None
        if self.mount.type != "volume":
            return self.mount.source
        info = await self.docker("inspect_volume", self.mount.source)
        top = str(info.get("Mountpoint") or "")
        is_dir = await offloop.run_io(os.path.isdir, top) if top else False
        return top if is_dir else None

    async def _ensure_volume(self, name: str, uid: int, gid: int) -> None:
        try:
            await self.docker("inspect_volume", name)
            return
        except docker.errors.NotFound:
            pass
        await self.docker(
            "create_volume",
            name=name,
            labels={VOLUME_LABEL: "true", f"{VOLUME_LABEL}.user": self.user},
        )
        self.log.info("Made volume %s for %s, given to %d:%d", name, self.user, uid, gid)
        await give_volume_to(self.client, name, uid=uid, gid=gid, mode=0o755, image=self.image)

    def _check_writable(self, m: Mountpoint, uid: int, gid: int) -> None:
        try:
            st = os.stat(m.source)
        except OSError:
            return  # the engine makes a missing one (root's): said at config check
        if not paths.writable_by(st, uid, gid):
            message = (
                f"{self.user} cannot write to {m.target}: its bind {m.source} is "
                f"owned by {st.st_uid}:{st.st_gid} with mode {st.st_mode & 0o7777:o} and the "
                f"server runs as {uid}:{gid}. Give the directory to them, or mount it "
                '{"mode": "ro"}'
            )
            warned: set[str] = registry.shared("homes-warned", None, set)
            if message not in warned:
                warned.add(message)
                self.log.warning(message)
