"""Quota configuration for any Spawner: the traits and their resolution.

A Spawner mixin, free of Docker, so the same configuration can later drive
other spawners (Docker Swarm services, KubeSpawner): put it first in the bases, e.g.
``class QuotaDockerSpawner(QuotaConfigMixin, DockerSpawner)``. The quota is
resolved at every spawn by :meth:`QuotaConfigMixin.resolve_quota`.
"""

from __future__ import annotations

import inspect
import os
from typing import TYPE_CHECKING, Any

from jupyterhub.traitlets import ByteSpecification
from jupyterhub.utils import maybe_future
from traitlets import Callable as CallableTrait
from traitlets import Dict, Float, Int, Unicode, Union, default, validate

from .. import metrics, offloop, registry
from ..compat import SpawnException, admin_must_fix
from .policy import (
    HUB_ACTIVITY_INTERVAL,
    MIN_ACTIVITY_INTERVAL,
    PLACEMENT,
    RESOURCES,
    Partial,
    Quota,
    QuotaError,
    QuotaPolicy,
    activity_interval,
    parse_partial,
)
from .policy_file import PolicyFile
from .user_options import RequestRefused, bound_requests, requested

if TYPE_CHECKING:
    from jupyterhub.spawner import Spawner as _Base
else:
    # JupyterHub refuses Spawner subclasses that do not define start/stop/poll
    from traitlets.config import LoggingConfigurable as _Base


def _resource_trait(inner: Any, help: str) -> Any:
    """A quota default: a value, or a callable(spawner) resolved at spawn time."""
    return Union([CallableTrait(), inner], allow_none=True, default_value=None, help=help).tag(
        config=True
    )


def _shared_policy_file(path: str) -> PolicyFile:
    """One cache per path, shared by every user's spawner."""
    found: PolicyFile = registry.shared("policy-file", None, lambda: PolicyFile(path), path)
    return found


class QuotaConfigMixin(_Base):
    """Quota traits (defaults, groups, users, policy file) and their resolution."""

    # -- quota defaults ------------------------------------------------------

    mem_limit = _resource_trait(
        ByteSpecification(),
        """Default memory limit of a server, in bytes or with a unit (``"2G"``).

        May be a callable ``f(spawner)`` (sync or async), evaluated at every spawn,
        unlike DockerSpawner, which evaluates it once. Groups and users may
        override it (see :attr:`quota_groups`). Example: ``c.QuotaDockerSpawner.mem_limit = "2G"``.
        """,
    )
    cpu_limit = _resource_trait(
        Float(),
        """Default CPU limit of a server, in cores (``1.5``); a hard CFS ceiling.

        May be a callable ``f(spawner)``, evaluated at every spawn.
        Example: ``c.QuotaDockerSpawner.cpu_limit = 1``.
        """,
    )
    mem_guarantee = _resource_trait(
        ByteSpecification(),
        """Default memory guarantee: Docker's soft limit (``mem_reservation``).

        Example: ``c.QuotaDockerSpawner.mem_guarantee = "512M"``.
        """,
    )
    cpu_guarantee = _resource_trait(
        Float(),
        """Default CPU guarantee in cores, applied as relative ``cpu_shares``
        (1024 per core) that count when the host's CPUs are contended.

        Example: ``c.QuotaDockerSpawner.cpu_guarantee = 0.5``.
        """,
    )
    swap_limit = _resource_trait(
        ByteSpecification(),
        """Swap a server may use *in addition to* its memory limit.

        Defaults to 0: no swap, so a server that exceeds its memory is stopped
        instead of slowing the whole host down. ``"unlimited"`` is not accepted
        here; set ``quota_groups``/``quota_users`` entries to ``"unlimited"`` instead.
        Example: ``c.QuotaDockerSpawner.swap_limit = "512M"``.

        .. versionadded:: 0.1
        """,
    )
    pids_limit = _resource_trait(
        Int(),
        """Most processes and threads a server may run (stops fork bombs).

        Example: ``c.QuotaDockerSpawner.pids_limit = 256``.

        .. versionadded:: 0.1
        """,
    )
    disk_limit = _resource_trait(
        ByteSpecification(),
        """Default size of a user's home, enforced by the home provisioner.

        Example: ``c.QuotaDockerSpawner.disk_limit = "5G"``.

        .. versionadded:: 0.1
        """,
    )

    idle_timeout = _resource_trait(
        Union([Int(), Unicode()]),
        """How long a server may go without activity before the idle culler stops it:
        seconds, or ``"30m"``, ``"8h"``, ``"1d"``; ``"unlimited"`` or 0: never. None
        (the default): the culler's own timeout (``c.JhubKit.idle_timeout``, 1 h).

        Usually set per group or profile, where it gives each class its own rule
        (the most generous of a user's groups wins, as for every quota key)::

            c.QuotaDockerSpawner.quota_groups = {
                "exam": {"idle_timeout": "15m", "max_age": "3h"},
                "research": {"idle_timeout": "8h"},
            }

        Kept with the running server's quota; the bundle's culler
        (``jhub_kit.idle``) reads it. Students cannot set it.

        .. versionadded:: 0.5
        """,
    )
    max_age = _resource_trait(
        Union([Int(), Unicode()]),
        """How long after its start a server is stopped by the idle culler, active or
        not: seconds, or ``"8h"``; ``"unlimited"``, 0 or None (the default): never.
        Example: ``c.QuotaDockerSpawner.max_age = "12h"`` (a class day).

        .. versionadded:: 0.5
        """,
    )

    activity_interval = Int(
        HUB_ACTIVITY_INTERVAL,
        min=MIN_ACTIVITY_INTERVAL,
        config=True,
        help="""How often, in seconds, a server tells the hub of its last activity
        (JupyterHub's ``JUPYTERHUB_ACTIVITY_INTERVAL``, 300 s by default). The idle
        culler judges a server by what the hub last heard, so a server with a short
        ``idle_timeout`` reports more often on its own: every quarter of its rule
        (at least every 10 s), never less often than this. An
        ``environment`` entry ``JUPYTERHUB_ACTIVITY_INTERVAL`` of the admin's wins.
        The bundle lowers this to a quarter of ``c.JhubKit.idle_timeout`` when that
        is under 20 minutes. Example: ``c.QuotaDockerSpawner.activity_interval = 60``.

        .. versionadded:: 0.5
        """,
    )

    max_servers = _resource_trait(
        Int(),
        """The most servers a user may run at once, counting named servers (and the
        ones starting; starts that arrive together are admitted one after the other,
        so exactly this many get in). A start beyond it is refused in words (HTTP
        400). Usually set
        per group. Example: ``c.QuotaDockerSpawner.quota_groups = {"students":
        {"max_servers": 2}}``.

        .. versionadded:: 0.4
        """,
    )
    mem_budget = _resource_trait(
        ByteSpecification(),
        """The most memory a user's running servers may have together (the sum of
        their ``mem_limit``). A start that would exceed it is refused in words.
        Example: ``c.QuotaDockerSpawner.mem_budget = "4G"``.

        .. versionadded:: 0.4
        """,
    )
    cpu_budget = _resource_trait(
        Float(),
        """The most CPU a user's running servers may have together (the sum of their
        ``cpu_limit``). Example: ``c.QuotaDockerSpawner.cpu_budget = 2``.

        .. versionadded:: 0.4
        """,
    )

    node_labels = Dict(
        help="""Default node labels a server must be placed on (a swarm's nodes).

        Only :class:`~jhub_kit.QuotaSwarmSpawner` places servers; on one host
        (QuotaDockerSpawner) they are ignored and ``jhub-kit config check`` says so.
        Usually set per group, so one group runs on its own machines::

            c.QuotaSwarmSpawner.quota_groups = {"gpu": {"node_labels": {"gpu": "yes"}}}

        after ``docker node update --label-add gpu=yes NODE``. A user in several
        groups must match all their labels; a user's own entry replaces them.

        .. versionadded:: 0.2
        """,
    ).tag(config=True)

    @default("swap_limit")
    def _swap_default(self) -> int:
        return 0

    # DockerSpawner evaluates a callable limit once, when it is set, and the trait
    # reads as its value. The kit keeps that contract (the trait reads as a value:
    # hooks, templates and extensions read a number) and also keeps the callable,
    # to call it again at every spawn (:meth:`configured_defaults`); an async
    # callable reads as None until a spawn resolves it. After a spawn each trait
    # reads as the quota the server got. DockerSpawner's own validators (these two
    # names) are replaced by :meth:`_kit_limit_value`.
    _mem_limit_str = None
    _cast_cpu_limit = None

    _kit_resolving = False

    @validate(*RESOURCES)
    def _kit_limit_value(self, proposal: Any) -> Any:
        name, value = proposal.trait.name, proposal.value
        if self._kit_resolving:  # the kit shows the resolved quota: not configuration
            return value
        # anything else that sets the trait changes this spawner's default (layer 1 of
        # resolve_quota): the config, then group_overrides, apply_user_options and
        # pre_spawn_hook, which JupyterHub runs on this spawner (new at each start)
        self.__dict__.setdefault("_kit_configured", {})[name] = value
        if not callable(value):
            return value
        result = value(self)
        if inspect.isawaitable(result):
            if hasattr(result, "close"):
                result.close()  # resolved at spawn, not now: never awaited, on purpose
            return None
        return result

    def configured_defaults(self) -> dict[str, Any]:
        """Each resource's default as configured: a value or a callable (not called)."""
        configured = self.__dict__.get("_kit_configured", {})
        return {key: configured.get(key, getattr(self, key)) for key in RESOURCES}

    def show_quota(self, quota: Quota) -> None:
        """Make each resource trait read as ``quota``'s value (after a spawn resolved it)."""
        self._kit_resolving = True
        try:
            for key in RESOURCES:
                if key in PLACEMENT:
                    continue
                setattr(self, key, getattr(quota, key))
        finally:
            self._kit_resolving = False

    # -- groups and users ----------------------------------------------------

    quota_groups = Dict(
        help="""Quota overrides per JupyterHub group.

        Maps a group name to resources (the keys are ``mem_limit``, ``swap_limit``,
        ``cpu_limit``, ``pids_limit``, ``disk_limit``, ``mem_guarantee``,
        ``cpu_guarantee``, and on a swarm ``node_labels``). A user in several
        groups gets the most generous value of each resource among them;
        ``"unlimited"`` beats any number.
        Example::

            c.QuotaDockerSpawner.quota_groups = {
                "teachers": {"mem_limit": "4G", "cpu_limit": 2},
                "guests": {"mem_limit": "512M"},
            }

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    quota_users = Dict(
        help="""Quota overrides per user; they win over defaults and groups.

        Example: ``c.QuotaDockerSpawner.quota_users = {"alice": {"disk_limit": "20G"}}``.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    quota_policy_file = Unicode(
        "",
        help="""A TOML or YAML file with ``defaults``, ``groups`` and ``users`` sections.

        Its entries win over the traits above, key by key. The file is re-read when
        it changes, so limits can be changed without restarting the hub; a broken
        edit keeps the previous policy and logs the error. Example:
        ``c.QuotaDockerSpawner.quota_policy_file = "/srv/jupyterhub/quotas.toml"``.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    teacher_policy_file = Unicode(
        "",
        help="""The file the teachers' changes from the class dashboard are written to
        (the format of :attr:`quota_policy_file`); its entries win over that file's,
        key by key, and it is re-read when it changes. It is the kit's to write: the
        admin's own policy file keeps its owner, its comments and its mode, and a
        term's changes are one file to read or remove. A missing file is no change.
        The bundle sets it to ``<data_dir>/teachers/policy.toml`` when teachers are
        declared (``c.JhubKit.teachers`` or ``c.Courses.courses``); "" (the default
        otherwise): teachers' changes go to :attr:`quota_policy_file`. Example:
        ``c.QuotaDockerSpawner.teacher_policy_file = "/srv/jupyterhub/teachers/policy.toml"``.

        .. versionadded:: 0.5
        """,
    ).tag(config=True)

    @validate("quota_groups", "quota_users")
    def _validate_quota_entries(self, proposal: Any) -> Any:
        name = proposal.trait.name
        kind = name.split("_", 1)[1]
        # raises QuotaError naming the option, the key and an example
        QuotaPolicy.from_config(**{kind: proposal.value}, where=f"{type(self).__name__}.{name}")
        return proposal.value

    # -- quota resolution ----------------------------------------------------

    def policy_file(self) -> PolicyFile | None:
        path = self.quota_policy_file
        return _shared_policy_file(path) if path else None

    def teacher_file(self) -> PolicyFile | None:
        """The teachers' policy file, if it is set and exists (one stat)."""
        path = self.teacher_policy_file
        return _shared_policy_file(path) if path and os.path.exists(path) else None

    def _called_defaults(self) -> dict[str, Any]:
        """Each resource trait's value; a callable is called with the spawner (its
        result may be awaitable)."""
        raw: dict[str, Any] = {}
        for key, value in self.configured_defaults().items():
            raw[key] = value(self) if callable(value) else value
        return raw

    def _policy(
        self,
        raw_defaults: dict[str, Any],
        file_policy: QuotaPolicy | None,
        teacher_policy: QuotaPolicy | None = None,
    ) -> QuotaPolicy:
        """The config's groups and users over ``raw_defaults``, the policy file over
        both, the teachers' file over all."""
        cls_name = type(self).__name__
        policy = QuotaPolicy.from_config(None, self.quota_groups, self.quota_users, where=cls_name)
        policy.defaults = parse_partial(raw_defaults, where=f"{cls_name} defaults")
        for layer in (file_policy, teacher_policy):
            if layer is not None:
                policy = policy.overlay(layer)
        return policy

    def budget_configured(self) -> bool:
        """Whether any budget key (``max_servers``, ``mem_budget``, ``cpu_budget``) is
        set: as a default, for a group or user, or possibly in the policy file."""
        keys = ("max_servers", "mem_budget", "cpu_budget")
        if any(getattr(self, k, None) is not None for k in keys):
            return True
        entries = [*self.quota_groups.values(), *self.quota_users.values()]
        return bool(self.quota_policy_file) or any(k in e for e in entries for k in keys)

    async def resolve_quota_for_spawn(self) -> Quota:
        """:meth:`resolve_quota`, for a start: a quota that does not resolve fails the
        spawn (the student reads that an administrator must fix it; the log says why)."""
        try:
            return await self.resolve_quota()
        except QuotaError as e:
            metrics.count_refusal("quota")
            admin_must_fix(
                self.log,
                "Your resource quota is misconfigured; an administrator must fix it.",
                f"Quota for {self.user.name} is invalid: {e}",
                reason="quota",
            )

    def resolve_quota_now(self) -> Quota | None:
        """The quota :meth:`resolve_quota` would give, without waiting: for a page
        that shows it. An async callable default counts as unset; None on any error."""
        raw = self._called_defaults()
        for key, value in raw.items():
            if inspect.isawaitable(value):
                if hasattr(value, "close"):
                    value.close()  # never awaited, on purpose: no warning
                raw[key] = None
        try:
            pf, tf = self.policy_file(), self.teacher_file()
            teachers = None if tf is None else tf.cached() or tf.load()
            policy = self._policy(raw, None if pf is None else pf.cached() or pf.load(), teachers)
            return policy.resolve(self.user.name, self.user_groups(), extra=self.profile_layer())
        except Exception:  # QuotaError, a policy file that does not load: shown as unknown
            return None

    def user_groups(self) -> list[str]:
        """Names of the JupyterHub groups the user is in."""
        groups = getattr(self.user, "groups", None) or []
        return sorted(g if isinstance(g, str) else g.name for g in groups)

    async def resolve_quota(self) -> Quota:
        """Resolve this user's quota now. Each layer wins over the ones before it,
        key by key (docs/reference/quotas.md, "With JupyterHub's group_overrides"):

        1. the resource traits as they read now: the configuration, changed by what
           JupyterHub ran on this spawner before ``start``, in its order and the last
           one winning: ``group_overrides`` (JupyterHub >= 5.1), ``apply_user_options``,
           ``pre_spawn_hook`` (each sets the trait; :meth:`_kit_limit_value` keeps it);
        2. the policy file's ``defaults``;
        3. ``quota_groups`` with the file's ``groups`` (the most generous among the
           user's groups), so a ``quota_groups`` entry wins over a group override;
        4. ``quota_users`` with the file's ``users``;
        5. the chosen profile's keys; then ``user_options`` may only lower a limit.
        """
        raw = {key: await maybe_future(v) for key, v in self._called_defaults().items()}
        pf = self.policy_file()
        file_policy = None
        if pf is not None:
            # parse off the event loop, and only when the file changed
            file_policy = pf.cached()
            if file_policy is None:
                file_policy = await offloop.run_io(pf.load)
        tf = await offloop.run_io(self.teacher_file)
        teachers = None if tf is None else tf.cached() or await offloop.run_io(tf.load)
        policy = self._policy(raw, file_policy, teachers)
        name, groups, profile = self.user.name, self.user_groups(), self.profile_layer()
        quota = policy.resolve(name, groups, extra=profile)
        if not requested(self.user_options):
            return quota
        lowered = self._user_option_limits(quota)
        try:
            return policy.resolve(name, groups, extra=profile, lower_only=lowered)
        except QuotaError as e:  # e.g. a memory limit asked below the guarantee
            self.log.warning("Resource request of %s refused: %s", self.user.name, e)
            metrics.count_refusal("user_options")
            raise SpawnException(
                f"Your resource request cannot be applied: {e}.",
                reason="user_options",
                status_code=400,
            ) from None

    def profile_layer(self) -> Partial:
        """The quota keys of the server's profile, above the user's own entry (none
        here; :class:`~jhub_kit.spawners.profiles.ProfileMixin` has profiles)."""
        return {}

    def request_ceiling(self) -> Partial:
        """The most a student's ``user_options`` may ask for, beside their quota (none
        here; :class:`~jhub_kit.spawners.profiles.ProfileMixin` has the profile ceiling)."""
        return {}

    def _user_option_limits(self, quota: Quota) -> Partial:
        """The limits a student asked for in ``user_options``: within ``quota`` (what
        the administrator gave them for this start) and the ceiling, or HTTP 400 in
        words naming the key, the value and the most allowed; never applied above it."""
        ceiling = self.request_ceiling()  # the admin's: a bad one is theirs to fix, not a 400
        try:
            return bound_requests(self.user_options, quota, ceiling)
        except QuotaError as e:
            self.log.warning("Resource request of %s refused: %s", self.user.name, e)
            metrics.count_refusal("user_options")
            message = str(e) if isinstance(e, RequestRefused) else f"Invalid resource request: {e}"
            raise SpawnException(message, reason="user_options", status_code=400) from None

    # -- environment ---------------------------------------------------------

    def get_env(self) -> dict[str, str]:
        env = super().get_env()
        for key in ("MEM_LIMIT", "MEM_GUARANTEE", "CPU_LIMIT", "CPU_GUARANTEE"):
            env.pop(key, None)
        q = self.quota
        if q is not None:
            # read by jupyter-resource-usage and friends: show the real limit
            if q.mem_limit:
                env["MEM_LIMIT"] = str(q.mem_limit)
            if q.mem_guarantee:
                env["MEM_GUARANTEE"] = str(q.mem_guarantee)
            if q.cpu_limit:
                env["CPU_LIMIT"] = f"{q.cpu_limit:g}"
            if q.cpu_guarantee:
                env["CPU_GUARANTEE"] = f"{q.cpu_guarantee:g}"
            if q.disk_limit:
                env["DISK_LIMIT"] = str(q.disk_limit)
        rule = q.idle_timeout if q is not None else None
        every = activity_interval(rule, self.activity_interval)
        # JupyterHub's own default is left unsaid; an admin's own variable wins
        if every != HUB_ACTIVITY_INTERVAL and "JUPYTERHUB_ACTIVITY_INTERVAL" not in env:
            env["JUPYTERHUB_ACTIVITY_INTERVAL"] = str(every)
        return env

    quota: Quota | None = None
    """The quota resolved for the current (or last) spawn."""
