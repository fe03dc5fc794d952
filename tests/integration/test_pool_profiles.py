"""Pools named only by profiles (issue 37): a profile with a ``pool_size`` of its own
and no top-level ``pool_size`` or ``pool_schedule`` got no pool at all, its starts
cold. Its members fill when the hub starts, before anyone logs in, whether the
profile is in ``profile_list`` or in the policy file; ``jhub-kit pool status`` lists
its kind; a student who picks the profile gets one of its members."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from hubutil import ensure_user, running_hub, stop_server
from test_pool import fresh_pools, pool_config, until  # noqa: F401 - a fixture
from test_profiles_hub import start_with

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.root]

M = 1024**2

OTHER = {
    "display_name": "Other",
    "slug": "other",
    "mem_limit": "350M",
    "pool_size": 1,
    "spawner_override": {"environment": {"COURSE": "other"}},
}


@pytest.mark.usefixtures("fresh_pools")
@pytest.mark.parametrize("where", ["profile_list", "policy_file"])
async def test_a_profiles_own_pool_fills_at_hub_start(
    where, docker_client, test_image, chp, mount_area, docker_debug, tmp_path
):
    from jhub_kit.cli import main

    c = pool_config(test_image, mount_area, size=0)  # no pool_size, no schedule
    python = {"display_name": "Python", "slug": "python", "default": True}
    if where == "profile_list":
        c.QuotaDockerSpawner.profile_list = [python, OTHER]
    else:
        c.QuotaDockerSpawner.profile_list = [python]
        policy = tmp_path / "quotas.toml"
        policy.write_text(
            '[[profiles]]\ndisplay_name = "Other"\nslug = "other"\nmem_limit = "350M"\n'
            'pool_size = 1\n[profiles.spawner_override.environment]\nCOURSE = "other"\n'
        )
        c.QuotaDockerSpawner.quota_policy_file = str(policy)
    async with running_hub(c) as app:
        # nobody has logged in: the hub's start filled the profile's kind alone
        from jhub_kit import registry

        pools = registry.all_of("pool", app.config)
        assert len(pools) == 1, "no pool started for a profile's pool_size"
        pool = pools[0]
        await until(lambda: len(pool.ready) == 1, what="the profile's member ready")
        assert [m.label for m in pool.ready] == ["other"]
        assert pool.status()["kinds"]["other"]["target"] == 1

        pool_dir = c.QuotaDockerSpawner.pool_dir

        def status() -> str:
            r = CliRunner().invoke(main, ["pool", "status", "--pool-dir", pool_dir])
            assert r.exit_code == 0, r.output
            return r.output

        # the hub writes its status every 2 s: the CLI lists the profile's kind, ready
        await until(
            lambda: "other        1 of 1 ready" in status(),
            timeout=30,
            what="`jhub-kit pool status` listing the profile's member",
        )
        assert "(by kind below)" in status()

        ensure_user(app, "pa")
        pa = await start_with(app, "pa", {"profile": "other"})
        sp = pa.spawner
        assert sp.pool_member and sp.profile_label["slug"] == "other"
        info = docker_client.api.inspect_container(sp.object_id)
        assert info["HostConfig"]["Memory"] == 350 * M
        assert sp.get_env()["COURSE"] == "other"
        await stop_server(app, "pa")
