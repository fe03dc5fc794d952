"""Homes as a Spawner mixin: the ``home_provisioner`` option, and the home made
before each start (a size from the quota's ``disk_limit``).

Shared by :class:`~jhub_kit.QuotaDockerSpawner` and
:class:`~jhub_kit.QuotaSwarmSpawner`; the spawner mounts :attr:`HomesMixin.home_mount`
at :meth:`HomesMixin.home_mount_target`. The provisioner runs in the hub's process,
where ``base_dir`` lives (on a swarm: a share mounted at the same path on every node).
"""

from __future__ import annotations

import asyncio
import os
import posixpath
from collections.abc import Callable
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
_WARNED: set[str] = set()


class HomesMixin(_Base):
    """Each user's home, made by a provisioner before their server starts."""

    client: Any
    image: str

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

    def home_key(self) -> str:
        """What the provisioner keeps this server's home under: the user's name, or
        ``USER/SERVER`` for a named server with :attr:`home_per_server`."""
        if self.home_per_server and self.name:
            return f"{self.user.name}/{self.name}"
        return str(self.user.name)

    def provisioner(self) -> HomeProvisioner | None:
        """The configured provisioner, shared by every user's spawner (one lock per user)."""
        hp = self.home_provisioner
        if hp is None or isinstance(hp, HomeProvisioner):
            return hp
        prov: HomeProvisioner | None = registry.shared(
            "provisioner",
            self.config,
            lambda: make_provisioner(
                hp, config=self.config, log=self.log, docker_client=self.client
            ),
            hp,
        )
        return prov

    home_mount: HomeMount | None = None
    """The home mounted into the current (or last) container."""

    async def provision_home(self, quota: Quota, progress: Callable[[int, str], None]) -> None:
        """Make (or find) this server's home, sized by ``quota``'s ``disk_limit``, and
        measure it; ``progress`` tells the student how it goes."""
        prov = self.provisioner()
        if prov is None:
            return
        progress(30, "Preparing your home directory")
        if isinstance(prov, DockerVolumeProvisioner):
            prov.server_image = self.image  # the image at hand to set a new volume's owner
        try:
            self.home_mount = await prov.provision(self.home_key(), quota)
        except ProvisionError as e:
            admin_must_fix(
                self.log,
                e.user_message,
                f"Home of {self.home_key()} not provisioned: {e}",
                reason="home",
            )
        usage = self.home_usage = await prov.usage(self.home_key())
        size = approx_size(usage.limit) if usage and usage.limit else "no size limit"
        progress(40, f"Home ready ({size})")
        if usage is not None and usage.full:
            what = "space" if usage.full == "space" else "inode"
            self.log.warning("Home of %s is full (no %s left) at its start", self.home_key(), what)
            progress(45, "Your home folder is full: delete files to make room")

    home_full_notice = Bool(
        True,
        help="""Open a server whose home is full on a notice that says so and how to
        make room, and delete files at once instead of moving them to the trash
        (which needs room), while the home is full. The home is measured before
        each start; full is less than 1 MiB free, or no inode left. The notice is
        a page of the kit's (``jhub_kit/notices``), mounted read-only at
        ``/opt/jhub-kit/notices`` and served by the student's own server
        (QuotaDockerSpawner; QuotaSwarmSpawner keeps every server's runtime files out
        of the home too, but opens no notice). Turn it off
        where the engine's host cannot see the kit's installed files at the same
        path (a hub in a container); the server then still starts, as every server's
        runtime files are kept outside the home.
        Example: ``c.QuotaDockerSpawner.home_full_notice = False``.

        .. versionadded:: 0.5
        """,
    ).tag(config=True)

    def home_full_now(self) -> str:
        """Why this server's home has no room left, as last measured (``"space"``,
        ``"files"``), or "" (room left, not measured, or the notice is off)."""
        usage = self.home_usage
        if not self.home_full_notice or self.home_mount is None or usage is None:
            return ""
        return usage.full

    usage_interval = Float(
        60,
        help="""Measure a running server's home at most this often (seconds), in
        poll; the student's pages and the class dashboard show the last measure.
        Cheap for loopfile, lvm and btrfs homes; ``directory`` homes are walked
        file by file. Example: ``c.QuotaDockerSpawner.usage_interval = 300``.""",
    ).tag(config=True)

    home_usage: Usage | None = None
    _usage_at = 0.0

    async def refresh_usage(self, force: bool = False) -> None:
        """Measure the home now (``force``) or when ``usage_interval`` has passed."""
        prov = self.provisioner()
        now = asyncio.get_running_loop().time()
        if prov is None or (not force and now - self._usage_at < self.usage_interval):
            return
        self._usage_at = now
        try:
            usage = self.home_usage = await prov.usage(self.home_key())
            if usage is not None:
                metrics.HOME_USE.record(self.home_key(), usage.used, usage.limit)
        except ProvisionError as e:
            self.log.warning("Could not measure the home of %s: %s", self.home_key(), e)

    def home_mount_target(self) -> str:
        """Where the home is mounted in the server."""
        return self.home_target or self.notebook_dir or "/home/jovyan"

    # -- what sits beside the home ---------------------------------------------------

    def home_owner(self) -> tuple[int, int]:
        """The uid and gid the home belongs to (the provisioner's; 1000:100 without one).
        Read from the configuration: no engine or disk is touched (config check runs
        this where no Docker engine answers)."""
        hp = self.home_provisioner
        if hp is None:
            return (1000, 100)
        if isinstance(hp, HomeProvisioner):
            return (hp.uid, hp.gid)
        prov = provisioner_class(hp)(config=self.config)  # no docker client made
        return (prov.uid, prov.gid)

    async def host_path(self, m: Mountpoint, image: str = "") -> str:
        """Where mount ``m``'s content is on this host: a bind's path, a named volume's
        directory (the engine's ``local`` driver, no options), or the home's. A named
        volume that does not exist yet (a first start) is made as the engine would
        make it for a container of ``image`` (:func:`make_volume_as_a_first_start`)."""
        if m.home and self.home_mount is not None and self.home_mount.type != "volume":
            return self.home_mount.source
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
            self.log.info(
                "Made volume %s for %s as its first start would", m.source, self.user.name
            )
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
        uid, gid = self.home_owner()
        home_dir = None
        if self.home_mount is not None and described.home_target:
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
                        f"Mount point {m.target} in the home of {self.user.name}: {e}",
                        reason="home",
                    )

    async def _home_dir_on_host(self) -> str | None:
        """The home's directory as this host sees it (None if it cannot: a volume of
        an engine whose directories the hub does not see)."""
        assert self.home_mount is not None
        if self.home_mount.type != "volume":
            return self.home_mount.source
        info = await self.docker("inspect_volume", self.home_mount.source)
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
            labels={VOLUME_LABEL: "true", f"{VOLUME_LABEL}.user": self.user.name},
        )
        self.log.info("Made volume %s for %s, given to %d:%d", name, self.user.name, uid, gid)
        await give_volume_to(self.client, name, uid=uid, gid=gid, mode=0o755, image=self.image)

    def _check_writable(self, m: Mountpoint, uid: int, gid: int) -> None:
        try:
            st = os.stat(m.source)
        except OSError:
            return  # the engine makes a missing one (root's): said at config check
        if not paths.writable_by(st, uid, gid):
            message = (
                f"{self.user.name} cannot write to {m.target}: its bind {m.source} is "
                f"owned by {st.st_uid}:{st.st_gid} with mode {st.st_mode & 0o7777:o} and the "
                f"server runs as {uid}:{gid}. Give the directory to them, or mount it "
                '{"mode": "ro"}'
            )
            if message not in _WARNED:
                _WARNED.add(message)
                self.log.warning(message)
