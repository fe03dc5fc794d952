"""QuotaSwarmSpawner's pure parts: the same quota configuration as QuotaDockerSpawner,
and what a swarm service gets from it (no engine)."""

from __future__ import annotations

from types import SimpleNamespace

from traitlets.config import Config

from jhub_kit.quota.policy import Quota
from jhub_kit.quota.swarm_limits import not_enforced, service_resources

M = 1024**2


def test_service_resources_from_a_quota():
    q = Quota(mem_limit=300 * M, swap_limit=0, cpu_limit=0.5, pids_limit=256, mem_guarantee=100 * M)
    r = service_resources(q)
    assert r["Limits"] == {"MemoryBytes": 300 * M, "NanoCPUs": 500_000_000, "Pids": 256}
    assert r["Reservations"] == {"MemoryBytes": 100 * M}
    # the admin's extra_resources_spec wins
    r = service_resources(q, {"cpu_reservation": 250_000_000})
    assert r["Reservations"] == {"MemoryBytes": 100 * M, "NanoCPUs": 250_000_000}
    assert service_resources(Quota()) == {}


def test_what_a_service_cannot_enforce_is_said():
    [gap] = not_enforced(Quota(mem_limit=300 * M, swap_limit=0))
    assert gap.startswith("swap 0: a swarm service cannot set swap")
    assert not_enforced(Quota(mem_limit=None)) == []


async def test_same_vocabulary_same_quota_as_on_one_host():
    from jhub_kit import QuotaDockerSpawner, QuotaSwarmSpawner

    def config(cls: str) -> Config:
        c = Config()
        section = getattr(c, cls)
        section.mem_limit = "1G"
        section.cpu_limit = 1
        section.pids_limit = 512
        section.quota_groups = {"gpu": {"mem_limit": "4G", "cpu_limit": 2}}
        section.quota_users = {"ann": {"pids_limit": 64}}
        return c

    user = SimpleNamespace(name="ann", groups=[SimpleNamespace(name="gpu")])
    on_host = await QuotaDockerSpawner(
        config=config("QuotaDockerSpawner"), user=user
    ).resolve_quota()
    on_swarm = await QuotaSwarmSpawner(
        config=config("QuotaSwarmSpawner"), user=user
    ).resolve_quota()
    assert on_swarm == on_host
    assert (on_swarm.mem_limit, on_swarm.cpu_limit, on_swarm.pids_limit) == (4096 * M, 2, 64)


def test_config_check_says_what_a_swarm_cannot_enforce():
    from jhub_kit.config_check import check_config

    c = Config()
    c.JupyterHub.spawner_class = "quota-swarm"
    c.QuotaSwarmSpawner.mem_limit = "1G"
    c.QuotaSwarmSpawner.swap_limit = 0
    c.QuotaSwarmSpawner.image = "quay.io/jupyter/base-notebook"
    report = check_config(c)
    assert not report.errors, report.errors
    assert report.settings["spawner"] == "jhub_kit.spawners.swarm.QuotaSwarmSpawner"
    assert any(
        w.startswith("on a swarm, swap 0: a swarm service cannot set swap") for w in report.warnings
    )
    c.QuotaSwarmSpawner.mem_limit = "lots"
    assert check_config(c).errors


def test_swarm_spawner_talks_to_its_own_engine():
    """DockerSpawner caches one client per class, read through inheritance: a stock
    DockerSpawner's client (the local engine) was used for the swarm's services."""
    from dockerspawner import DockerSpawner

    from jhub_kit import QuotaSwarmSpawner

    saved = DockerSpawner._client
    DockerSpawner._client = object()  # what a DockerSpawner elsewhere in the process made
    try:
        c = Config()
        c.QuotaSwarmSpawner.client_kwargs = {
            "base_url": "unix:///run/manager.sock",
            "version": "1.41",  # (no call to the engine to ask)
        }
        sp = QuotaSwarmSpawner(config=c, user=SimpleNamespace(name="ann", groups=[]))
        assert sp.client is not DockerSpawner._client
        assert sp.client.base_url == "http+docker://localhost"  # docker-py's name for a socket
        assert sp.client is sp.client  # one per engine
        assert sp.client.adapters["http+docker://"].socket_path == "/run/manager.sock"
    finally:
        DockerSpawner._client = saved


def test_node_labels_in_the_same_policy():
    from jhub_kit.quota.policy import QuotaError, QuotaPolicy
    from jhub_kit.quota.swarm_limits import placement_constraints

    policy = QuotaPolicy.from_config(
        {"mem_limit": "1G"},
        {
            "gpu": {"node_labels": {"gpu": "yes"}, "mem_limit": "4G"},
            "lab": {"node_labels": {"room": "b12"}},
            "other-gpu": {"node_labels": {"gpu": "no"}},
        },
        {"ann": {"node_labels": {}}},
    )
    q = policy.resolve("bob", ["gpu", "lab"])
    assert q.node_labels == (("gpu", "yes"), ("room", "b12"))  # every group's labels
    assert q.mem_limit == 4096 * M
    assert placement_constraints(q) == ["node.labels.gpu==yes", "node.labels.room==b12"]
    assert policy.resolve("ann", ["gpu"]).node_labels == ()  # the user's own entry wins
    assert policy.resolve("cy").node_labels == ()
    assert "nodes gpu=yes,room=b12" in q.describe()
    # stored with the server and read back
    assert Quota.from_state(q.to_state()) == q
    assert "node_labels" not in policy.resolve("cy").to_state()
    # a server's state stored before node_labels existed (a hub upgraded while it ran)
    old = Quota.from_state({"mem_limit": 1024 * M, "swap_limit": 0})
    assert old.node_labels == () and old.to_state() == {"mem_limit": 1024 * M, "swap_limit": 0}
    # two groups that place one user on different kinds of node: a clear error
    try:
        policy.resolve("dan", ["gpu", "other-gpu"])
        raise AssertionError("conflict not refused")
    except QuotaError as e:
        assert "node label gpu = 'yes' and 'no'" in str(e)
    for bad in ({"gpu": "a b"}, {"": "x"}, ["gpu"], {"gpu": "x=y"}):
        try:
            QuotaPolicy.from_config(None, {"g": {"node_labels": bad}})
            raise AssertionError(f"{bad!r} accepted")
        except QuotaError as e:
            assert "node_labels" in str(e)


async def test_a_user_cannot_place_themself():
    """user_options may lower limits; they never choose nodes."""
    from jhub_kit import QuotaSwarmSpawner

    c = Config()
    c.QuotaSwarmSpawner.quota_groups = {"gpu": {"node_labels": {"gpu": "yes"}}}
    user = SimpleNamespace(name="ann", groups=[SimpleNamespace(name="gpu")])
    sp = QuotaSwarmSpawner(config=c, user=user)
    sp.user_options = {"node_labels": {}}
    assert (await sp.resolve_quota()).node_labels == (("gpu", "yes"),)


def test_unschedulable_messages_say_why_in_words():
    from jhub_kit import QuotaSwarmSpawner

    sp = QuotaSwarmSpawner(user=SimpleNamespace(name="ann", groups=[]))
    sp.quota = Quota(node_labels=(("gpu", "yes"),))
    err = "no suitable node (scheduling constraints not satisfied on 3 nodes)"
    assert "of the kind your server runs on (gpu=yes)" in sp._unschedulable_message(err)
    err = "no suitable node (insufficient resources on 3 nodes)"
    assert "not enough free memory or CPUs" in sp._unschedulable_message(err)


def test_config_check_says_one_host_ignores_node_labels():
    from jhub_kit.config_check import check_config

    c = Config()
    c.JupyterHub.spawner_class = "jhub_kit.QuotaDockerSpawner"
    c.QuotaDockerSpawner.quota_groups = {"gpu": {"node_labels": {"gpu": "yes"}}}
    warnings = check_config(c).warnings
    assert any(w.startswith("node_labels (group gpu) place servers on a swarm") for w in warnings)


def test_swarm_start_limit_counts_the_cores_that_take_servers():
    from jhub_kit.quota.swarm_limits import swarm_start_limit

    def node(cpus: float, state: str = "ready", availability: str = "active") -> dict:
        return {
            "Status": {"State": state},
            "Spec": {"Availability": availability},
            "Description": {"Resources": {"NanoCPUs": int(cpus * 1e9)}},
        }

    assert (
        swarm_start_limit([node(8), node(4), node(16, "down"), node(16, availability="drain")])
        == 12
    )
    assert swarm_start_limit([node(1)]) == 2  # never below 2
    assert swarm_start_limit([]) == 2


def test_doctor_verdicts_say_what_to_fix_on_which_node():
    from jhub_kit.spawners.swarm_doctor import verdict

    def task(state: str, err: str = "") -> dict:
        return {"Status": {"State": state, "Err": err}}

    ok = verdict("n2 (10.0.0.3)", task("complete"), "img:1", "/srv/homes")
    assert (
        ok.ok and ok.found == "node n2 (10.0.0.3): image img:1 runs, /srv/homes is the hub's share"
    )
    other = verdict("n2", task("failed", "task: non-zero exit (1)"), "img:1", "/srv/homes")
    assert not other.ok and "is not the hub's share" in other.found
    missing = verdict(
        "n2",
        task("rejected", 'invalid mount config for type "bind": bind source path does not exist'),
        "img:1",
        "/srv/homes",
    )
    assert "/srv/homes does not exist there" in missing.found and "mount" in missing.fix
    no_image = verdict("n2", task("rejected", "No such image: img:1"), "img:1", None)
    assert "cannot be pulled" in no_image.found and "registry" in no_image.fix
    assert not verdict("n2", None, "img:1", None).ok


def test_a_node_is_lost_only_when_down_for_the_grace_and_the_manager_answers():
    from jhub_kit.spawners.swarm import node_lost

    assert not node_lost(down_since=100, manager_away_at=None, now=105, grace=10)
    assert node_lost(down_since=100, manager_away_at=None, now=110, grace=10)
    # the manager was away until 108: its "down" may be nodes not yet reconnected
    assert not node_lost(down_since=100, manager_away_at=108, now=112, grace=10)
    assert node_lost(down_since=100, manager_away_at=108, now=118, grace=10)
