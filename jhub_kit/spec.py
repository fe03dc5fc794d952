"""One description of a user's server, as data (pure): what every start path creates.

:func:`make_spec` turns the spawner's options, as resolved for one user and one
server (after ``pre_spawn_hook`` and ``user_options``), plus the quota's
limits, the home mount, the network and the security defaults
(:class:`SpecInputs`, gathered by the spawner) into a :class:`ServerSpec`: the
image, command and arguments, environment, mounts, labels, limits, host config
and create keywords. It merges them exactly as DockerSpawner 14's
``create_object`` does (``extra_create_kwargs`` and ``extra_host_config``
deep-merged last), with the kit's three changes: the secure defaults first (the
admin's ``extra_host_config`` may loosen them), the quota's limits after
``extra_host_config`` (nobody's config loosens a quota), and no ``auto_remove``
(the kit removes a dead container after reading why it died).

Every path consumes it:

- the cold path creates exactly :meth:`ServerSpec.create_kwargs`;
- :mod:`jhub_kit.spawners.swarm` makes a service of it (:func:`service_kwargs`);
- the warm pool (:mod:`jhub_kit.pool`) creates members from the part of a
  description that does not depend on the user (:func:`pool_key`, computed
  from the configuration alone) and gives a member to a start only when
  :func:`pool_refusals` finds nothing but what can be applied to a running
  container: limits (the engine's update), the home and every other mount
  (mount propagation into the member's slots), environment and arguments (the
  member's identity channel). Anything else is a cold start, with the reason.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .quota.docker_limits import INSPECT_FIELDS

#: host-config keywords the engine's update endpoint can change on a running container
LIMIT_KEYS = frozenset(INSPECT_FIELDS.values())

#: the label every pool member carries (its value: the hub's prefix)
POOL_LABEL = "io.jhub-kit.pool"
#: the label naming a member's key (:func:`pool_key`)
POOL_KEY_LABEL = "io.jhub-kit.pool.key"

#: what a pooled server's launcher stands in for: the single-user server's own
#: command and the Jupyter Docker Stacks' start scripts for it
POOLABLE_COMMANDS = frozenset(
    {
        "jupyterhub-singleuser",
        "start-singleuser.sh",
        "start-singleuser.py",
        "start-notebook.sh",
        "start-notebook.py",
    }
)


def deep_merge(dest: dict[str, Any], src: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``src`` into ``dest`` recursively (DockerSpawner's ``_deep_merge``):
    dicts merge, anything else is replaced."""
    for key, value in src.items():
        if isinstance(dest.get(key), dict) and isinstance(value, dict):
            dest[key] = deep_merge(dest[key], value)
        else:
            dest[key] = value
    return dest


@dataclass(frozen=True)
class Mountpoint:
    """One mount of a server, in one shape for binds, named volumes and Mounts."""

    target: str
    source: str  # a host path (bind), a volume's name (volume), "" (tmpfs)
    kind: str  # "bind" | "volume" | "tmpfs"
    read_only: bool = False
    home: bool = False
    #: options a pooled start cannot reproduce (propagation, an SELinux label,
    #: a volume driver or its options), as (name, value) pairs
    extra: tuple[tuple[str, str], ...] = ()

    @property
    def named_volume(self) -> bool:
        return self.kind == "volume"


@dataclass(frozen=True)
class SpecInputs:
    """Everything a description is made of, already resolved for one user's server
    (callables called, templates rendered): plain data, gathered by the spawner."""

    image: str
    command: list[str]
    args: list[str]
    env: dict[str, str]
    name: str
    port: int
    network_name: str
    use_internal_ip: bool
    host_ip: str
    remove: bool
    #: DockerSpawner's ``volume_binds``: {source: {"bind": target, "mode": m}}
    volume_binds: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: DockerSpawner's ``mount_binds``: docker.types.Mount dicts
    mount_binds: list[dict[str, Any]] = field(default_factory=list)
    links: dict[str, Any] = field(default_factory=dict)
    extra_create_kwargs: dict[str, Any] = field(default_factory=dict)
    extra_host_config: dict[str, Any] = field(default_factory=dict)
    security: dict[str, Any] = field(default_factory=dict)
    limits: dict[str, Any] = field(default_factory=dict)
    #: the kit's home: a docker.types.Mount dict, or None
    home: dict[str, Any] | None = None
    #: the user's course folders (:mod:`jhub_kit.spawners.courses`): Mount dicts,
    #: inside the home, read-only for a course's students
    courses: tuple[dict[str, Any], ...] = ()
    #: the course members' environment (nbgrader's, :mod:`jhub_kit.quota.nbgrader`):
    #: over the spawner's, its search paths put first in the spawner's own
    courses_env: dict[str, str] = field(default_factory=dict)
    #: the image's own values of the search paths ``courses_env`` extends
    #: (:func:`image_search_paths` of its ``Config.Env``): a container's environment
    #: replaces the image's, so the kit's folders are put before these
    image_env: dict[str, str] = field(default_factory=dict)
    internal_ssl: bool = False
    post_start_cmd: str | bool = False
    #: JupyterLab's extension manager (``LabApp.extension_manager``), or None: the
    #: image's and the server's own configuration decide
    lab_extension_manager: str | None = None
    #: the home was measured full before the start (:attr:`jhub_kit.provision.Usage.full`):
    #: ``"space"`` or ``"files"``; "" when it was not (:func:`home_full_parts`)
    home_full: str = ""
    #: the kit's JupyterLab extension in the server (:func:`lab_notices_parts`)
    lab_notices: bool = False
    #: which of the kit's own folders the engine's host has (:class:`KitFolders`)
    kit_folders: KitFolders = field(default_factory=lambda: KitFolders())


#: the option that names JupyterLab's extension manager (jupyterlab 4's ``LabApp``)
LAB_EXTENSION_MANAGER = "--LabApp.extension_manager"


def server_args(i: SpecInputs) -> list[str]:
    """The server's arguments: the kit's own options first, then the spawner's
    (``get_args``: its ``args`` last, so an admin's own option wins)."""
    kit = []
    if i.lab_extension_manager is not None:
        kit.append(f"{LAB_EXTENSION_MANAGER}={i.lab_extension_manager}")
    return [*kit, *i.args]


# -- a home with no room left ------------------------------------------------------

#: where every server keeps its runtime files (its own record, kernels' connection
#: files, the cookie secret): in the container, not in the home, where a full home
#: stops the server before it answers (jupyter_core's ``JUPYTER_RUNTIME_DIR``)
RUNTIME_DIR = "/tmp/jupyter-runtime"
#: the kit's static pages for students, and where a server sees them (read-only)
NOTICES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "notices")
NOTICES_PATH = "/opt/jhub-kit/notices"
#: the page a server whose home is full opens on (under the server's ``static/``)
HOME_FULL_PAGE = "jhub-kit-home-full.html"


def kit_env() -> dict[str, str]:
    """The kit's environment for every server (the spawner's own wins)."""
    return {"JUPYTER_RUNTIME_DIR": RUNTIME_DIR}


#: variables that list folders: the kit's are put first, the spawner's (else the
#: image's) kept after
SEARCH_PATHS = frozenset({"JUPYTER_CONFIG_PATH", "JUPYTER_PATH", "PYTHONPATH"})


def image_search_paths(env: list[str] | None) -> dict[str, str]:
    """The :data:`SEARCH_PATHS` an image sets, from its ``Config.Env`` (``docker image
    inspect``: a list of ``NAME=value``; the last of a name wins, as in the engine)."""
    out = {}
    for item in env or []:
        key, sep, value = str(item).partition("=")
        if sep and key in SEARCH_PATHS:
            out[key] = value
    return out


def extend_search_path(first: str, then: str) -> str:
    """``first`` before ``then`` (``:``-separated folders); ``first`` alone when
    ``then`` is empty (``a:`` would add the working folder to ``PYTHONPATH``)."""
    return f"{first}:{then}" if then else first


def server_env(i: SpecInputs) -> dict[str, str]:
    """The server's environment: the kit's defaults, the spawner's, then the course
    members' and the kit's JupyterLab extension's (a search path of theirs put
    first, before the folders the spawner sets, else before the image's own: the
    container's value replaces the image's)."""
    env = {**kit_env(), **i.env}
    for key, value in [*i.courses_env.items(), *lab_notices_parts(i)[0].items()]:
        if key in SEARCH_PATHS:
            then = env[key] if key in env else i.image_env.get(key, "")
            env[key] = extend_search_path(value, then)
        else:
            env[key] = value
    return env


def extended_search_paths(courses_env: Mapping[str, str], lab_notices: bool) -> set[str]:
    """The :data:`SEARCH_PATHS` a description puts folders of its own in front of
    (their image's values are then needed: :func:`image_search_paths`)."""
    keys = set(courses_env) | (set(lab_notices_env()) if lab_notices else set())
    return keys & SEARCH_PATHS


# -- the kit's JupyterLab extension ------------------------------------------------

#: the kit's Jupyter data folder (``labextensions/jhub-kit-notices``: a prebuilt
#: JupyterLab 4 extension, package data), and where a server sees it (read-only)
JUPYTER_DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "jupyter_data")
JUPYTER_DATA_PATH = "/opt/jhub-kit/jupyter"

#: the kit's own folders a server may have bound read-only: where it sees each
#: (target), and the folder of the installed kit (source)
KIT_FOLDERS = {NOTICES_PATH: NOTICES_DIR, JUPYTER_DATA_PATH: JUPYTER_DATA_DIR}


@dataclass(frozen=True)
class KitFolders:
    """Which of the kit's own folders (:data:`KIT_FOLDERS`) the engine's host has at
    the path the hub sees them at, as the engine answered
    (:mod:`jhub_kit.spawners.kit_folders`): a folder it does not have is bound into
    no server and no pool member (a bind whose source is not on the host fails the
    container's creation), and what needs it is left out (:func:`home_full_parts`,
    :func:`lab_notices_parts`)."""

    #: :data:`NOTICES_DIR` (the page of a server whose home is full)
    notices: bool = True
    #: :data:`JUPYTER_DATA_DIR` (the JupyterLab extension)
    lab: bool = True

    def binds(self) -> dict[str, str]:
        """The folders seen, as :data:`KIT_FOLDERS` names them (target: source)."""
        seen = {NOTICES_PATH: self.notices, JUPYTER_DATA_PATH: self.lab}
        return {t: s for t, s in KIT_FOLDERS.items() if seen[t]}


def lab_notices_env() -> dict[str, str]:
    """What puts the kit's data folder first on the server's Jupyter search path
    (``JUPYTER_PATH``, jupyter_core's ``jupyter_path()``: highest priority and
    additive, so JupyterLab finds ``<it>/labextensions/jhub-kit-notices``)."""
    return {"JUPYTER_PATH": JUPYTER_DATA_PATH}


def lab_notices_parts(i: SpecInputs) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """What a server with the kit's JupyterLab notices gets (nothing when off, or
    where the engine's host does not have the folder: :class:`KitFolders`): its
    search path first on ``JUPYTER_PATH`` and the read-only mount of the folder.
    The same for every user, so every pool member has the mount (:func:`member_kwargs`)."""
    if not (i.lab_notices and i.kit_folders.lab):
        return {}, []
    return lab_notices_env(), [_bind(JUPYTER_DATA_PATH, JUPYTER_DATA_DIR, read_only=True)]


def home_full_parts(i: SpecInputs) -> tuple[list[str], list[dict[str, Any]]]:
    """What a server whose home is full gets (nothing when it is not): arguments
    that open it on the kit's notice (served by the server itself, from
    :data:`NOTICES_PATH`), delete files at once instead of moving them to the
    trash (which needs room in the home), folders with their content; and the
    read-only mount of the notices. Last of the arguments: the notice wins
    over any ``default_url``. Where the engine's host does not have the notices
    (:class:`KitFolders`), the deletions alone: the server opens as usual."""
    if not i.home_full:
        return [], []
    deletions = [
        "--FileContentsManager.delete_to_trash=False",
        "--FileContentsManager.always_delete_dir=True",
    ]
    if not i.kit_folders.notices:
        return deletions, []
    args = [
        f"--ServerApp.extra_static_paths={NOTICES_PATH}",
        f"--ServerApp.default_url=/static/{HOME_FULL_PAGE}",
        *deletions,
    ]
    return args, [_bind(NOTICES_PATH, NOTICES_DIR, read_only=True)]


@dataclass
class ServerSpec:
    """A user's server as data: ``create`` (``create_container`` keywords, without
    ``host_config``) and ``host_config`` (``create_host_config`` keywords)."""

    create: dict[str, Any]
    host_config: dict[str, Any]
    command: list[str]
    args: list[str]
    network_name: str
    remove: bool
    internal_ssl: bool = False
    post_start_cmd: str | bool = False
    home_target: str | None = None
    #: what it was made of (:func:`make_spec`), for :meth:`refined`
    inputs: SpecInputs | None = field(default=None, repr=False, compare=False)

    def refined(self, **changes: Any) -> ServerSpec:
        """This description with some of its inputs changed (the home once it is
        provisioned, the environment once the network is known): one description,
        refined as the start learns more, not the server described again."""
        assert self.inputs is not None, "a description made by make_spec"
        return make_spec(replace(self.inputs, **changes))

    @property
    def image(self) -> str:
        return str(self.create["image"])

    @property
    def env(self) -> dict[str, str]:
        return dict(self.create.get("environment") or {})

    def create_kwargs(self, client: Any) -> dict[str, Any]:
        """``docker.APIClient.create_container`` keywords (host config made by ``client``)."""
        out = copy.deepcopy(self.create)
        out.setdefault("host_config", {}).update(client.create_host_config(**self.host_config))
        return out

    @property
    def mounts(self) -> list[Mountpoint]:
        """Every mount of the server, binds and Mounts alike, home marked."""
        out = [_bind_mountpoint(src, b) for src, b in (self.host_config.get("binds") or {}).items()]
        out += [
            _mount_mountpoint(m, self.home_target) for m in self.host_config.get("mounts") or []
        ]
        return out


def make_spec(i: SpecInputs) -> ServerSpec:
    """The description DockerSpawner's ``create_object`` would build from ``i``, with
    the kit's secure defaults, limits and home (see the module's docstring)."""
    full_args, full_mounts = home_full_parts(i)
    args = [*server_args(i), *full_args]
    command = list(i.command) + args
    create: dict[str, Any] = {
        "image": i.image,
        "environment": server_env(i),
        "volumes": sorted(b["bind"] for b in i.volume_binds.values()),
        "name": i.name,
        "command": command,
        "ports": {f"{i.port}/tcp": None},
    }
    deep_merge(create, copy.deepcopy(i.extra_create_kwargs))
    host_config: dict[str, Any] = {
        "auto_remove": i.remove,
        "binds": copy.deepcopy(i.volume_binds),
        "links": dict(i.links),
        "mounts": [dict(m) for m in i.mount_binds],
    }
    if not i.use_internal_ip:
        host_config["port_bindings"] = {i.port: (i.host_ip,)}
    deep_merge(host_config, copy.deepcopy(i.security))
    deep_merge(host_config, copy.deepcopy(i.extra_host_config))
    host_config.update(i.limits)
    if i.network_name == "host":
        host_config["network_mode"] = "host"
        host_config.pop("port_bindings", None)
    host_config.setdefault("network_mode", i.network_name)
    # a dead container (and why it died) must outlive poll(): the kit removes it
    host_config["auto_remove"] = False
    if i.home is not None:
        host_config["mounts"] = [*(host_config.get("mounts") or []), dict(i.home)]
    if i.courses:  # after the home: mounted inside it
        host_config["mounts"] = [*(host_config.get("mounts") or []), *map(dict, i.courses)]
    kit_mounts = [*full_mounts, *lab_notices_parts(i)[1]]
    if kit_mounts:
        host_config["mounts"] = [*(host_config.get("mounts") or []), *kit_mounts]
    return ServerSpec(
        create=create,
        host_config=host_config,
        command=list(i.command),
        args=args,
        network_name=i.network_name,
        remove=i.remove,
        internal_ssl=i.internal_ssl,
        post_start_cmd=i.post_start_cmd,
        home_target=None if i.home is None else str(i.home["Target"]),
        inputs=i,
    )


def _bind_mountpoint(source: str, bind: Mapping[str, Any]) -> Mountpoint:
    mode = str(bind.get("mode", "rw"))
    flags = set(mode.split(","))
    extra = []
    if flags & {"z", "Z"}:
        extra.append(("selinux", mode))
    if bind.get("propagation"):
        extra.append(("propagation", str(bind["propagation"])))
    kind = "bind" if source.startswith("/") else "volume"
    return Mountpoint(str(bind["bind"]), source, kind, read_only="ro" in flags, extra=tuple(extra))


def _mount_mountpoint(m: Mapping[str, Any], home_target: str | None) -> Mountpoint:
    kind = str(m.get("Type", "volume"))
    extra: list[tuple[str, str]] = []
    propagation = (m.get("BindOptions") or {}).get("Propagation")
    if propagation:
        extra.append(("propagation", str(propagation)))
    vo = m.get("VolumeOptions") or {}
    if vo.get("DriverConfig"):
        extra.append(("volume driver", json.dumps(vo["DriverConfig"], sort_keys=True)))
    if vo.get("NoCopy"):
        extra.append(("nocopy", "true"))
    if m.get("TmpfsOptions"):
        extra.append(("tmpfs", json.dumps(m["TmpfsOptions"], sort_keys=True)))
    target = str(m["Target"])
    return Mountpoint(
        target,
        str(m.get("Source") or ""),
        kind,
        read_only=bool(m.get("ReadOnly")),
        home=home_target is not None and target == home_target,
        extra=tuple(extra),
    )


# -- the pool's view of a description -------------------------------------------

#: create keywords a pooled start applies itself (identity channel, slots) or names
_APPLIED_CREATE = frozenset({"environment", "command", "name", "volumes", "host_config"})
#: host-config keywords a pooled start applies itself (mounts through the slots)
_APPLIED_HOST = LIMIT_KEYS | {"binds", "mounts", "auto_remove"}


def inside(path: str, parent: str) -> bool:
    """Whether container path ``path`` lies strictly inside ``parent``."""
    p, q = posixpath.normpath(path), posixpath.normpath(parent)
    return p != q and p.startswith(q.rstrip("/") + "/")


def slots(mounts: Iterable[Mountpoint]) -> tuple[str, ...]:
    """The targets a pool member must have a slot at: every mount's target that
    lies inside no other mount's (nested ones are mounted inside their parent)."""
    targets = sorted({m.target for m in mounts if m.kind != "tmpfs" and not _members_own(m)})
    return tuple(t for t in targets if not any(inside(t, o) for o in targets))


#: the kit's read-only folders a pool member has, where the engine's host has them
#: (:func:`member_kwargs`, :class:`KitFolders`)
MEMBERS_OWN = KIT_FOLDERS


def _members_own(m: Mountpoint) -> bool:
    """A mount every pool member has already (:func:`member_kwargs`): no slot for it."""
    return MEMBERS_OWN.get(m.target) == m.source and m.read_only and m.kind == "bind"


def fixed_part(spec: ServerSpec) -> dict[str, Any]:
    """What a pooled server must share with the member it runs in: everything but
    the limits, the environment, the arguments, the name and the mounts' sources."""
    create = {k: v for k, v in spec.create.items() if k not in _APPLIED_CREATE}
    if spec.network_name == "host":
        create.pop("ports", None)  # each server gets a free port of the host's
    host = {k: v for k, v in spec.host_config.items() if k not in _APPLIED_HOST}
    tmpfs = [m for m in spec.host_config.get("mounts") or [] if m.get("Type") == "tmpfs"]
    return _canonical(
        {
            "image": spec.image,
            "command": spec.command,
            "create": create,
            "host_config": host,
            "tmpfs": tmpfs,
            "slots": list(slots(spec.mounts)),
            "network": spec.network_name,
            "post_start_cmd": spec.post_start_cmd,
        }
    )


def pool_key(spec: ServerSpec) -> str:
    """A short name for :func:`fixed_part`: members and starts with the same key fit."""
    text = json.dumps(fixed_part(spec), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _canonical(value: Any) -> Any:
    """JSON's view of ``value`` (tuples as lists, keys as strings), for comparing."""
    result: Any = json.loads(json.dumps(value, sort_keys=True, default=repr))
    return result


#: how a refusal names each part of :func:`fixed_part`
_PART_NAMES = {
    "image": "another image",
    "command": "another command",
    "slots": "other mount points",
    "network": "another network",
    "post_start_cmd": "another post_start_cmd",
    "tmpfs": "other tmpfs mounts",
}


def poolable(spec: ServerSpec) -> list[str]:
    """Why no pool member could ever run this description (empty: it could)."""
    why = []
    if spec.internal_ssl:
        why.append("internal_ssl (each server's certificates are made for its start)")
    if not spec.remove:
        why.append("remove = False (each user keeps their own container)")
    base = posixpath.basename(spec.command[0]) if spec.command else ""
    if base not in POOLABLE_COMMANDS:
        why.append(f"the command {spec.command[:1]} is not a single-user server start")
    for m in spec.mounts:
        for name, value in m.extra:
            why.append(f"the mount at {m.target} has {name} {value}")
    return why


def pool_refusals(spec: ServerSpec, member_fixed: Mapping[str, Any]) -> list[str]:
    """Why a member made for ``member_fixed`` (:func:`fixed_part` of the
    configuration's description) cannot run ``spec``; empty when it can."""
    why = poolable(spec)
    mine = fixed_part(spec)
    for part in sorted(set(mine) | set(member_fixed)):
        a, b = mine.get(part), member_fixed.get(part)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b)):
                if a.get(key) != b.get(key):
                    why.append(f"{part} {key}: {b.get(key)!r} in the pool, {a.get(key)!r} here")
        else:
            why.append(f"{_PART_NAMES.get(part, part)}: {b!r} in the pool, {a!r} here")
    return why


# -- a member's container --------------------------------------------------------

#: where a member's launcher and identity channel are mounted
LAUNCHER_PATH = "/opt/jhub-kit/launcher.py"
CHANNEL_PATH = "/run/jhub-kit-pool"


def slot_dir(index: int) -> str:
    """A slot's directory name under a member's directory."""
    return f"slot-{index}"


def member_kwargs(
    spec: ServerSpec,
    *,
    name: str,
    member_dir: str,
    launcher: str,
    python: str,
    limits: Mapping[str, Any],
    prefix: str,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(create, host_config)`` of a member for ``spec`` (a description made from
    the configuration alone): its fixed part as is, the launcher as its command,
    no environment, ``limits`` (nobody's quota), and in place of every mount a slot:
    an empty directory of the member's, bound with ``rslave`` propagation, where a
    start mounts the student's home and volumes (:func:`mount_plan`); and the kit's
    own folders (:data:`MEMBERS_OWN`: the notices, the JupyterLab extension),
    read-only, those the engine's host has (``spec``'s :class:`KitFolders`, as a
    cold start's description leaves out those it has not)."""
    create = {k: copy.deepcopy(v) for k, v in spec.create.items() if k not in _APPLIED_CREATE}
    if spec.network_name == "host":
        create.pop("ports", None)
    create.update(
        image=spec.image,
        command=[python, LAUNCHER_PATH],
        name=name,
        environment={},
        labels={
            **(create.get("labels") or {}),
            POOL_LABEL: prefix,
            POOL_KEY_LABEL: pool_key(spec),
        },
    )
    host = {k: copy.deepcopy(v) for k, v in spec.host_config.items() if k not in _APPLIED_HOST}
    host.update(limits)
    host["auto_remove"] = False
    own = (spec.inputs.kit_folders if spec.inputs is not None else KitFolders()).binds()
    mounts: list[dict[str, Any]] = [
        _bind(LAUNCHER_PATH, launcher, read_only=True),
        _bind(CHANNEL_PATH, posixpath.join(member_dir, "channel"), read_only=True),
        # the kit's notices and JupyterLab extension (read-only, the same for
        # everyone): a member can then start a server whose home is full
        # (home_full_parts) or with the lab's notices (lab_notices_parts) as a cold
        # start would, whatever the configuration said when it was made
        *(_bind(target, source, read_only=True) for target, source in own.items()),
    ]
    for index, target in enumerate(slots(spec.mounts)):
        slot = posixpath.join(member_dir, slot_dir(index))
        mounts.append(_bind(target, slot, propagation="rslave"))
    mounts += [m for m in spec.host_config.get("mounts") or [] if m.get("Type") == "tmpfs"]
    host["mounts"] = mounts
    return create, host


def _bind(target: str, source: str, *, read_only: bool = False, propagation: str = "") -> dict:
    m: dict[str, Any] = {"Target": target, "Source": source, "Type": "bind", "ReadOnly": read_only}
    if propagation:
        m["BindOptions"] = {"Propagation": propagation}
    return m


@dataclass(frozen=True)
class PlannedMount:
    """One mount of a pooled start: ``mount`` at ``path`` under the member's directory."""

    mount: Mountpoint
    path: str  # relative to the member's directory: "slot-0" or "slot-0/work"


def mount_plan(spec: ServerSpec) -> list[PlannedMount]:
    """Where each of ``spec``'s mounts goes under a member's directory (parents
    before the mounts nested in them)."""
    targets = slots(spec.mounts)
    plan = []
    for m in sorted(
        (m for m in spec.mounts if m.kind != "tmpfs" and not _members_own(m)),
        key=lambda m: (posixpath.normpath(m.target).count("/"), m.target),
    ):
        t = posixpath.normpath(m.target)
        for index, slot in enumerate(targets):
            if t == slot:
                plan.append(PlannedMount(m, slot_dir(index)))
                break
            if inside(t, slot):
                rel = posixpath.relpath(t, slot)
                plan.append(PlannedMount(m, posixpath.join(slot_dir(index), rel)))
                break
    return plan


# -- a swarm service ---------------------------------------------------------------


def service_kwargs(
    spec: ServerSpec,
    *,
    name: str,
    resources: Mapping[str, Any],
    constraints: list[str],
    use_internal_ip: bool,
    port: int,
    extra_container_spec: Mapping[str, Any] | None = None,
    extra_task_spec: Mapping[str, Any] | None = None,
    extra_placement_spec: Mapping[str, Any] | None = None,
    extra_endpoint_spec: Mapping[str, Any] | None = None,
    extra_create_kwargs: Mapping[str, Any] | None = None,
    api_version: str = "1.41",
) -> dict[str, Any]:
    """``docker.APIClient.create_service`` keywords for ``spec``, merged as
    SwarmSpawner 14's ``create_object`` does (each ``extra_*_spec`` last in its
    part), with the kit's changes: the quota as ``resources`` (a dict of
    ``docker.types.Resources``), its node labels added to the placement
    ``constraints``, a task that is never restarted behind the hub's back
    (restart condition ``none``, unless ``extra_task_spec`` says otherwise), and
    the secure defaults in the container spec (:func:`service_security`).

    A service has no host config: a description that needs one (a host-config
    keyword beyond the limits, the mounts and the network) is refused by
    :func:`service_refusals` before this is called."""
    from docker.types import (
        ContainerSpec,
        EndpointSpec,
        Placement,
        RestartPolicy,
        TaskTemplate,
    )

    container: dict[str, Any] = {
        "image": spec.image,
        "env": spec.env,
        "args": list(spec.create["command"]),
        "mounts": [dict(m) for m in spec.host_config.get("mounts") or []],
        **service_security(spec.host_config, api_version)[0],
    }
    container.update(extra_container_spec or {})
    placement: dict[str, Any] = {"constraints": None, "preferences": None, "platforms": None}
    placement.update(extra_placement_spec or {})
    placement["constraints"] = [*(placement.get("constraints") or []), *constraints] or None
    task: dict[str, Any] = {
        "container_spec": ContainerSpec(**container),
        "resources": dict(resources),
        "networks": [spec.network_name] if spec.network_name else [],
        "placement": Placement(**placement),
        "restart_policy": RestartPolicy(condition="none"),
    }
    task.update(extra_task_spec or {})
    task["resources"] = dict(resources)  # nobody's config loosens a quota
    endpoint: dict[str, Any] = {}
    if not use_internal_ip:
        endpoint["ports"] = {None: (port, "tcp")}
    endpoint.update(extra_endpoint_spec or {})
    create: dict[str, Any] = {
        "task_template": TaskTemplate(**task),
        "endpoint_spec": EndpointSpec(**endpoint),
        "name": name,
    }
    create.update(extra_create_kwargs or {})
    return create


#: host-config keywords a service's description may hold: what make_spec always sets,
#: and the secure defaults a container spec carries (:func:`service_security`)
_SERVICE_HOST_KEYS = LIMIT_KEYS | {
    "auto_remove",
    "binds",
    "links",
    "mounts",
    "network_mode",
    "cap_add",
    "cap_drop",
    "security_opt",
}

#: the Engine API that first takes ``Privileges.NoNewPrivileges`` on a service (Docker 25)
NO_NEW_PRIVILEGES_API = "1.44"
_NNP = ("no-new-privileges", "no-new-privileges:true", "no-new-privileges=true")


def _api(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split(".") if p.isdigit())


def service_security(
    host_config: Mapping[str, Any], api_version: str
) -> tuple[dict[str, Any], list[str]]:
    """``ContainerSpec`` keywords for the description's secure defaults (the host
    config's ``cap_add``, ``cap_drop`` and ``no-new-privileges``), and, in words, what
    the engine cannot set on a service: ``no-new-privileges`` before Engine API
    1.44 (Docker 25). Any other ``security_opt`` is refused by :func:`service_refusals`."""
    out: dict[str, Any] = {}
    gaps: list[str] = []
    if host_config.get("cap_add"):
        out["cap_add"] = list(host_config["cap_add"])
    if host_config.get("cap_drop"):
        out["cap_drop"] = list(host_config["cap_drop"])
    if any(o in _NNP for o in host_config.get("security_opt") or []):
        if _api(api_version) >= _api(NO_NEW_PRIVILEGES_API):
            out["privileges"] = {"NoNewPrivileges": True}
        else:
            gaps.append(
                f"no-new-privileges: this swarm's Engine API is {api_version}, and a service "
                f"takes it from {NO_NEW_PRIVILEGES_API} (Docker 25) on; set "
                '"no-new-privileges": true in /etc/docker/daemon.json on every node (it then '
                "holds for every container there), or no_new_privileges = False to accept "
                "setuid binaries in servers"
            )
    return out, gaps


def service_refusals(spec: ServerSpec) -> list[str]:
    """Parts of ``spec`` a swarm service cannot express, in words (empty: none)."""
    why = []
    for key, value in spec.host_config.items():
        if key not in _SERVICE_HOST_KEYS and value not in (None, [], {}, ""):
            why.append(f"host config {key} = {value!r} (a swarm service has no host config)")
    if spec.host_config.get("binds") or spec.host_config.get("links"):
        why.append("binds or links (a swarm service takes mounts only)")
    other = [o for o in spec.host_config.get("security_opt") or [] if o not in _NNP]
    if other:
        why.append(f"security_opt {other!r} (a service takes no-new-privileges only)")
    return why
