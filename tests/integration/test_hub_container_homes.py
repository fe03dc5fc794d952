"""Which homes work with the hub in a container (docs/reference/homes.md, "Where the
hub runs"): docker-volume homes do (tests/system/test_compose_deploy.py); a loop-mounted
home from an unprivileged hub container is refused with what to change, and leaves
nothing behind."""

from __future__ import annotations

import json

import pytest

pytestmark = [pytest.mark.docker]

SCRIPT = """
import asyncio, json, os
from traitlets.config import Config
from jhub_kit.provision import ProvisionError, provisioner_class
from jhub_kit.quota.policy import Quota

c = Config()
c.LoopfileProvisioner.base_dir = "/srv/homes"
p = provisioner_class("loopfile")(config=c)

async def main():
    try:
        await p.provision("alice", Quota(disk_limit=64 * 2**20))
        error = None
    except ProvisionError as e:
        error = str(e)
    left = sorted(os.path.join(d, f) for d, _, fs in os.walk("/srv/homes") for f in fs)
    print(json.dumps({"error": error, "state": p.state.read(), "files": left}))

asyncio.run(main())
"""


def test_loopfile_home_from_an_unprivileged_hub_container(docker_client, kit_hub_image):
    out = docker_client.containers.run(
        kit_hub_image, ["python3", "-c", SCRIPT], remove=True, network_mode="none"
    )
    result = json.loads(out.decode().strip().splitlines()[-1])
    assert result["error"], result
    assert "--privileged -v /dev:/dev" in result["error"]
    assert "docker-volume homes need none of this" in result["error"]
    assert result["state"] == {}  # the half-made home was rolled back
    assert not [f for f in result["files"] if f.endswith(".img")], result["files"]
