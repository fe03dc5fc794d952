"""The options a site configures (``c.QuotaDockerSpawner.<name>``), frozen: the
kit's own traits of each spawner with their types and defaults, as they were
before the spawners' behaviour moved from mixins into parts (issue 36). Moving a
trait between classes must not change what a site writes; a new option is added
here, a renamed one keeps its old name through :mod:`jhub_kit.deprecation`."""

from __future__ import annotations

import pytest
from traitlets.config import Config

QUOTADOCKERSPAWNER_TRAITS = {
    "activity_interval": ("Int", "300"),
    "cap_add": ("Union", "'auto'"),
    "cap_drop": ("List", "['ALL']"),
    "concurrent_starts": ("Int", "0"),
    "cpu_budget": ("Union", "None"),
    "cpu_guarantee": ("Union", "None"),
    "cpu_limit": ("Union", "None"),
    "disk_limit": ("Union", "None"),
    "docker_threads": ("Int", "4"),
    "home_full_notice": ("Bool", "True"),
    "home_per_server": ("Bool", "False"),
    "home_provisioner": ("Union", "None"),
    "home_target": ("Unicode", "''"),
    "hub_connect_auto": ("Bool", "True"),
    "idle_timeout": ("Union", "None"),
    "lab_extension_manager": ("Unicode", "None"),
    "lab_notices": ("Bool", "False"),
    "loop_stall_log": ("Float", "0"),
    "max_age": ("Union", "None"),
    "max_servers": ("Union", "None"),
    "mem_budget": ("Union", "None"),
    "mem_guarantee": ("Union", "None"),
    "mem_limit": ("Union", "None"),
    "network_isolation": ("Bool", "True"),
    "network_isolation_allow": ("List", "[]"),
    "no_new_privileges": ("Bool", "True"),
    "node_labels": ("Dict", "{}"),
    "pids_limit": ("Union", "None"),
    "pool_dir": ("Unicode", "'/run/jhub-kit/pool'"),
    "pool_fill_max": ("Int", "100"),
    "pool_lag_budget": ("Float", "0.1"),
    "pool_lag_max_wait": ("Float", "20"),
    "pool_max_age": ("Float", "14400"),
    "pool_python": ("Unicode", "'python3'"),
    "pool_schedule": ("List", "[]"),
    "pool_size": ("Int", "0"),
    "profile_list": ("List", "[]"),
    "queue_timeout": ("Float", "900"),
    "quota_ceiling": ("Dict", "{}"),
    "quota_ceiling_groups": ("Dict", "{}"),
    "quota_groups": ("Dict", "{}"),
    "quota_policy_file": ("Unicode", "''"),
    "quota_users": ("Dict", "{}"),
    "start_after_queue_timeout": ("Float", "120"),
    "start_queue_max": ("Int", "0"),
    "startup_timeout": ("Any", "None"),
    "swap_limit": ("Union", "None"),
    "teacher_policy_file": ("Unicode", "''"),
    "usage_interval": ("Float", "60"),
}
QUOTASWARMSPAWNER_TRAITS = {
    "activity_interval": ("Int", "300"),
    "cap_add": ("Union", "'auto'"),
    "cap_drop": ("List", "['ALL']"),
    "concurrent_starts": ("Int", "0"),
    "cpu_budget": ("Union", "None"),
    "cpu_guarantee": ("Union", "None"),
    "cpu_limit": ("Union", "None"),
    "disk_limit": ("Union", "None"),
    "home_full_notice": ("Bool", "True"),
    "home_per_server": ("Bool", "False"),
    "home_provisioner": ("Union", "None"),
    "home_target": ("Unicode", "''"),
    "idle_timeout": ("Union", "None"),
    "lab_extension_manager": ("Unicode", "None"),
    "lab_notices": ("Bool", "False"),
    "lost_node_grace": ("Float", "10"),
    "max_age": ("Union", "None"),
    "max_servers": ("Union", "None"),
    "mem_budget": ("Union", "None"),
    "mem_guarantee": ("Union", "None"),
    "mem_limit": ("Union", "None"),
    "no_new_privileges": ("Bool", "True"),
    "node_engine_url": ("Unicode", "''"),
    "node_engines": ("Dict", "{}"),
    "node_labels": ("Dict", "{}"),
    "pids_limit": ("Union", "None"),
    "profile_list": ("List", "[]"),
    "queue_timeout": ("Float", "900"),
    "quota_ceiling": ("Dict", "{}"),
    "quota_ceiling_groups": ("Dict", "{}"),
    "quota_groups": ("Dict", "{}"),
    "quota_policy_file": ("Unicode", "''"),
    "quota_users": ("Dict", "{}"),
    "start_after_queue_timeout": ("Float", "120"),
    "start_queue_max": ("Int", "0"),
    "startup_timeout": ("Any", "None"),
    "swap_limit": ("Union", "None"),
    "teacher_policy_file": ("Unicode", "''"),
    "usage_interval": ("Float", "60"),
}


def _spawners():
    from jhub_kit import QuotaDockerSpawner, QuotaSwarmSpawner

    return {"QuotaDockerSpawner": QuotaDockerSpawner, "QuotaSwarmSpawner": QuotaSwarmSpawner}


@pytest.mark.parametrize(
    "name, frozen",
    [
        ("QuotaDockerSpawner", QUOTADOCKERSPAWNER_TRAITS),
        ("QuotaSwarmSpawner", QUOTASWARMSPAWNER_TRAITS),
    ],
    ids=["docker", "swarm"],
)
def test_the_kits_options_keep_their_names_types_and_defaults(name, frozen):
    cls = _spawners()[name]
    own = {
        n: (type(t).__name__, t.default_value_repr())
        for n, t in cls.class_traits(config=True).items()
        if t.this_class.__module__.split(".")[0] == "jhub_kit"
    }
    assert own == frozen
    for n, t in cls.class_traits(config=True).items():
        if n in frozen and n != "startup_timeout":  # the renamed one's help is the warning
            assert t.help.strip(), f"{name}.{n} has no help"


def test_the_computed_defaults_stay_computed():
    """The defaults worked out from other settings: the queue's width from the cores,
    its length and JupyterHub's start_timeout from the queue's."""
    from types import SimpleNamespace

    from jhub_kit.loop.admission import default_limit

    c = Config()
    c.JupyterHub.concurrent_spawn_limit = 50
    c.QuotaDockerSpawner.queue_timeout = 100
    c.QuotaDockerSpawner.start_after_queue_timeout = 20
    sp = _spawners()["QuotaDockerSpawner"](config=c, user=SimpleNamespace(name="ann", groups=[]))
    assert sp.concurrent_starts == default_limit()
    assert sp.start_queue_max == 50 - default_limit()
    assert sp.start_timeout == 120
