"""The one description of a server (jhub_kit.spec): pure, no engine.

- make_spec merges exactly as DockerSpawner 14's create_object does (checked
  against DockerSpawner itself, its Docker calls answered by a stand-in that
  returns what it was asked to create), with the kit's documented changes;
- the pool's view: slots, the key, the refusals, a member's container, the
  mount plan.
"""

from __future__ import annotations

import asyncio
import copy

import docker
import pytest
from dockerspawner import DockerSpawner

from jhub_kit import spec
from jhub_kit.spec import Mountpoint, SpecInputs, make_spec

API = docker.APIClient(base_url="unix:///nonexistent.sock", version="1.41")
SECURITY = {"security_opt": ["no-new-privileges:true"], "cap_drop": ["ALL"]}
LIMITS = {"mem_limit": 300 * 2**20, "memswap_limit": 300 * 2**20, "pids_limit": 256}


def inputs(**kw) -> SpecInputs:
    base = dict(
        image="img:1",
        command=["jupyterhub-singleuser"],
        args=["--port=8888"],
        env={"JUPYTERHUB_API_TOKEN": "t", "A": "1"},
        name="jupyter-alice",
        port=8888,
        network_name="net",
        use_internal_ip=True,
        host_ip="127.0.0.1",
        remove=True,
        security=SECURITY,
        limits=LIMITS,
    )
    base.update(kw)
    return SpecInputs(**base)


def member(described, limits=None) -> tuple[dict, dict]:
    """``(create, host_config)`` of pool member jhub-pool-1 made for ``described`` (a
    description of the configuration)."""
    return spec.member_kwargs(
        described,
        name="jhub-pool-1",
        member_dir="/run/pool/jhub-pool-1",
        launcher="/usr/lib/launcher.py",
        python="python3",
        limits=limits or {},
        prefix="jhub",
    )


def member_mounts(described) -> dict[str, dict]:
    """The mounts, by target, of a pool member made for ``described``."""
    return {m["Target"]: m for m in member(described)[1]["mounts"]}


# -- make_spec against DockerSpawner's own create_object --------------------------


class CapturingDockerSpawner(DockerSpawner):
    """Stock DockerSpawner whose create_container returns its keywords (nothing runs)."""

    async def docker(self, method, *args, **kwargs):
        if method == "create_container":
            return kwargs
        if method == "inspect_image":
            return {"Config": {"Cmd": ["jupyterhub-singleuser"], "User": "1000"}}
        raise AssertionError(f"no engine here: {method}")

    def get_env(self):
        return {"A": "1"}

    def get_args(self):
        return ["--port=8888"]


OPTIONS = {
    "plain": {},
    "volumes": {
        "volumes": {
            "vol-{username}": "/home/jovyan/work",
            "/srv/course": {"bind": "/home/jovyan/course", "mode": "ro"},
        },
        "read_only_volumes": {"/srv/data": "/data"},
    },
    "mounts": {
        "mounts": [
            {"source": "/srv/x-{username}", "target": "/x", "type": "bind", "read_only": True},
            {"source": "", "target": "/scratch", "type": "tmpfs"},
        ]
    },
    "extra-create": {
        "extra_create_kwargs": {
            "user": "root",
            "working_dir": "/home/{username}",
            "environment": {"B": "2"},
            "labels": {"course": "intro"},
        }
    },
    "extra-host": {
        "extra_host_config": {
            "extra_hosts": {"db": "10.0.0.5"},
            "cpu_period": 50_000,
            "shm_size": "1G",
            "devices": ["/dev/fuse"],
        }
    },
    "port-bindings": {"use_internal_ip": False, "network_name": "bridge"},
    "links": {"links": {"db": "db"}},
    "callable-create": {"extra_create_kwargs": lambda s: {"hostname": s.user.name}},
}


def stock_kwargs(options: dict) -> dict:
    class User:
        name = "alice"

    s = CapturingDockerSpawner(user=User(), **copy.deepcopy(options))
    s.remove = True
    s.mem_limit = None
    s.cpu_limit = None
    return asyncio.run(s.create_object()), s


def kit_kwargs(s: DockerSpawner) -> dict:
    ecc = s._render_templates(s._eval_if_callable(s.extra_create_kwargs))
    ehc = s._render_templates(s._eval_if_callable(s.extra_host_config))
    described = make_spec(
        SpecInputs(
            image=s.image,
            command=["jupyterhub-singleuser"],
            args=s.get_args(),
            env=s.get_env(),
            name=s.container_name,
            port=s.port,
            network_name=s.network_name,
            use_internal_ip=s.use_internal_ip,
            host_ip=s.host_ip,
            remove=s.remove,
            volume_binds=s.volume_binds,
            mount_binds=[dict(m) for m in s.mount_binds],
            links=dict(s.links or {}),
            extra_create_kwargs=ecc,
            extra_host_config=ehc,
        )
    )
    return described.create_kwargs(API)


@pytest.mark.parametrize("case", list(OPTIONS))
def test_make_spec_is_dockerspawners_create_object(case):
    """Same options, same container: the kit's only changes with no security or
    limits given are auto_remove (the kit removes a dead container itself) and the
    runtime files' directory outside the home (a full home must not stop a start)."""
    stock, s = stock_kwargs(OPTIONS[case])
    kit = kit_kwargs(s)
    assert kit["environment"].pop("JUPYTER_RUNTIME_DIR") == spec.RUNTIME_DIR
    stock_hc, kit_hc = stock.pop("host_config"), kit.pop("host_config")
    assert kit == stock
    assert stock_hc.pop("AutoRemove") is True and kit_hc.pop("AutoRemove", False) is False
    assert kit_hc == stock_hc


def test_the_kit_changes_security_and_limits_only_where_it_says():
    described = make_spec(
        inputs(extra_host_config={"cap_drop": [], "mem_limit": "8G", "cpu_period": 50_000})
    )
    hc = described.host_config
    assert hc["cap_drop"] == []  # the admin may loosen the secure defaults
    assert hc["security_opt"] == ["no-new-privileges:true"]
    assert hc["mem_limit"] == 300 * 2**20  # nobody's config loosens a quota
    assert hc["auto_remove"] is False
    assert hc["network_mode"] == "net"


def test_host_network_has_no_port_bindings():
    described = make_spec(inputs(network_name="host", use_internal_ip=False))
    assert "port_bindings" not in described.host_config
    assert described.host_config["network_mode"] == "host"


def test_home_is_the_last_mount():
    home = {"Target": "/home/jovyan", "Source": "/srv/homes/alice", "Type": "bind"}
    described = make_spec(
        inputs(mount_binds=[{"Target": "/x", "Source": "/y", "Type": "bind"}], home=home)
    )
    assert described.host_config["mounts"][-1] == home
    assert described.home_target == "/home/jovyan"
    assert [m.home for m in described.mounts] == [False, True]


# -- mounts, slots, the plan ------------------------------------------------------


@pytest.mark.parametrize(
    "bind, expected",
    [
        ({"bind": "/w", "mode": "rw"}, Mountpoint("/w", "vol", "volume")),
        ({"bind": "/w", "mode": "ro"}, Mountpoint("/w", "vol", "volume", read_only=True)),
        ({"bind": "/w", "mode": "z"}, Mountpoint("/w", "vol", "volume", extra=(("selinux", "z"),))),
        (
            {"bind": "/w", "mode": "rw", "propagation": "rshared"},
            Mountpoint("/w", "vol", "volume", extra=(("propagation", "rshared"),)),
        ),
    ],
    ids=["rw", "ro", "selinux", "propagation"],
)
def test_binds_read_as_mountpoints(bind, expected):
    described = make_spec(inputs(volume_binds={"vol": bind}))
    assert described.mounts == [expected]


@pytest.mark.parametrize(
    "targets, expected",
    [
        (["/home/jovyan"], ("/home/jovyan",)),
        (["/home/jovyan", "/home/jovyan/work"], ("/home/jovyan",)),
        (["/home/jovyan/work", "/srv/course"], ("/home/jovyan/work", "/srv/course")),
        (["/home/jo", "/home/jovyan"], ("/home/jo", "/home/jovyan")),  # a prefix, not a parent
        (["/a/b/", "/a/b/c"], ("/a/b/",)),
    ],
)
def test_slots_are_the_outermost_targets(targets, expected):
    mounts = [Mountpoint(t, "/src", "bind") for t in targets]
    assert spec.slots(mounts) == expected


def test_mount_plan_puts_nested_mounts_inside_their_slot_after_it():
    home = {"Target": "/home/jovyan", "Source": "/h", "Type": "bind"}
    described = make_spec(
        inputs(
            volume_binds={
                "work-alice": {"bind": "/home/jovyan/work", "mode": "rw"},
                "/srv/course": {"bind": "/srv/course", "mode": "ro"},
                "/srv/deep": {"bind": "/home/jovyan/work/deep", "mode": "rw"},
            },
            home=home,
        )
    )
    plan = [(p.mount.target, p.path) for p in spec.mount_plan(described)]
    assert plan == [
        ("/home/jovyan", "slot-0"),
        ("/srv/course", "slot-1"),
        ("/home/jovyan/work", "slot-0/work"),
        ("/home/jovyan/work/deep", "slot-0/work/deep"),
    ]


# -- JupyterLab's extension manager ----------------------------------------------------


@pytest.mark.parametrize(
    ("manager", "args"),
    [
        pytest.param(None, ["--port=8888"], id="unset"),
        pytest.param(
            "readonly", ["--LabApp.extension_manager=readonly", "--port=8888"], id="readonly"
        ),
        pytest.param("pypi", ["--LabApp.extension_manager=pypi", "--port=8888"], id="pypi"),
    ],
)
def test_the_description_carries_the_extension_manager_only_when_set(manager, args):
    """The argument is in the description's arguments (what a pooled start hands
    over) and in its command (what the cold path and a service run), before the
    spawner's own arguments, so an ``--LabApp.extension_manager`` in ``args`` wins."""
    described = make_spec(inputs(lab_extension_manager=manager))
    assert described.args == args
    assert described.create["command"] == ["jupyterhub-singleuser", *args]
    service = spec.service_kwargs(
        described,
        name="jupyter-alice",
        resources={},
        constraints=[],
        use_internal_ip=True,
        port=8888,
    )
    assert service["task_template"]["ContainerSpec"]["Args"] == ["jupyterhub-singleuser", *args]


def test_the_extension_manager_is_no_part_of_the_pools_key():
    """A member is made from the configuration without arguments; the manager comes
    with the identity, so a member fits a start with or without it."""
    member = make_spec(inputs(env={}, args=[], name=""))
    user = make_spec(inputs(lab_extension_manager="readonly"))
    assert spec.pool_key(user) == spec.pool_key(member)
    assert spec.pool_refusals(user, spec.fixed_part(member)) == []


@pytest.mark.parametrize("value", ["", "read only", "readonly=1", "pypi\n"])
def test_an_extension_manager_must_be_a_name(value):
    from traitlets import TraitError

    from jhub_kit.spawners.singleuser import SingleUserOptionsMixin

    with pytest.raises(TraitError, match=r"SingleUserOptionsMixin\.lab_extension_manager"):
        SingleUserOptionsMixin(lab_extension_manager=value)
    assert SingleUserOptionsMixin().lab_extension_manager is None
    assert SingleUserOptionsMixin(lab_extension_manager="readonly").lab_extension_manager == (
        "readonly"
    )


# -- the pool's key and refusals ----------------------------------------------------


def pool_pair(**user_kw):
    """(the configuration's description, this user's)"""
    member = make_spec(inputs(env={}, args=[], name=""))
    user = make_spec(inputs(**user_kw))
    return member, user


def test_what_a_running_member_takes_is_not_in_the_key():
    member = make_spec(inputs(env={}, args=[], name="", limits={}))
    user = make_spec(
        inputs(
            env={"JUPYTERHUB_API_TOKEN": "secret", "B": "2"},
            args=["--port=1234"],
            name="jupyter-bob",
            limits={"mem_limit": 2**30, "cpu_quota": 50_000, "cpu_period": 100_000},
            volume_binds={},
        )
    )
    assert spec.pool_key(user) == spec.pool_key(member)
    assert spec.pool_refusals(user, spec.fixed_part(member)) == []
    assert "secret" not in repr(spec.fixed_part(user))


def test_volume_sources_differ_per_user_but_fit_one_member():
    def with_volume(name):
        return make_spec(inputs(volume_binds={name: {"bind": "/home/jovyan/work", "mode": "rw"}}))

    assert spec.pool_key(with_volume("vol-alice")) == spec.pool_key(with_volume("vol-bob"))


@pytest.mark.parametrize(
    "user_kw, words",
    [
        ({"image": "other:2"}, "another image"),
        ({"extra_host_config": {"extra_hosts": {"db": "10.0.0.5"}}}, "extra_hosts"),
        ({"extra_host_config": {"devices": ["/dev/fuse"]}}, "devices"),
        ({"extra_host_config": {"cap_add": ["SYS_ADMIN"]}}, "cap_add"),
        ({"extra_create_kwargs": {"user": "root"}}, "user"),
        ({"command": ["/bin/bash", "-c", "x"]}, "command"),
        ({"use_internal_ip": False, "network_name": "bridge"}, "port_bindings"),
        ({"internal_ssl": True}, "internal_ssl"),
        ({"remove": False}, "remove = False"),
        ({"volume_binds": {"/srv": {"bind": "/srv", "mode": "rw"}}}, "other mount points"),
        ({"volume_binds": {"v": {"bind": "/w", "mode": "Z"}}}, "selinux"),
        ({"post_start_cmd": "ls"}, "post_start_cmd"),
        ({"extra_create_kwargs": {"labels": {"u": "alice"}}}, "labels"),
    ],
)
def test_anything_else_is_refused_in_words(user_kw, words):
    member, user = pool_pair(**user_kw)
    why = spec.pool_refusals(user, spec.fixed_part(member))
    assert why and any(words in w for w in why), why


def test_an_unpoolable_configuration_says_why():
    assert spec.poolable(make_spec(inputs(command=["start.sh", "lab"]))) == [
        "the command ['start.sh'] is not a single-user server start"
    ]
    assert spec.poolable(make_spec(inputs(command=["/usr/local/bin/start-notebook.py"]))) == []


def test_member_container_holds_nothing_of_anyone():
    home = {"Target": "/home/jovyan", "Source": "", "Type": "bind"}
    configured = make_spec(
        inputs(
            env={},
            args=[],
            name="",
            home=home,
            volume_binds={"/srv/course": {"bind": "/srv/course", "mode": "ro"}},
            mount_binds=[{"Target": "/scratch", "Source": "", "Type": "tmpfs"}],
            extra_create_kwargs={"labels": {"course": "intro"}},
        )
    )
    create, host = member(configured, limits={"mem_limit": 2**30})
    assert create["command"] == ["python3", spec.LAUNCHER_PATH]
    assert create["environment"] == {}
    assert create["labels"] == {
        "course": "intro",
        spec.POOL_LABEL: "jhub",
        spec.POOL_KEY_LABEL: spec.pool_key(configured),
    }
    assert host["mem_limit"] == 2**30 and "pids_limit" not in host
    assert "binds" not in host
    targets = {m["Target"]: m for m in host["mounts"]}
    assert targets["/home/jovyan"]["Source"] == "/run/pool/jhub-pool-1/slot-0"
    assert targets["/home/jovyan"]["BindOptions"] == {"Propagation": "rslave"}
    assert targets["/srv/course"]["Source"] == "/run/pool/jhub-pool-1/slot-1"
    assert targets[spec.CHANNEL_PATH]["ReadOnly"] is True
    assert targets["/scratch"]["Type"] == "tmpfs"
    assert host["security_opt"] == SECURITY["security_opt"]


# -- a swarm service ----------------------------------------------------------------


class CapturingSwarmSpawner:
    """Stock SwarmSpawner whose create_service returns its keywords (nothing runs)."""

    @staticmethod
    def make(**options):
        from dockerspawner import SwarmSpawner

        class Capture(SwarmSpawner):
            async def docker(self, method, *args, **kwargs):
                if method == "create_service":
                    return kwargs
                if method == "tasks":
                    return [{"ID": "t"}]
                if method == "inspect_image":
                    return {"Config": {"Cmd": ["jupyterhub-singleuser"]}}
                raise AssertionError(f"no engine here: {method}")

            def get_env(self):
                return {"A": "1"}

            def get_args(self):
                return ["--port=8888"]

        class User:
            name = "alice"

        return Capture(user=User(), **options)


SWARM_OPTIONS = {
    "plain": {},
    "volumes": {"volumes": {"/srv/homes/{username}": "/home/jovyan", "/srv/c": "/c"}},
    "extras": {
        "extra_container_spec": {"user": "1000", "workdir": "/home/jovyan"},
        "extra_placement_spec": {"constraints": ["node.role==worker"]},
        "extra_endpoint_spec": {"mode": "dnsrr"},
        "extra_create_kwargs": {"labels": {"course": "intro"}},
        "network_name": "overlay-net",
        "use_internal_ip": True,
    },
    "published": {"use_internal_ip": False, "network_name": "ingress-net"},
}


@pytest.mark.parametrize("case", list(SWARM_OPTIONS))
def test_service_kwargs_are_swarmspawners_create_object(case):
    """Same options, same service, but for the kit's changes: the quota's
    resources, its placement constraints, a task never restarted behind the hub,
    and the runtime files' directory outside the home."""
    s = CapturingSwarmSpawner.make(**copy.deepcopy(SWARM_OPTIONS[case]))
    s.mem_limit = 2**30
    stock = asyncio.run(s.create_object())
    described = make_spec(
        SpecInputs(
            image=s.image,
            command=["jupyterhub-singleuser"],
            args=s.get_args(),
            env=s.get_env(),
            name=s.service_name,
            port=s.port,
            network_name=s.network_name,
            use_internal_ip=True,
            host_ip=s.host_ip,
            remove=True,
            mount_binds=[dict(m) for m in s.mounts],
        )
    )
    assert spec.service_refusals(described) == []
    kit = spec.service_kwargs(
        described,
        name=s.service_name,
        resources={"Limits": {"MemoryBytes": 2**30}},
        constraints=["node.labels.gpu==yes"],
        use_internal_ip=s.use_internal_ip,
        port=s.port,
        extra_container_spec=s.extra_container_spec,
        extra_task_spec=s.extra_task_spec,
        extra_placement_spec=s.extra_placement_spec,
        extra_endpoint_spec=s.extra_endpoint_spec,
        extra_create_kwargs=s.extra_create_kwargs,
    )
    stock_task, kit_task = stock.pop("task_template"), kit.pop("task_template")
    assert kit == stock
    kit_task["ContainerSpec"]["Env"].remove(f"JUPYTER_RUNTIME_DIR={spec.RUNTIME_DIR}")
    assert kit_task.pop("RestartPolicy")["Condition"] == "none"
    assert kit_task["Resources"] == {"Limits": {"MemoryBytes": 2**30}}
    assert stock_task["Resources"]["Limits"]["MemoryBytes"] == 2**30
    kit_task.pop("Resources"), stock_task.pop("Resources")
    kit_placement, stock_placement = kit_task.pop("Placement"), stock_task.pop("Placement", {})
    stock_constraints = stock_placement.pop("Constraints", None) or []
    assert kit_placement.pop("Constraints") == [*stock_constraints, "node.labels.gpu==yes"]
    assert kit_placement == stock_placement
    assert kit_task == stock_task


def test_a_service_cannot_take_a_host_config():
    described = make_spec(
        inputs(
            security={},
            limits={},
            extra_host_config={"devices": ["/dev/fuse"]},
            volume_binds={"v": {"bind": "/w", "mode": "rw"}},
        )
    )
    why = spec.service_refusals(described)
    assert any("devices" in w for w in why) and any("binds" in w for w in why)


def _container(kwargs):
    return kwargs["task_template"]["ContainerSpec"]


def _service(described, api):
    return spec.service_kwargs(
        described,
        name="s",
        resources={},
        constraints=[],
        use_internal_ip=True,
        port=8888,
        api_version=api,
    )


@pytest.mark.parametrize(
    "api, privileges, gap",
    [("1.41", None, True), ("1.43", None, True), ("1.44", {"NoNewPrivileges": True}, False)],
)
def test_a_service_carries_the_secure_defaults_its_engine_can_set(api, privileges, gap):
    """cap_drop / cap_add go into the container spec on every engine the kit takes;
    no-new-privileges from Engine API 1.44 on, and before that the gap is said."""
    described = make_spec(inputs(security={**SECURITY, "cap_add": ["CHOWN"]}, limits={}))
    assert spec.service_refusals(described) == []
    container = _container(_service(described, api))
    assert container["CapabilityDrop"] == ["ALL"]
    assert container["CapabilityAdd"] == ["CHOWN"]
    assert container.get("Privileges") == privileges
    gaps = spec.service_security(described.host_config, api)[1]
    assert bool(gaps) is gap
    if gap:
        assert "daemon.json" in gaps[0] and api in gaps[0]


def test_a_service_without_hardening_carries_none():
    described = make_spec(inputs(security={}, limits={}))
    container = _container(_service(described, "1.44"))
    assert not {"CapabilityDrop", "CapabilityAdd", "Privileges"} & set(container)
    assert spec.service_security(described.host_config, "1.41") == ({}, [])


def test_a_service_refuses_security_options_it_cannot_carry():
    described = make_spec(
        inputs(security={"security_opt": ["no-new-privileges", "apparmor=unconfined"]}, limits={})
    )
    why = spec.service_refusals(described)
    assert any("apparmor=unconfined" in w for w in why)
