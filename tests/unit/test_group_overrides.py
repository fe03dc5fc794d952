"""JupyterHub's ``group_overrides`` (>= 5.1) and the kit's quota layers, pure: the
order of docs/reference/quotas.md ("With JupyterHub's group_overrides"), through
JupyterHub's own ``apply_group_overrides`` and ``run_pre_spawn_hook`` on a kit
spawner, called in the order ``User.spawn`` calls them. No services.

The same order on a real spawn (the container's memory) is in
tests/integration/test_extension_points_hub.py."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from jupyterhub.utils import maybe_future
from traitlets.config import Config

from jhub_kit import QuotaDockerSpawner, resolve

M = 1024**2
G = 1024**3


def config(policy_file: str = "") -> Config:
    c = Config()
    c.QuotaDockerSpawner.mem_limit = "300M"
    c.QuotaDockerSpawner.cpu_limit = 0.5
    c.QuotaDockerSpawner.group_overrides = {
        "10-big": {"groups": ["big"], "spawner_override": {"mem_limit": "900M", "cpu_limit": 2}},
        "20-env": {"groups": ["big"], "spawner_override": {"environment": {"BIG": "1"}}},
    }
    c.QuotaDockerSpawner.quota_groups = {
        "small": {"mem_limit": "500M"},
        "huge": {"mem_limit": "2G"},
    }
    c.QuotaDockerSpawner.quota_users = {"carl": {"mem_limit": "700M"}}
    if policy_file:
        c.QuotaDockerSpawner.quota_policy_file = policy_file
    return c


def spawner(c: Config, name: str, groups: tuple[str, ...]) -> QuotaDockerSpawner:
    user = SimpleNamespace(name=name, groups=[SimpleNamespace(name=g) for g in groups])
    return QuotaDockerSpawner(config=c, user=user)


async def spawn_quota(sp: QuotaDockerSpawner):
    """What ``User.spawn`` runs before ``start``, then the quota ``start`` resolves."""
    await sp.apply_group_overrides()
    await maybe_future(sp.run_pre_spawn_hook())
    return await sp.resolve_quota()


@pytest.mark.parametrize(
    "name, groups, mem, cpu",
    [
        ("ann", (), 300 * M, 0.5),
        # the override changes the spawner's default, for every key it sets
        ("ann", ("big",), 900 * M, 2.0),
        ("ann", ("small",), 500 * M, 0.5),
        # quota_groups wins over a group override, even with less memory; the
        # override's other keys stay
        ("ann", ("big", "small"), 500 * M, 2.0),
        ("ann", ("big", "huge"), 2 * G, 2.0),
        # a user's own entry wins over both
        ("carl", ("big", "small"), 700 * M, 2.0),
    ],
    ids=[
        "no-group",
        "override",
        "quota-group",
        "override+lower-quota-group",
        "override+higher-quota-group",
        "user-entry",
    ],
)
async def test_quota_groups_layer_over_group_overrides(name, groups, mem, cpu):
    sp = spawner(config(), name, groups)
    quota = await spawn_quota(sp)
    assert (quota.mem_limit, quota.cpu_limit) == (mem, cpu)
    # the report and the CLI tell the same quota as the spawn
    reported = await resolve.quota_for(config(), name, groups)
    assert (reported.mem_limit, reported.cpu_limit) == (mem, cpu)


async def test_before_start_the_trait_reads_as_the_override():
    """A pre_spawn_hook (after the overrides) reads the override as a number, and
    what it sets wins over it: JupyterHub's order, the last one to set it."""
    seen = []

    def hook(sp):
        seen.append(sp.mem_limit)
        sp.mem_limit = "1G"

    c = config()
    c.QuotaDockerSpawner.pre_spawn_hook = hook
    sp = spawner(c, "ann", ("big",))
    quota = await spawn_quota(sp)
    assert seen == [900 * M]
    assert quota.mem_limit == G and quota.cpu_limit == 2.0
    assert sp.environment["BIG"] == "1"  # the override's other traits are JupyterHub's


async def test_policy_file_defaults_win_over_a_group_override(tmp_path):
    """The file's entries win over the spawner's traits, and a group override is
    one of those: give a group more through quota_groups or the file's groups."""
    policy = tmp_path / "quotas.toml"
    policy.write_text('[defaults]\nmem_limit = "400M"\n\n[groups.small]\ncpu_limit = 1\n')
    c = config(str(policy))
    quota = await spawn_quota(spawner(c, "ann", ("big",)))
    assert (quota.mem_limit, quota.cpu_limit) == (400 * M, 2.0)
    quota = await spawn_quota(spawner(c, "ann", ("big", "small")))
    assert (quota.mem_limit, quota.cpu_limit) == (500 * M, 1.0)


async def test_an_override_for_another_spawner_changes_nothing():
    """Each start has a spawner of its own: one user's override is not another's."""
    c = config()
    await spawn_quota(spawner(c, "ann", ("big",)))
    bob = spawner(c, "bob", ())
    quota = await spawn_quota(bob)
    assert (quota.mem_limit, quota.cpu_limit) == (300 * M, 0.5)
    assert "BIG" not in bob.environment  # a merged dict is the spawner's own copy


async def test_the_teachers_file_wins_over_the_admins_file_and_missing_is_nothing(tmp_path):
    """The class dashboard writes teachers' changes to teacher_policy_file, layered over
    the admin's quota_policy_file key by key; the report resolves the same."""
    policy = tmp_path / "quotas.toml"
    policy.write_text('[defaults]\nmem_limit = "400M"\n\n[users.ann]\ncpu_limit = 1\n')
    teachers = tmp_path / "teachers" / "policy.toml"
    c = config(str(policy))
    c.QuotaDockerSpawner.teacher_policy_file = str(teachers)
    quota = await spawn_quota(spawner(c, "ann", ()))
    assert (quota.mem_limit, quota.cpu_limit) == (400 * M, 1.0)  # no teachers' file yet
    teachers.parent.mkdir()
    teachers.write_text('[users.ann]\nmem_limit = "1G"\n')
    quota = await spawn_quota(spawner(c, "ann", ()))
    assert (quota.mem_limit, quota.cpu_limit) == (G, 1.0)
    assert (await resolve.quota_for(c, "ann", ())).mem_limit == G
    assert spawner(c, "ann", ()).resolve_quota_now().mem_limit == G
    assert (await spawn_quota(spawner(c, "bob", ()))).mem_limit == 400 * M
