"""Profiles for a kit spawner: the spawn page's choice of server, each profile with its
image, quota and trait overrides, bounded by the user's groups' ceiling.

The choice is applied as the start begins (before ``pre_spawn_hook``, which sees it):
an unknown profile, one not open to the user's groups or over their ceiling is
refused with HTTP 400 in words, and nothing starts. The pure part (parsing,
choosing, the ceiling) is :mod:`jhub_kit.quota.profiles`.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from traitlets import Dict, List, TraitError, default, validate

from .. import metrics, offloop
from ..compat import SpawnException, admin_must_fix
from ..quota.policy import Partial, QuotaError, parse_partial
from ..quota.profiles import (
    Profile,
    ProfileRefused,
    choose,
    merge_profiles,
    parse_profiles,
    user_ceiling,
    visible,
)
from ..quota.user_options import KIT_KEYS

if TYPE_CHECKING:
    from jupyterhub.spawner import Spawner as _Base

    from ..quota.policy import QuotaPolicy
else:
    from traitlets.config import LoggingConfigurable as _Base


class ProfileMixin(_Base):
    """``profile_list``, the per-group ceiling, the spawn page's form and the choice."""

    profile_list: List[Any] = List(
        help="""Kinds of server a user may pick on the spawn page (or with
        ``{"profile": slug}`` in the REST API's ``user_options``).

        KubeSpawner's keys where they mean the same: ``display_name`` (required),
        ``description``, ``slug`` (made from the display name if left out) and
        ``default``. Beside them: ``image``, any quota key (``mem_limit``,
        ``cpu_limit``, ``pids_limit``, ``disk_limit``, ``swap_limit``, the
        guarantees), ``allowed_groups`` (only their members see and may pick it;
        empty: everyone) and ``spawner_override`` (other traits of the spawner,
        e.g. ``cmd`` or ``extra_host_config``; a dict such as ``environment`` is
        merged over the configured one, key by key, other values replace it). A
        profile's quota keys win over the defaults, groups and users, and are
        bounded by :attr:`quota_ceiling_groups`. ``pool_size``: warm servers of
        this profile the pool keeps ready (a profile with its own image needs its
        own; a ``pool_schedule`` entry may name the profile too).
        The live :attr:`quota_policy_file` may hold ``profiles`` too: they replace
        the entries with the same slug and add the rest. Example::

            c.QuotaDockerSpawner.profile_list = [
                {"display_name": "Python", "slug": "python", "default": True,
                 "mem_limit": "1G", "cpu_limit": 1},
                {"display_name": "R", "image": "quay.io/jupyter/r-notebook",
                 "mem_limit": "2G", "pool_size": 5},
                {"display_name": "Project (8G)", "slug": "project",
                 "mem_limit": "8G", "cpu_limit": 2, "allowed_groups": ["teachers"]},
            ]

        .. versionadded:: 0.4
        """,
    ).tag(config=True)

    quota_ceiling = Dict(
        help="""The most a profile may give a user whose groups have no entry in
        :attr:`quota_ceiling_groups` (quota keys). A profile above it is hidden
        from the user and refused when asked for. Example:
        ``c.QuotaDockerSpawner.quota_ceiling = {"mem_limit": "2G", "cpu_limit": 1}``.

        .. versionadded:: 0.4
        """,
    ).tag(config=True)

    quota_ceiling_groups = Dict(
        help="""Per group: the most a profile may give its members (quota keys). A
        user in several groups gets the most generous; a group's entry replaces
        :attr:`quota_ceiling` key by key. Example::

            c.QuotaDockerSpawner.quota_ceiling_groups = {
                "students": {"mem_limit": "2G"},
                "teachers": {"mem_limit": "8G", "cpu_limit": 4},
            }

        .. versionadded:: 0.4
        """,
    ).tag(config=True)

    profile: Profile | None = None
    """The profile of the current (or last) server started by this hub process."""

    @validate("profile_list")
    def _valid_profiles(self, proposal: Any) -> Any:
        where = f"{type(self).__name__}.profile_list"
        try:
            profiles = parse_profiles(proposal.value, where=where)
        except QuotaError as e:
            raise TraitError(str(e)) from None
        self._check_overrides(profiles, where)
        return proposal.value

    def _check_overrides(self, profiles: list[Profile], where: str) -> None:
        for p in profiles:
            unknown = [k for k in p.spawner_override if not self.has_trait(k)]
            if unknown:
                raise TraitError(
                    f"{where} ({p.slug}): spawner_override names {', '.join(unknown)}, "
                    f"which {type(self).__name__} has no trait of"
                )

    @validate("quota_ceiling", "quota_ceiling_groups")
    def _valid_ceiling(self, proposal: Any) -> Any:
        name = f"{type(self).__name__}.{proposal.trait.name}"
        try:
            if proposal.trait.name == "quota_ceiling":
                parse_partial(proposal.value, where=name)
            else:
                for group, entry in proposal.value.items():
                    parse_partial(entry, where=f"{name}[{group!r}]")
        except QuotaError as e:
            raise TraitError(str(e)) from None
        return proposal.value

    # -- the profiles and the ceiling ---------------------------------------------

    async def _file_policy(self) -> QuotaPolicy | None:
        """The policy file's policy: from its cache, or parsed off the event loop."""
        pf = self.policy_file()
        if pf is None:
            return None
        try:
            found: QuotaPolicy | None = pf.cached() or await offloop.run_io(pf.load)
        except QuotaError as e:
            self.log.error("The quota policy file's profiles are not read: %s", e)
            return None
        return found

    async def load_profiles(self) -> list[Profile]:
        """:meth:`profiles`, with the policy file read off the event loop."""
        return self.profiles(await self._file_policy())

    def profiles(self, policy: QuotaPolicy | None = None) -> list[Profile]:
        """``profile_list``, with ``policy``'s profiles (the policy file's) over it."""
        where = f"{type(self).__name__}.profile_list"
        mine = parse_profiles(self.profile_list, where=where)
        if policy is not None and policy.profiles is not None:
            self._check_overrides(policy.profiles, f"{self.quota_policy_file} profiles")
            mine = merge_profiles(mine, policy.profiles)
        return mine

    def ceiling(self) -> Partial:
        """The most a profile may give this user (quota keys; missing: no bound)."""
        name = type(self).__name__
        default = parse_partial(self.quota_ceiling, where=f"{name}.quota_ceiling")
        groups = {
            str(g): parse_partial(v, where=f"{name}.quota_ceiling_groups[{g!r}]")
            for g, v in self.quota_ceiling_groups.items()
        }
        return user_ceiling(default, groups, self.user_groups())

    def profile_layer(self) -> Partial:
        """The chosen profile's quota keys: the highest layer of the user's quota."""
        return dict(self.profile.quota) if self.profile is not None else {}

    def request_ceiling(self) -> Partial:
        """The profile ceiling bounds what a student asks for in ``user_options`` too."""
        return self.ceiling()

    # -- the spawn page -------------------------------------------------------------

    @default("options_form")
    def _kit_options_form(self) -> Any:
        fallback = super()._default_options_form()
        if not self.profile_list and not self.quota_policy_file:
            return fallback  # no profiles can appear: DockerSpawner's own form, if any

        async def form(spawner: Any) -> str:
            return str(await spawner.profile_form() or fallback)

        return form

    async def profile_form(self) -> str:
        """The spawn page's choice of the profiles this user may pick ("" if none)."""
        try:
            profiles = await self.load_profiles()
        except (QuotaError, TraitError) as e:
            self.log.error("Profiles are misconfigured, no choice shown: %s", e)
            return ""
        if not profiles:
            return ""
        mine = visible(profiles, self.user_groups(), self.ceiling())
        if not mine:
            return (
                '<p class="alert alert-warning">No server profile is open to you; ask your '
                "teacher or administrator.</p>"
            )
        chosen = (self.user_options or {}).get("profile")
        if chosen not in {p.slug for p in mine}:
            chosen = next((p.slug for p in mine if p.default), mine[0].slug)
        rows = []
        esc = html.escape
        for p in mine:
            checked = " checked" if p.slug == chosen else ""
            limits = p.limits_text()
            rows.append(
                f'<label class="jhub-kit-profile" data-profile="{esc(p.slug)}" '
                'style="display:block;margin:0.5em 0">'
                f'<input type="radio" name="profile" value="{esc(p.slug)}"{checked}> '
                f"<strong>{esc(p.display_name)}</strong>"
                + (f' <span class="jhub-kit-limits">({esc(limits)})</span>' if limits else "")
                + (f"<br><small>{esc(p.description)}</small>" if p.description else "")
                + "</label>"
            )
        return (
            '<fieldset id="jhub-kit-profiles"><legend>Server</legend>'
            + "".join(rows)
            + "</fieldset>"
        )

    @default("apply_user_options")
    def _kit_apply_user_options(self) -> Any:
        """JupyterHub (5.3+) warns of user_options no hook applies; ``profile`` is the
        kit's (applied before the pre-spawn hook), ``image`` DockerSpawner's
        (``allowed_images``) and the quota keys the kit's (bounded as the quota
        resolves, :mod:`jhub_kit.quota.user_options`): only other keys are warned
        of, as JupyterHub would."""
        handled = {"profile", "image", *KIT_KEYS}

        def apply(spawner: Any, user_options: dict[str, Any]) -> None:
            rest = [k for k in user_options or {} if k not in handled]
            if rest:
                spawner.log.warning(
                    "Received unhandled user_options for %s: %s",
                    spawner._log_name,
                    ", ".join(map(str, rest)),
                )

        return apply

    @default("options_from_form")
    def _kit_options_from_form(self) -> Any:
        fallback = super()._default_options_from_form()

        def options_from_form(formdata: dict[str, list[str]]) -> dict[str, Any]:
            if "profile" in formdata:
                return {"profile": formdata["profile"][0]}
            return dict(fallback(formdata))

        return options_from_form

    # -- applying the choice -----------------------------------------------------------

    def _restore_overrides(self) -> None:
        """Undo the last profile's image and overrides (before this start's own group
        overrides and ``apply_user_options``: JupyterHub clears the state first)."""
        saved: dict[str, Any] = self.__dict__.pop("_kit_profile_saved", {})
        for key, value in saved.items():
            setattr(self, key, value)

    def clear_state(self) -> None:
        super().clear_state()
        self._restore_overrides()

    async def apply_profile(self) -> None:
        """Choose this start's profile from ``user_options`` and set its image and
        overrides (those of the previous profile are undone first). HTTP 400 in words
        when the user may not have it."""
        self._restore_overrides()
        self.profile = None
        self.record_profile(None)
        try:
            profiles = await self.load_profiles()
        except (QuotaError, TraitError) as e:
            admin_must_fix(
                self.log,
                "The server profiles are misconfigured; an administrator must fix them.",
                str(e),
                reason="profiles",
            )
        if not profiles:
            return
        options = self.user_options or {}
        try:
            if options.get("image"):
                raise ProfileRefused(
                    "This hub offers server profiles, not images: ask for "
                    '{"profile": "<slug>"} (the spawn page lists yours).'
                )
            chosen = choose(profiles, options, self.user_groups(), self.ceiling())
        except ProfileRefused as e:
            self.log.warning("Profile refused for %s: %s", self.user.name, e)
            metrics.count_refusal("profile")
            raise SpawnException(str(e), reason="profile", status_code=400) from None
        if chosen is None:
            return
        self.set_profile(chosen)
        self.log.info("Profile of %s: %s", self.user.name, chosen.slug)

    def set_profile(self, chosen: Profile) -> None:
        """Set ``chosen``'s image and overrides on this spawner (undone at the next
        start), and remember it as this start's profile. No check of who may have
        it: :meth:`apply_profile` has done that (the pool's stand-in needs none)."""
        changes = dict(chosen.spawner_override)
        if chosen.image:
            changes["image"] = chosen.image
        saved: dict[str, Any] = {}
        self.__dict__["_kit_profile_saved"] = saved  # filled as it goes: undone whole
        for key, value in changes.items():
            current = getattr(self, key)
            if isinstance(current, dict) and isinstance(value, dict):
                value = {**current, **value}  # a dict is added to, never emptied
            try:
                setattr(self, key, value)
            except TraitError as e:
                self._restore_overrides()
                admin_must_fix(
                    self.log,
                    "The server profiles are misconfigured; an administrator must fix them.",
                    f"profile {chosen.slug}: spawner_override {key}: {e}",
                    reason="profiles",
                )
            saved[key] = current
        self.profile = chosen
        self.record_profile({"slug": chosen.slug, "name": chosen.display_name})
