"""The spawner's options for the network: the secure container defaults (and the
host-config keywords they give one server), isolation on a bridge network, and
the Hub API's address for containers.

:class:`HardeningMixin` is on every kit spawner; :class:`NetworkMixin`'s options
(QuotaDockerSpawner's) are traits only, and a start uses them through
:class:`jhub_kit.network.part.NetworkPart`. The decisions are pure functions of
:mod:`.hardening`, :mod:`.firewall` and :mod:`.hub_address`.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from traitlets import Bool, List, Unicode, Union

from . import hardening

if TYPE_CHECKING:
    from dockerspawner import DockerSpawner as _Base
else:
    from traitlets.config import LoggingConfigurable as _Base


class HardeningMixin(_Base):
    """The secure container defaults (:mod:`.hardening`), for any kit spawner: the
    traits, and the host-config keywords they give for one server."""

    no_new_privileges = Bool(
        True,
        help="""Start servers with ``no-new-privileges``: a setuid binary (sudo, a
        planted copy of a shell) does not make its caller root. Turn off only for
        images whose users must ``sudo``. Example: ``False``.

        .. versionadded:: 0.2
        """,
    ).tag(config=True)

    cap_drop = List(
        Unicode(),
        default_value=["ALL"],
        help="""Linux capabilities removed from every server (Docker keeps 14 by
        default: NET_RAW, MKNOD, SETFCAP...). Example: ``[]`` for Docker's defaults.

        .. versionadded:: 0.2
        """,
    ).tag(config=True)

    cap_add = Union(
        [List(Unicode()), Unicode()],
        default_value="auto",
        help="""Capabilities given back after :attr:`cap_drop`. ``"auto"``: none for
        an image that starts as a user (uid 1000), and CHOWN, DAC_OVERRIDE, FOWNER,
        SETUID, SETGID for one that starts as root and switches user (the Jupyter
        Docker Stacks with ``extra_create_kwargs = {"user": "root"}``).
        Example: ``["CHOWN", "SETUID", "SETGID"]``.

        .. versionadded:: 0.2
        """,
    ).tag(config=True)

    async def _create_user(self) -> str | None:
        """The ``user`` the server is created with, if the config sets one."""
        kwargs = self._eval_if_callable(self.extra_create_kwargs)
        if inspect.isawaitable(kwargs):
            kwargs = await kwargs
        if isinstance(kwargs, dict) and "user" in kwargs:
            return str(kwargs["user"])
        return None

    async def starts_as_root(self, create_user: str | None = None) -> bool:
        """Whether the server starts as root: its create kwargs' ``user``, else the
        image's ``User``."""
        if create_user is None:
            create_user = await self._create_user()
        if create_user is not None:
            return hardening.starts_as_root(create_user)
        return hardening.starts_as_root((await self.image_config()).get("User"))

    async def image_config(self) -> dict[str, Any]:
        """The image's ``Config`` (its ``Cmd``, ``User``, ...), asked of the engine once
        per start: a description reads it twice and a pooled start describes the server
        three times. :meth:`forget_image` (called as each start begins) drops it, so an
        image rebuilt under the same tag is seen at the next start."""
        cache: dict[str, dict[str, Any]] = self.__dict__.setdefault("_kit_image_config", {})
        image = str(self.image)
        if image not in cache:
            inspected = await self.docker("inspect_image", image)
            cache[image] = dict(inspected.get("Config") or {})
        return cache[image]

    def forget_image(self) -> None:
        """Forget what :meth:`image_config` read (the next call asks the engine)."""
        self.__dict__.pop("_kit_image_config", None)

    async def pull_image(self, image: str) -> None:
        """DockerSpawner's pull; a pulled image may have another ``Cmd`` or ``User``."""
        await super().pull_image(image)
        self.forget_image()

    async def security_host_config(self, create_user: str | None = None) -> dict[str, Any]:
        """The secure defaults as host-config keywords (:mod:`.hardening`)."""
        cap_add = None if self.cap_add == "auto" else list(self.cap_add)
        return hardening.host_config_security(
            no_new_privileges=self.no_new_privileges,
            cap_drop=self.cap_drop,
            cap_add=cap_add,
            root_start=await self.starts_as_root(create_user) if cap_add is None else False,
        )


class NetworkMixin(HardeningMixin):
    """The servers' network options (traits only): isolation on a bridge network and
    the Hub's address for containers. What a start does with them is
    :class:`jhub_kit.network.part.NetworkPart`."""

    network_isolation = Bool(
        True,
        help="""On a bridge network, let servers open connections only to the Hub API
        and the internet: not to each other, not to the host's other services, not to
        the cloud metadata address or private ranges (see :mod:`jhub_kit.network.firewall`).

        Set up with iptables at the first spawn on a network, where the hub runs as
        root on the Docker host; elsewhere a warning says so and ``jhub-kit doctor``
        prints the rules to add. Example: ``False`` to manage the firewall yourself.

        .. versionadded:: 0.2
        """,
    ).tag(config=True)

    network_isolation_allow = List(
        Unicode(),
        help="""Addresses (CIDR) in private ranges that servers may still reach, e.g. a
        campus package mirror or database. Example: ``["10.20.0.5/32"]``.

        .. versionadded:: 0.2
        """,
    ).tag(config=True)

    hub_connect_auto = Bool(
        True,
        help="""Work out how containers reach the Hub API when nothing says so.

        On a bridge network, with ``JupyterHub.hub_connect_ip`` and
        ``Spawner.hub_connect_url`` unset and the Hub on this host listening on all
        interfaces, containers are pointed at the network's gateway address. If the
        Hub listens only on 127.0.0.1, which containers cannot reach, the spawn fails
        with a message saying what to set. Set to False to keep JupyterHub's default.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)
