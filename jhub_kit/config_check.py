"""Check a loaded JupyterHub config: unknown options, conflicts, effective settings.

Used by ``jhub-kit config check``. Works on a :class:`traitlets.config.Config`,
so it is tested without a hub.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

from traitlets.config import Config, Configurable

from .standin import stand_in

# classes whose config sections we know, by module
_KNOWN = {
    "jupyterhub.app": ["JupyterHub"],
    "jupyterhub.spawner": ["Spawner", "LocalProcessSpawner"],
    "jupyterhub.auth": [
        "Authenticator",
        "LocalAuthenticator",
        "PAMAuthenticator",
        "DummyAuthenticator",
    ],
    "jupyterhub.proxy": ["Proxy", "ConfigurableHTTPProxy"],
    "dockerspawner": ["DockerSpawner", "SwarmSpawner", "SystemUserSpawner"],
    "jhub_kit.spawners.docker": ["QuotaDockerSpawner"],
    "jhub_kit.spawners.swarm": ["QuotaSwarmSpawner"],
    "jhub_kit.quota.traits": ["QuotaConfigMixin"],
    "jhub_kit.config": ["JhubKit"],
    "jhub_kit.auth.authenticators": [
        "UserlistMixin",
        "UserlistDummyAuthenticator",
        "UserlistPAMAuthenticator",
    ],
    "jhub_kit.auth.native": ["UserlistNativeAuthenticator"],
    "jhub_kit.auth.oauth": ["UserlistGitHubOAuthenticator", "UserlistGenericOAuthenticator"],
    "jhub_kit.provision.base": ["HomeProvisioner"],
    "jhub_kit.provision.blockfs": ["FilesystemProvisioner"],
    "jhub_kit.provision.directory": ["DirectoryProvisioner"],
    "jhub_kit.provision.loopfile": ["LoopfileProvisioner"],
    "jhub_kit.provision.btrfs": ["BtrfsProvisioner"],
    "jhub_kit.provision.lvm": ["LvmProvisioner"],
    "jhub_kit.provision.dockervolume": ["DockerVolumeProvisioner"],
    "jhub_kit.provision.systemuser": ["SystemUserProvisioner"],
    "nativeauthenticator": ["NativeAuthenticator"],
    "oauthenticator.oauth2": ["OAuthenticator"],
    "oauthenticator.github": ["GitHubOAuthenticator"],
    "oauthenticator.generic": ["GenericOAuthenticator"],
}


def known_classes() -> dict[str, type[Configurable]]:
    out: dict[str, type[Configurable]] = {}
    for module, names in _KNOWN.items():
        try:
            mod = import_module(module)
        except ImportError:
            continue
        for name in names:
            out[name] = getattr(mod, name)
    return out


@dataclass
class Report:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)


def _resolve(value: Any) -> Any:
    """A class given as a string or entry-point name, imported."""
    if not isinstance(value, str):
        return value
    from importlib.metadata import entry_points

    for group in ("jupyterhub.authenticators", "jupyterhub.spawners"):
        for ep in entry_points(group=group):
            if ep.name == value:
                return ep.load()
    module, _, name = value.rpartition(".")
    try:
        return getattr(import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        return None


def check_config(c: Config) -> Report:
    report = Report()
    classes = known_classes()
    for section in c:
        if not section[:1].isupper():
            continue
        cls = classes.get(section)
        if cls is None:
            report.warnings.append(f"unknown section c.{section} (not a class jhub_kit knows)")
            continue
        traits = set(cls.class_trait_names(config=True))
        for key in c[section]:
            if key not in traits:
                hint = difflib.get_close_matches(key, traits, n=1)
                report.errors.append(
                    f"c.{section}.{key} is not an option of {section}"
                    + (f"; did you mean c.{section}.{hint[0]}?" if hint else "")
                )

    hub = c.JupyterHub
    spawner_cls = _resolve(hub.get("spawner_class", "")) if "spawner_class" in hub else None
    auth_cls = (
        _resolve(hub.get("authenticator_class", "")) if "authenticator_class" in hub else None
    )
    from .auth.authenticators import UserlistMixin
    from .spawners.docker import QuotaDockerSpawner

    userlist_auth = isinstance(auth_cls, type) and issubclass(auth_cls, UserlistMixin)
    if userlist_auth:
        if "load_groups" in hub:
            report.errors.append(
                "c.JupyterHub.load_groups cannot be used with a userlist authenticator "
                "(it manages groups); put group:NAME entries in the userlist instead"
            )
        if c.Authenticator.get("allow_all") is True:
            report.warnings.append(
                "c.Authenticator.allow_all = True lets everyone in: the userlist then only "
                "sets admins and groups"
            )
        if "admin_users" in c.Authenticator:
            report.warnings.append(
                "c.Authenticator.admin_users never demotes anyone; mark admins in the userlist"
            )

    if isinstance(spawner_cls, type) and issubclass(spawner_cls, QuotaDockerSpawner):
        try:
            # a stand-in user: the spawner reads config, nothing is started
            sp = stand_in(spawner_cls, c, name="config-check")
        except Exception as e:
            report.errors.append(f"{spawner_cls.__name__}: {e}")
            return report
        _check_spawner(sp, c, report)
    from .spawners.swarm import QuotaSwarmSpawner

    if isinstance(spawner_cls, type) and issubclass(spawner_cls, QuotaSwarmSpawner):
        _check_swarm_spawner(spawner_cls, c, report)
    for kit_cls in (QuotaDockerSpawner, QuotaSwarmSpawner):
        other = kit_cls.__name__
        if isinstance(spawner_cls, type) and other in c and not issubclass(spawner_cls, kit_cls):
            report.warnings.append(
                f"c.{other} ({', '.join(sorted(c[other]))}) is set, but the spawner is "
                f"{getattr(spawner_cls, '__name__', spawner_cls)}: those settings are ignored; "
                f"rename the section to c.{getattr(spawner_cls, '__name__', 'Spawner')}"
            )
    if auth_cls is not None:
        report.settings["authenticator"] = f"{auth_cls.__module__}.{auth_cls.__name__}"
        if userlist_auth:
            report.settings["userlist"] = (
                c.UserlistMixin.get("userlist_file") if "UserlistMixin" in c else "(not set)"
            )
    services = [s.get("name") for s in hub.get("services", [])] if "services" in hub else []
    report.settings["services"] = ", ".join(services) or "none"
    return report


def _check_swarm_spawner(cls: type, c: Config, report: Report) -> None:
    """What the default quota gives on a swarm, and what a service cannot enforce."""
    from .quota.swarm_limits import not_enforced

    try:
        sp = stand_in(cls, c, name="config-check")
    except Exception as e:
        report.errors.append(f"{cls.__name__}: {e}")
        return
    report.settings.update(spawner=f"{cls.__module__}.{cls.__name__}", image=sp.image)
    quota = sp.resolve_quota_now()
    if quota is None:
        report.errors.append(f"{cls.__name__}: the default quota does not resolve")
        return
    report.settings["default quota"] = quota.describe()
    report.warnings += [f"on a swarm, {gap}" for gap in not_enforced(quota)]
    if sp.extra_host_config:
        report.errors.append(
            f"c.{cls.__name__}.extra_host_config is set, but a swarm service has no host "
            "config: servers would not start. Use extra_container_spec / extra_task_spec"
        )
    _check_volumes(sp, report, swarm=True)
    backend = _check_homes(sp, c, report)
    if backend == "docker-volume":
        report.errors.append(
            "home_provisioner 'docker-volume' cannot serve a swarm (a volume lives on one "
            "engine): use 'directory', 'btrfs' or 'loopfile' with HomeProvisioner.base_dir on "
            "a share mounted at the same path on every node"
        )
    elif backend:
        report.warnings.append(
            f"homes in {report.settings['homes'].split(', in ', 1)[-1]}: that path must be the "
            "same share on every node (check with `jhub-kit doctor`)"
        )


def _check_spawner(sp: Any, c: Config, report: Report) -> None:
    from .network import hub_address as network
    from .quota.policy import QuotaError, QuotaPolicy
    from .quota.policy_file import PolicyFile

    report.settings.update(
        spawner=f"{type(sp).__module__}.{type(sp).__name__}",
        image=sp.image,
        network=sp.network_name,
        notebook_dir=sp.notebook_dir or "(image default)",
        concurrent_starts=sp.concurrent_starts,
    )
    try:
        static = {
            k: v
            for k, v in sp.configured_defaults().items()
            if k != "node_labels" and not callable(v)
        }
        policy = QuotaPolicy.from_config(
            static, sp.quota_groups, sp.quota_users, where=type(sp).__name__
        )
        if sp.quota_policy_file:
            policy = policy.overlay(PolicyFile(sp.quota_policy_file).load())
        report.settings["default quota"] = policy.resolve("").describe()
        report.settings["quota groups"] = ", ".join(sorted(policy.groups)) or "none"
        placed = [f"group {g}" for g, p in sorted(policy.groups.items()) if p.get("node_labels")]
        placed += [f"user {u}" for u, p in sorted(policy.users.items()) if p.get("node_labels")]
        if sp.node_labels or placed:
            report.warnings.append(
                f"node_labels ({', '.join(placed) or 'default'}) place servers on a swarm's "
                f"nodes; {type(sp).__name__} runs every server on this host and ignores them "
                "(use jhub_kit.QuotaSwarmSpawner)"
            )
    except QuotaError as e:
        report.errors.append(str(e))
    _check_homes(sp, c, report)
    _check_courses(sp, c, report)
    _check_volumes(sp, report)
    if getattr(sp, "pool_on", False) and not sp.remove:
        report.warnings.append(
            "pool_size/pool_schedule with remove = False: each user keeps their own "
            "container, so no start can come from the warm pool"
        )
    if sp.network_name == "host":
        report.warnings.append(
            "network_name = 'host': servers share the host's network namespace. A student's "
            "processes can then open connections to every service on the host's loopback "
            "(the proxy's API, other students' servers, databases), and no per-server "
            "firewall applies. Use a bridge network for a class (the bundle's default)"
        )
    if not getattr(sp, "no_new_privileges", True) or not getattr(sp, "cap_drop", ["ALL"]):
        report.warnings.append(
            "servers run without the kit's secure defaults (no_new_privileges, cap_drop): "
            "a setuid binary in the image can make a student root in their container"
        )
    report.settings["server privileges"] = (
        f"no-new-privileges {'on' if getattr(sp, 'no_new_privileges', True) else 'OFF'}, "
        f"cap_drop {','.join(getattr(sp, 'cap_drop', [])) or 'none'}, "
        f"cap_add {getattr(sp, 'cap_add', 'auto')}"
    )
    hub_ip = c.JupyterHub.get("hub_ip", "127.0.0.1") if "hub_ip" in c.JupyterHub else "127.0.0.1"
    explicit = "hub_connect_ip" in c.JupyterHub or "hub_connect_url" in c.JupyterHub
    if sp.network_name != "host" and not explicit and network.is_loopback(hub_ip):
        report.errors.append(
            f"c.JupyterHub.hub_ip is {hub_ip}: containers on Docker network "
            f"{sp.network_name!r} cannot reach the hub; set c.JupyterHub.hub_ip = '0.0.0.0' "
            "or c.JupyterHub.hub_connect_ip, or use network_name = 'host'"
        )


def _check_volumes(sp: Any, report: Report, swarm: bool = False) -> None:
    """DockerSpawner's ``volumes`` beside the kit's homes: a read-write bind the
    server's user cannot write to; on a swarm, where named volumes live."""
    import os

    from .provision import paths

    try:
        binds = sp.volume_binds  # rendered for the stand-in user
    except Exception as e:  # a template or callable that needs a real user
        report.warnings.append(f"volumes not checked: {e}")
        return
    uid, gid = sp.home_owner() if hasattr(sp, "home_owner") else (1000, 100)
    for source, bind in binds.items():
        target, mode = bind["bind"], str(bind.get("mode", "rw"))
        if not source.startswith("/"):
            if swarm:
                report.warnings.append(
                    f"volume {source} at {target}: a named volume lives on the node that "
                    "ran the server; a student's next server may run on another node and "
                    "not find their files there. Use a bind of a share mounted on every node"
                )
            continue
        if "ro" in mode.split(","):
            continue
        try:
            st = os.stat(source)
        except OSError:
            report.warnings.append(
                f"volume {source} at {target} does not exist on this host: Docker makes it "
                "owned by root, and the student cannot write to it"
            )
            continue
        if not paths.writable_by(st, uid, gid):
            report.warnings.append(
                f"volume {source} at {target} is read-write, but the server runs as "
                f"{uid}:{gid} and {source} is owned by {st.st_uid}:{st.st_gid} with mode "
                f"{st.st_mode & 0o7777:o}: the student cannot write to it. Give it to "
                f'{uid}:{gid}, or mount it read-only ({{"bind": ..., "mode": "ro"}})'
            )


def _check_homes(sp: Any, c: Config, report: Report) -> str | None:
    """The homes' backend in the report (or its error); returns the backend's name."""
    from .provision import provisioner_class

    if not sp.home_provisioner:
        return None
    try:
        cls = provisioner_class(sp.home_provisioner)
        prov = cls(config=c)
        where = (
            f"volumes {prov.volume_prefix}NAME"  # type: ignore[attr-defined]
            if cls.backend == "docker-volume"
            else f"in {prov.base_dir}"
        )
        report.settings["homes"] = f"{cls.backend}, {where}"
        if cls.backend == "lvm" and not prov.volume_group:  # type: ignore[attr-defined]
            report.errors.append("home_provisioner 'lvm' needs c.LvmProvisioner.volume_group")
        return cls.backend
    except (ValueError, ImportError) as e:
        report.errors.append(f"{type(sp).__name__}.home_provisioner: {e}")
        return None


def _check_courses(sp: Any, c: Config, report: Report) -> None:
    """The course folders in the report: where, made by what, and whether their size
    limits hold; an error for courses nothing can make folders for."""
    from traitlets import TraitError

    from .provision import ProvisionError
    from .provision.courses import make_course_provisioner
    from .quota.courses import Courses
    from .quota.policy import QuotaError

    try:
        courses = Courses(config=c)
        declared = courses.declared()
    except (QuotaError, TraitError) as e:
        report.errors.append(str(e))
        return
    if not declared:
        return
    kind = courses.provisioner or sp.home_provisioner
    if not kind:
        report.errors.append(
            f"c.Courses.courses declares {len(declared)} course(s) but nothing makes their "
            f"folders: set {type(sp).__name__}.home_provisioner or c.Courses.provisioner "
            '(e.g. "loopfile" for a size limit, "directory" for none)'
        )
        return
    try:
        prov = make_course_provisioner(kind, config=c, base_dir=courses.base_dir)
    except (ProvisionError, ValueError, ImportError) as e:
        report.errors.append(f"course folders: {e}")
        return
    limit = "no size limit" if prov.backend == "directory" else "size limits hold"
    report.settings["course folders"] = (
        f"{len(declared)}, {prov.backend} in {prov.base_dir} ({limit}), at <home>/courses/NAME"
    )
    if prov.backend == "directory" and any(x.size_limit for x in declared.values()):
        report.warnings.append(
            "the course folders are plain directories: their size_limit is not enforced "
            '(set c.Courses.provisioner = "loopfile", "btrfs" or "lvm" for a hard limit)'
        )
