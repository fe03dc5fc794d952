"""One spawner for nobody (jhub_kit.standin): what the pool, the hub's start, the CLI
and the config check all build, reading the configuration the same way."""

from __future__ import annotations

from traitlets.config import Config

from jhub_kit import resolve
from jhub_kit.spawners.docker import QuotaDockerSpawner
from jhub_kit.standin import STAND_IN_NAME, is_stand_in, stand_in


async def test_a_stand_in_reads_the_configuration_and_its_groups():
    c = Config()
    c.QuotaDockerSpawner.mem_limit = "1G"
    c.QuotaDockerSpawner.quota_groups = {"lab": {"mem_limit": "2G"}}
    nobody = stand_in(QuotaDockerSpawner, c)
    assert nobody.user.name == STAND_IN_NAME and is_stand_in(nobody.user)
    assert nobody.user_groups() == [] and (await nobody.resolve_quota()).mem_limit == 1024**3
    member = stand_in(QuotaDockerSpawner, c, name="ann", groups=("lab",))
    assert (
        member.user_groups() == ["lab"] and (await member.resolve_quota()).mem_limit == 2 * 1024**3
    )
    # the CLI's answer is the same stand-in's
    assert (await resolve.quota_for(c, "ann", ["lab"])).mem_limit == 2 * 1024**3
