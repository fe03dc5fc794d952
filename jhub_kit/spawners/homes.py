"""Homes as a Spawner mixin: the ``home_provisioner`` option, and the home made
before each start (a size from the quota's ``disk_limit``).

Shared by :class:`~jhub_kit.QuotaDockerSpawner` and
:class:`~jhub_kit.QuotaSwarmSpawner`; the spawner mounts :attr:`HomesMixin.home_mount`
at :meth:`HomesMixin.home_mount_target`. The provisioner runs in the hub's process,
where ``base_dir`` lives (on a swarm: a share mounted at the same path on every node).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jupyterhub.spawner import SpawnException
from traitlets import Instance, Unicode, Union

from ..provision import HomeMount, HomeProvisioner, ProvisionError, make_provisioner
from ..provision.dockervolume import DockerVolumeProvisioner
from ..quota.policy import Quota, approx_size

if TYPE_CHECKING:
    from jupyterhub.spawner import Spawner as _Base
else:
    # JupyterHub refuses Spawner subclasses that do not define start/stop/poll
    from traitlets.config import LoggingConfigurable as _Base

_PROVISIONERS: dict[tuple[str, int], tuple[Any, HomeProvisioner]] = {}


class HomesMixin(_Base):
    """Each user's home, made by a provisioner before their server starts."""

    quota: Quota | None
    client: Any
    image: str

    if TYPE_CHECKING:  # from StartQueueMixin, later in the spawner's bases

        def _emit(self, progress: int, message: str) -> None: ...

    home_provisioner = Union(
        [Unicode(), Instance(HomeProvisioner)],
        allow_none=True,
        default_value=None,
        help="""Makes each user's home before their container is created.

        A name (``"directory"``, ``"loopfile"``, ``"btrfs"``, ``"lvm"``,
        ``"docker-volume"``), a ``module:Class`` path, or an instance. The home is
        mounted at :attr:`home_target`; its size comes from the quota's
        ``disk_limit``. Configure the backend through its own class, e.g.
        ``c.LoopfileProvisioner.base_dir = "/srv/jupyterhub/homes"``.
        Example: ``c.QuotaDockerSpawner.home_provisioner = "loopfile"``.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    home_target = Unicode(
        "",
        help="""Where the home is mounted in the container. Default: ``notebook_dir``,
        or ``/home/jovyan``. Example: ``"/home/jovyan/work"``.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    def provisioner(self) -> HomeProvisioner | None:
        """The configured provisioner, shared by every user's spawner (one lock per user)."""
        hp = self.home_provisioner
        if hp is None or isinstance(hp, HomeProvisioner):
            return hp
        key = (hp, id(self.config))  # one per hub config (tests run several hubs)
        if key not in _PROVISIONERS:
            prov = make_provisioner(hp, config=self.config, log=self.log, docker_client=self.client)
            assert prov is not None
            _PROVISIONERS[key] = (self.config, prov)  # the config is kept: its id stays unique
        return _PROVISIONERS[key][1]

    home_mount: HomeMount | None = None
    """The home mounted into the current (or last) container."""

    async def _provision_home(self) -> None:
        prov = self.provisioner()
        if prov is None:
            return
        assert self.quota is not None
        self._emit(30, "Preparing your home directory")
        if isinstance(prov, DockerVolumeProvisioner):
            prov.server_image = self.image  # the image at hand to set a new volume's owner
        try:
            self.home_mount = await prov.provision(self.user.name, self.quota)
        except ProvisionError as e:
            self.log.error("Home of %s not provisioned: %s", self.user.name, e)
            raise SpawnException(
                e.user_message,
                reason="home",
                status_code=500,
                log_message=f"Home of {self.user.name} not provisioned: {e}",
            ) from None
        usage = await prov.usage(self.user.name)
        size = approx_size(usage.limit) if usage and usage.limit else "no size limit"
        self._emit(40, f"Home ready ({size})")

    def home_mount_target(self) -> str:
        """Where the home is mounted in the server."""
        return self.home_target or self.notebook_dir or "/home/jovyan"
