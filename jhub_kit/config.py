"""The bundle a stock ``jupyterhub_config.py`` imports for a complete deployment::

    import jhub_kit
    c.JhubKit.authenticator = "github"        # native (default), github, pam, dummy
    jhub_kit.configure(c)
    c.QuotaDockerSpawner.mem_limit = "2G"     # anything, before or after the call

:func:`configure` only fills in what the config does not already set, looking
at every class a trait is inherited from: ``c.DockerSpawner.image = ...`` set
before the call is kept, and anything set after it wins as usual. The
environment variables of jupyterhub-deploy-docker (``DOCKER_NOTEBOOK_IMAGE``,
``DOCKER_NETWORK_NAME``, ``DOCKER_NOTEBOOK_DIR``) are honoured as fallbacks.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sys
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from traitlets import Bool, CaselessStrEnum, Dict, Int, List, Unicode, default, validate
from traitlets.config import Config, Configurable

from . import hubdb
from .deprecation import RenamedTraits
from .hub_start import follow_hub

if TYPE_CHECKING:
    from .quota.courses import Course

AUTHENTICATORS = {
    "native": "jhub_kit.auth.native.UserlistNativeAuthenticator",
    "github": "jhub_kit.auth.oauth.UserlistGitHubOAuthenticator",
    "generic-oauth": "jhub_kit.auth.oauth.UserlistGenericOAuthenticator",
    "pam": "jhub_kit.auth.authenticators.UserlistPAMAuthenticator",
    "shared-password": "jhub_kit.auth.authenticators.UserlistSharedPasswordAuthenticator",
    "dummy": "jhub_kit.auth.authenticators.UserlistDummyAuthenticator",
}

#: Least roles the idle culler needs on JupyterHub 6 (no admin).
IDLE_CULLER_SCOPES = [
    "list:users",
    "read:users:activity",
    "read:servers",
    "delete:servers",
    # each server's own idle rules, kept with its quota in its state (jhub_kit.idle)
    "admin:server_state",
]


#: what replaced the class dashboard's reading of the hub's config file (0.4)
CONFIG_FILE_GONE = (
    "the class dashboard no longer runs the hub's config file, the hub writes what it "
    "needs to JhubKit.dashboard_settings"
)


class JhubKit(RenamedTraits, Configurable):
    """Choices that shape the bundle. Every other value is a normal trait of its class."""

    renamed_traits = {"config_file": (None, "0.4", CONFIG_FILE_GONE)}

    authenticator = CaselessStrEnum(
        list(AUTHENTICATORS),
        default_value="native",
        help="""Who can log in, always limited by the userlist file: ``native``
        (sign-up form, passwords in the hub), ``github``, ``generic-oauth``,
        ``pam`` (system accounts), ``shared-password`` (a workshop: one password,
        another for the admins) or ``dummy`` (tests). Example: ``"github"``.""",
    ).tag(config=True)

    engine = CaselessStrEnum(
        ["docker", "swarm"],
        default_value="docker",
        help="""Where servers run: ``docker`` (this host's engine,
        :class:`~jhub_kit.QuotaDockerSpawner`) or ``swarm`` (a Docker Swarm the hub
        talks to through a manager, :class:`~jhub_kit.QuotaSwarmSpawner`). The quota
        vocabulary is the same; on a swarm the defaults change to what works across
        machines: host networking on each node, ``directory`` homes in
        ``HomeProvisioner.base_dir`` (a share mounted at the same path on every
        node), the hub listening on all addresses. Example: ``"swarm"``.""",
    ).tag(config=True)

    data_dir = Unicode(
        help="""Where the hub keeps its database, cookie secret and (by default) the
        userlist; mount it as a volume so they survive rebuilds. Default:
        ``$JHUB_KIT_DATA_DIR``, else ``/srv/jupyterhub/data``. Example: ``"/data"``.""",
    ).tag(config=True)

    @default("data_dir")
    def _data_dir_default(self) -> str:
        return os.environ.get("JHUB_KIT_DATA_DIR", "/srv/jupyterhub/data")

    userlist = Unicode(
        help="""The userlist file. Default: ``<data_dir>/userlist``.
        Example: ``"/srv/jupyterhub/userlist"``.""",
    ).tag(config=True)

    @default("userlist")
    def _userlist_default(self) -> str:
        return os.path.join(self.data_dir, "userlist")

    image = Unicode(
        help="""Single-user image. Default: ``$DOCKER_NOTEBOOK_IMAGE``, else
        ``quay.io/jupyter/scipy-notebook:latest``.""",
    ).tag(config=True)

    @default("image")
    def _image_default(self) -> str:
        return os.environ.get("DOCKER_NOTEBOOK_IMAGE", "quay.io/jupyter/scipy-notebook:latest")

    network_name = Unicode(
        help="""Docker network of the servers. Default: ``$DOCKER_NETWORK_NAME``, else
        ``bridge`` (``host`` with ``engine = "swarm"``: each server on its node's
        address). Use ``"host"`` for a hub running directly on the host.""",
    ).tag(config=True)

    @default("network_name")
    def _network_default(self) -> str:
        return os.environ.get("DOCKER_NETWORK_NAME", "host" if self.engine == "swarm" else "bridge")

    notebook_dir = Unicode(
        help="""Directory the server opens in, and where the home is mounted.
        Default: ``$DOCKER_NOTEBOOK_DIR``, else ``/home/jovyan/work``.""",
    ).tag(config=True)

    @default("notebook_dir")
    def _notebook_dir_default(self) -> str:
        return os.environ.get("DOCKER_NOTEBOOK_DIR", "/home/jovyan/work")

    student_view = Bool(
        True,
        help="""Show each student their quota, their home's use and why their last
        server stopped on the hub's home, spawn-pending and not-running pages
        (:mod:`jhub_kit.views.student`). Example: ``c.JhubKit.student_view = False``.""",
    ).tag(config=True)

    dashboard = Bool(
        True,
        help="""Run the class dashboard (:mod:`jhub_kit.views.dashboard`) as a hub-managed
        service at ``/services/class-dashboard/``: every user's server, memory,
        CPU, home use, last activity and OOM kills, for admins and
        ``dashboard_group``. Example: ``c.JhubKit.dashboard = False``.""",
    ).tag(config=True)

    dashboard_group = Unicode(
        "teachers",
        help="""Members of this JupyterHub group may open the class dashboard too
        (admins always may); empty: admins only. Example: ``"staff"``.""",
    ).tag(config=True)

    dashboard_port = Int(
        0,
        help="""Loopback port the dashboard service listens on (the proxy sends
        ``/services/class-dashboard/`` there); 0: a free one, picked when the config
        loads. Example: ``10101``.""",
    ).tag(config=True)

    dashboard_settings = Unicode(
        help="""The file the hub writes for the class dashboard (the quota policy,
        nothing secret; rewritten while the hub runs). Default:
        ``/run/jhub-kit/class-dashboard-<12 hex digits>.json`` for a hub running as
        root (the digits from the hub's ``data_dir``, so two hubs on one host each
        have their own), else ``<data_dir>/class-dashboard.json``.
        Example: ``"/run/jhub-kit/board.json"``.

        .. versionadded:: 0.4
        """,
    ).tag(config=True)

    @default("dashboard_settings")
    def _dashboard_settings_default(self) -> str:
        if os.geteuid() == 0:
            digest = hashlib.sha256(os.path.abspath(self.data_dir).encode()).hexdigest()
            return f"/run/jhub-kit/class-dashboard-{digest[:12]}.json"
        return os.path.join(self.data_dir, "class-dashboard.json")

    dashboard_user = Unicode(
        "nobody",
        help="""The unprivileged system user the class dashboard becomes once it has
        started, when the hub runs as root (it holds no secret of the hub's and needs
        no privilege: the hub measures homes). "" keeps the hub's user.
        Example: ``"jupyterhub-dashboard"``.

        .. versionadded:: 0.4
        """,
    ).tag(config=True)

    teachers = Dict(
        key_trait=Unicode(),
        value_trait=List(Unicode()),
        help="""Who teaches which JupyterHub groups: each teacher's username to the
        groups of their students. Each teacher gets a role with JupyterHub's scopes
        filtered to those groups (``servers!group=...``, ``read:users!group=...``,
        ``access:servers!group=...`` and the kit's ``custom:jhub-kit:limits``), not
        admin: from the class dashboard they stop and start those students'
        servers and change their limits within ``teacher_ceiling``, written to
        ``<data_dir>/teachers/policy.toml`` (the spawner's ``teacher_policy_file``,
        layered over the admin's ``quota_policy_file``). The course
        declaration (``c.Courses.courses``, set before the bundle) gives the same
        to each course's teachers over its students. Example:
        ``{"ada": ["physics-101", "physics-102"]}``.

        .. versionadded:: 0.5
        """,
    ).tag(config=True)

    teacher_ceiling = Dict(
        help="""The most a teacher may give a student or a group from the class
        dashboard: ``mem_limit`` and ``disk_limit`` (sizes), ``cpu_limit`` (cores),
        ``idle_timeout`` (a time span; naming it also lets teachers give a student
        more idle time until the end of the day). A limit without a ceiling here
        cannot be changed by a teacher. Changes are
        written to the spawner's ``teacher_policy_file`` (the bundle's:
        ``<data_dir>/teachers/policy.toml``, a folder the hub gives the dashboard's
        user) and take effect at the next start. Example:
        ``{"mem_limit": "4G", "cpu_limit": 2, "disk_limit": "10G", "idle_timeout": "3h"}``.

        .. versionadded:: 0.5
        """,
    ).tag(config=True)

    teacher_audit_log = Unicode(
        help="""The record of the teachers' actions (JSON lines: when, who, the
        action, the student or group, the limit, old and new value), shown on the
        class dashboard. Default: ``<data_dir>/teachers/audit.jsonl`` (the hub makes
        the folder at its start, owned by :attr:`dashboard_user`).
        Example: ``"/var/log/jupyterhub/teachers.jsonl"``.

        .. versionadded:: 0.5
        """,
    ).tag(config=True)

    @default("teacher_audit_log")
    def _teacher_audit_log_default(self) -> str:
        return os.path.join(self.data_dir, "teachers", "audit.jsonl")

    sqlite_wal = Bool(
        True,
        help="""Run the hub's SQLite database in write-ahead-log mode with
        ``synchronous=NORMAL`` (:mod:`jhub_kit.hubdb`): JupyterHub's commits, several
        per server start and all in its event loop, stop waiting for the disk.
        Applies to the SQLite file of ``db_url`` as the bundle sets it or as it is
        set before the bundle; any other database is left alone. Example:
        ``c.JhubKit.sqlite_wal = False`` (the database on NFS).

        .. versionadded:: 0.4
        """,
    ).tag(config=True)

    idle_timeout = Int(
        3600,
        help="""Stop servers idle for this many seconds (jupyterhub-idle-culler as a
        hub-managed service with the least roles it needs); 0: no culler at all.

        A server's own rule replaces it: ``idle_timeout`` and ``max_age`` are quota
        keys, set per group, profile or user like memory (see
        :attr:`jhub_kit.QuotaDockerSpawner.idle_timeout`); this value applies to
        servers with none. To cull only some classes, keep this above 0 and set
        ``c.QuotaDockerSpawner.idle_timeout = "unlimited"`` with group rules.
        Example: ``c.JhubKit.idle_timeout = 7200``.""",
    ).tag(config=True)

    idle_warning = Unicode(
        "5m",
        help="""How long before the idle culler stops a server the student's hub page
        warns them (when and why: no activity since a time, or the server's
        ``max_age``), as a duration (``"5m"``, ``"90s"``, ``"0"``: no warning); so
        does JupyterLab in the server, with :attr:`lab_notices`. Times shown are the
        hub's local time. Example: ``c.JhubKit.idle_warning = "10m"``.

        .. versionadded:: 0.5
        """,
    ).tag(config=True)

    @validate("idle_warning")
    def _valid_idle_warning(self, proposal: Any) -> str:
        from .quota.policy import parse_duration

        value = str(proposal["value"]).strip()
        parse_duration(value, where="c.JhubKit.idle_warning")
        return value

    def idle_warning_seconds(self) -> int:
        """:attr:`idle_warning` in seconds (0: none)."""
        from .quota.policy import parse_duration

        seconds = parse_duration(self.idle_warning, where="c.JhubKit.idle_warning")
        return 0 if seconds == float("inf") else int(seconds)

    def cull_every(self) -> int:
        """The culler's ``--cull-every``: :attr:`idle_check_every`, at most half of
        :attr:`idle_timeout`."""
        return max(1, min(self.idle_check_every, self.idle_timeout // 2))

    lab_notices = Bool(
        True,
        help="""Show the student's notices (the warning before an idle cull,
        :attr:`idle_warning`; more idle time or a teacher's opening of the server;
        why the server stopped) in JupyterLab too, as notifications in their own
        server, while they apply. The spawner's ``lab_notices`` is turned on (the
        kit's JupyterLab extension mounted into every server, nothing in the image),
        and the class dashboard's service answers the extension
        (``/services/class-dashboard/api/notices``: the user's own, by the token
        JupyterLab's page holds). Needs :attr:`dashboard`; only where there is
        something to say: the idle culler runs with a warning, or teachers are
        declared. Not on a swarm, nor with ``c.JupyterHub.subdomain_host`` (the
        service is another origin's): there the hub page alone warns.
        Example: ``c.JhubKit.lab_notices = False``.

        .. versionadded:: 0.5
        """,
    ).tag(config=True)

    idle_check_every = Int(
        300,
        help="""How often, in seconds, the idle culler looks at every server (its
        ``--cull-every``; at most half of :attr:`idle_timeout`). A server is stopped
        up to this long after its rule says. Example: ``c.JhubKit.idle_check_every = 60``.

        .. versionadded:: 0.5
        """,
    ).tag(config=True)


def _declared_courses(c: Config) -> dict[str, Course]:
    """The courses of ``c.Courses.courses``, checked, by name (none when not set)."""
    if "Courses" not in c:
        return {}
    from .quota.courses import Courses

    return Courses(config=c).declared()


def _courses_have_teachers(courses: Mapping[str, Course]) -> bool:
    """Whether one of ``courses`` names a teacher (users or groups)."""
    return any(course.teachers for course in courses.values())


def _idle_rules_in(c: Config) -> bool:
    """Whether the spawners' config sets an idle rule (a default, a group, a user or a
    profile); the live policy file is read by the hub, not here."""
    keys = ("idle_timeout", "max_age")
    for section in ("Spawner", "DockerSpawner", "QuotaDockerSpawner", "QuotaSwarmSpawner"):
        if section not in c:
            continue
        cfg = c[section]
        if any(k in cfg and cfg[k] is not None for k in keys):
            return True
        entries = [*dict(cfg.get("quota_groups", {}) or {}).values()]
        entries += [*dict(cfg.get("quota_users", {}) or {}).values()]
        entries += [p for p in cfg.get("profile_list", []) or [] if isinstance(p, dict)]
        if any(isinstance(e, dict) and any(k in e for k in keys) for e in entries):
            return True
    return False


def setdefault(c: Config, cls: type[Configurable], key: str, value: Any) -> bool:
    """Set ``c[cls][key]`` unless the same trait is set for ``cls`` or a parent class."""
    for klass in cls.mro():
        if issubclass(klass, Configurable) and klass.__name__ in c and key in c[klass.__name__]:
            return False
    c[cls.__name__][key] = value
    return True


def _append_named(c: Config, section: str, key: str, item: dict[str, Any]) -> None:
    """Append ``item`` to a list of dicts unless one with its name is there."""
    current = list(c[section].get(key, [])) if key in c[section] else []
    if not any(x.get("name") == item["name"] for x in current):
        current.append(item)
    c[section][key] = current


def configure(c: Config) -> JhubKit:
    """Fill ``c`` with a complete, sane deployment; return the bundle's choices."""
    from importlib import import_module

    from jupyterhub.app import JupyterHub

    from .auth.authenticators import UserlistMixin

    kit = JhubKit(config=c)
    Spawner: type[Configurable]
    if kit.engine == "swarm":
        from .spawners.swarm import QuotaSwarmSpawner as Spawner
    else:
        from .spawners.docker import QuotaDockerSpawner as Spawner
    module, _, name = AUTHENTICATORS[kit.authenticator].rpartition(".")
    auth = getattr(import_module(module), name)
    with contextlib.suppress(OSError):  # the hub's sqlite needs the directory
        os.makedirs(kit.data_dir, exist_ok=True)

    # hub: persistence, the kit's spawner and authenticator
    setdefault(c, JupyterHub, "spawner_class", f"{Spawner.__module__}.{Spawner.__name__}")
    setdefault(c, JupyterHub, "authenticator_class", AUTHENTICATORS[kit.authenticator])
    db = os.path.join(kit.data_dir, "jupyterhub.sqlite")
    setdefault(c, JupyterHub, "db_url", f"sqlite:///{db}")
    if kit.sqlite_wal:
        hubdb.enable(str(c.JupyterHub.db_url))  # this file only: a later db_url is left alone
    secret = os.path.join(kit.data_dir, "jupyterhub_cookie_secret")
    setdefault(c, JupyterHub, "cookie_secret_file", secret)
    if kit.network_name != "host" or kit.engine == "swarm":
        # containers on a Docker network, or on other machines, must reach the hub API
        setdefault(c, JupyterHub, "hub_ip", "0.0.0.0")

    # who gets in
    setdefault(c, UserlistMixin, "userlist_file", kit.userlist)
    # pages: the admin's own templates first, then the kit's and NativeAuthenticator's
    if kit.student_view:
        add_student_view(c)
        add_student_notices(c, kit)
    if kit.authenticator == "native":
        import nativeauthenticator

        _add_template_path(
            c, os.path.join(os.path.dirname(nativeauthenticator.__file__), "templates")
        )
    if kit.authenticator == "github" and os.environ.get("OAUTH_CALLBACK_URL"):
        setdefault(c, auth, "oauth_callback_url", os.environ["OAUTH_CALLBACK_URL"])

    # the servers
    for key, value in {
        "image": kit.image,
        "network_name": kit.network_name,
        "notebook_dir": kit.notebook_dir,
        "default_url": "/lab",
        "mem_limit": "2G",
        "cpu_limit": 1.0,
        "pids_limit": 1024,
        # a class's servers show the image's JupyterLab extensions and install none
        # (every student the same lab); no HTTPS client for PyPI built at each start
        "lab_extension_manager": "readonly",
        # a Docker volume lives on one engine; a swarm's homes are in a shared base_dir
        "home_provisioner": "directory" if kit.engine == "swarm" else "docker-volume",
    }.items():
        setdefault(c, Spawner, key, value)

    from .provision import HomeProvisioner

    # homes' state (and loopfile/btrfs images, if chosen) beside the hub's data
    setdefault(c, HomeProvisioner, "base_dir", os.path.join(kit.data_dir, "homes"))

    # idle culler, as a hub-managed service with the least roles it needs
    if kit.idle_timeout > 0:
        from .idle import CULLER_CONFIG
        from .quota.extensions import EXTENSIONS_ENV, extensions_file_for
        from .quota.policy import HUB_ACTIVITY_INTERVAL, activity_interval

        every = kit.cull_every()
        command = [
            sys.executable,
            "-m",
            "jupyterhub_idle_culler",
            f"--timeout={kit.idle_timeout}",
            f"--cull-every={every}",
            f"--config={CULLER_CONFIG}",  # each server's own rules (jhub_kit.idle)
        ]
        culler: dict[str, Any] = {"name": "idle-culler", "command": command}
        if kit.dashboard:  # the teachers' "more idle time for today" (jhub_kit.idle)
            culler["environment"] = {EXTENSIONS_ENV: extensions_file_for(kit.teacher_audit_log)}
        _append_named(c, "JupyterHub", "services", culler)
        if kit.idle_timeout < 4 * HUB_ACTIVITY_INTERVAL:
            # servers without a rule of their own get the culler's: they must report
            # their activity well within it (each server's own rule: jhub_kit.quota.traits)
            setdefault(c, Spawner, "activity_interval", activity_interval(kit.idle_timeout))
        role = {"name": "idle-culler", "scopes": IDLE_CULLER_SCOPES, "services": ["idle-culler"]}
        _append_named(c, "JupyterHub", "load_roles", role)
    elif _idle_rules_in(c):
        logging.getLogger("jhub_kit").warning(
            "idle_timeout or max_age is set in the quota configuration, but "
            "c.JhubKit.idle_timeout = 0 runs no idle culler: no server is stopped for "
            "them. Set c.JhubKit.idle_timeout above 0 (servers without a rule of their "
            "own get it; c.QuotaDockerSpawner.idle_timeout = 'unlimited' makes that never)."
        )

    # read once: the teachers' policy file, the students' lab notices and the
    # dashboard's teacher roles hang on them
    courses = _declared_courses(c) if kit.dashboard else {}
    if kit.dashboard and (kit.teachers or _courses_have_teachers(courses)):
        # the teachers' changes: a file of their own over the admin's policy file
        teachers_file = os.path.join(kit.data_dir, "teachers", "policy.toml")
        setdefault(c, Spawner, "teacher_policy_file", teachers_file)

    lab = lab_notices_on(c, kit, courses=courses)
    if lab:  # the kit's JupyterLab extension in every server (the dashboard answers it)
        setdefault(c, Spawner, "lab_notices", True)
    if kit.dashboard:
        add_dashboard(
            c,
            kit.dashboard_group,
            kit.dashboard_port,
            settings=kit.dashboard_settings,
            user=kit.dashboard_user,
            teachers=kit.teachers,
            ceiling=kit.teacher_ceiling,
            audit_log=kit.teacher_audit_log,
            lab_notices=notice_settings(kit) if lab else None,
            courses=courses,
        )
    follow_hub()  # the pool fills and the dashboard's settings are written at the start
    return kit


def _add_template_path(c: Config, path: str) -> None:
    """After the admin's own template paths (theirs win), once."""
    paths = list(c.JupyterHub.get("template_paths", []))
    if path not in paths:
        c.JupyterHub.template_paths = [*paths, path]


def add_student_view(c: Config) -> None:
    """Show each student their quota, home use and last stop reason on the hub's
    pages (:mod:`jhub_kit.views.student`); :func:`configure` calls it. Idempotent."""
    from .views import student as student_view

    _add_template_path(c, student_view.TEMPLATES)
    current = dict(c.JupyterHub.get("template_vars", {}))
    if "jhub_kit" not in current:
        c.JupyterHub.template_vars = {**current, "jhub_kit": student_view.template_var}


def add_student_notices(c: Config, kit: JhubKit) -> None:
    """Tell each student on their hub page when a teacher opened their server, gave
    them more idle time, and when the idle culler will stop it
    (:mod:`jhub_kit.views.notices`); :func:`configure` calls it. Idempotent."""
    from .quota.extensions import extensions_file_for
    from .views.notices import StudentNotices

    current = dict(c.JupyterHub.get("template_vars", {}))
    if "jhub_kit_notices" in current:
        return
    audit = kit.teacher_audit_log if kit.dashboard else ""
    current["jhub_kit_notices"] = StudentNotices(
        audit, extensions_file_for(audit), **notice_settings(kit)
    )
    c.JupyterHub.template_vars = current


def notice_settings(kit: JhubKit) -> dict[str, int]:
    """The culler's part of the notices (:class:`~jhub_kit.views.notices.StudentNotices`'
    keywords): the warning, the culler's timeout and how often it looks (0: none runs)."""
    culler = kit.idle_timeout
    return {
        "warning": kit.idle_warning_seconds() if culler > 0 else 0,
        "culler_timeout": culler,
        "check_every": kit.cull_every() if culler > 0 else 0,
    }


def lab_notices_on(c: Config, kit: JhubKit, *, courses: Mapping[str, Course] | None = None) -> bool:
    """Whether the students' JupyterLab shows their notices (``JhubKit.lab_notices``):
    the class dashboard answers the extension, and a student may have a notice (the
    culler runs and warns, or teachers act from the dashboard). Never on a swarm
    (the extension is a folder of the hub's host: QuotaSwarmSpawner.lab_notices).
    ``courses``: ``c.Courses.courses`` already read (:func:`configure`'s); None: read
    here when needed."""
    if not (kit.lab_notices and kit.dashboard) or kit.engine == "swarm":
        return False
    warns = kit.idle_timeout > 0 and kit.idle_warning_seconds() > 0
    if warns or kit.teachers:
        return True
    return _courses_have_teachers(_declared_courses(c) if courses is None else courses)


def add_dashboard(
    c: Config,
    group: str = "teachers",
    port: int = 0,
    *,
    settings: str = "",
    user: str = "nobody",
    config_file: str | None = None,
    teachers: dict[str, list[str]] | None = None,
    ceiling: dict[str, Any] | None = None,
    audit_log: str = "",
    lab_notices: dict[str, int] | None = None,
    courses: Mapping[str, Course] | None = None,
) -> None:
    """Add the class dashboard service and its roles (:mod:`jhub_kit.views.dashboard`);
    :func:`configure` calls it. ``group``'s members may open it besides admins; the
    hub writes ``settings`` for it (the quota policy, :mod:`jhub_kit.views.dashboard.settings`);
    started by a hub running as root, it becomes ``user``. Idempotent.

    ``teachers`` (a teacher to the groups they teach) and the courses of
    ``c.Courses.courses`` give each teacher a role scoped to their students
    (:func:`jhub_kit.quota.teaching.teacher_roles`); ``ceiling`` bounds the limits
    they may set and ``audit_log`` records what they do (``JhubKit.teacher_*``).
    ``lab_notices`` (:func:`notice_settings`): the dashboard answers the kit's
    JupyterLab extension in the students' servers
    (:mod:`jhub_kit.views.dashboard.lab_notices`); None: it does not. ``courses``:
    ``c.Courses.courses`` already read (:func:`configure`'s); None: read here.

    .. versionchanged:: 0.5
       ``teachers``, ``ceiling``, ``audit_log``, ``lab_notices`` and ``courses``.

    .. deprecated:: 0.4
       ``config_file`` (0.3's ``add_dashboard(c, config_file=__file__)``) is ignored,
       with a warning: the dashboard no longer runs the hub's config file.
    """
    from jupyterhub.utils import random_port

    if config_file is not None:
        message = (
            f"add_dashboard(config_file=...) is ignored since jhub_kit 0.4: {CONFIG_FILE_GONE}; "
            "remove the keyword"
        )
        warnings.warn(message, DeprecationWarning, stacklevel=2)
        logging.getLogger("jhub_kit").warning(message)

    from .quota.teaching import LIMITS_SCOPE, teacher_roles
    from .views.dashboard import SERVICE_NAME, SERVICE_SCOPES
    from .views.dashboard import lab_notices as board_notices
    from .views.dashboard import limits as board_limits
    from .views.dashboard import settings as board

    kit = JhubKit(config=c)
    if courses is None:
        courses = _declared_courses(c)

    service: dict[str, Any] = {
        "name": SERVICE_NAME,
        "url": f"http://127.0.0.1:{port or random_port()}",
        "command": [sys.executable, "-m", "jhub_kit.views.dashboard"],
        "oauth_no_confirm": True,
        "display": True,
        # what it needs, and nothing of the hub's: no secret, no config to run
        "environment": {
            board.ENV: settings or kit.dashboard_settings,
            board.USER_ENV: user,
            board_limits.CEILING_ENV: json.dumps(ceiling or {}),
            board_limits.AUDIT_ENV: audit_log or kit.teacher_audit_log,
            **({board_notices.NOTICES_ENV: json.dumps(lab_notices)} if lab_notices else {}),
            # "the end of today" is the hub's: JupyterHub hands a service no TZ of its own
            **({"TZ": os.environ["TZ"]} if os.environ.get("TZ") else {}),
        },
        # the OAuth token a teacher's browser holds may carry these, as far as the
        # teacher holds them (JupyterHub intersects): the actions check them
        "oauth_client_allowed_scopes": ["servers", LIMITS_SCOPE, "access:servers"],
    }
    _append_named(c, "JupyterHub", "services", service)
    follow_hub()  # the hub writes the dashboard's settings once it serves
    role = {"name": SERVICE_NAME, "scopes": SERVICE_SCOPES, "services": [SERVICE_NAME]}
    _append_named(c, "JupyterHub", "load_roles", role)
    if group:
        viewers = {
            "name": f"{SERVICE_NAME}-viewers",
            "description": "May open the class dashboard",
            "scopes": [f"access:services!service={SERVICE_NAME}"],
            "groups": [group],
        }
        _append_named(c, "JupyterHub", "load_roles", viewers)
    custom = dict(c.JupyterHub.get("custom_scopes", {}))
    if LIMITS_SCOPE not in custom:
        custom[LIMITS_SCOPE] = {
            "description": "Change a user's memory, CPU and home size in the kit's "
            "live policy file (within the admin's ceiling), from the class dashboard."
        }
        c.JupyterHub.custom_scopes = custom
    roles = teacher_roles(teachers or {}, courses)
    for role in roles:
        role["scopes"] = [*role["scopes"], f"access:services!service={SERVICE_NAME}"]
        _append_named(c, "JupyterHub", "load_roles", role)
    if roles and not c.JupyterHub.get("subdomain_host"):
        logging.getLogger("jhub_kit").warning(
            "Teachers may open their students' servers (access:servers), and every server "
            "shares the hub's web origin: JavaScript a student puts in their own server runs "
            "with the teacher's cookies while the teacher looks at it. Set "
            "c.JupyterHub.subdomain_host to give each server an origin of its own "
            "(docs/reference/views.md, 'What opening a server trusts')."
        )
