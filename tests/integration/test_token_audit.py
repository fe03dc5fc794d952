"""Where the hub's tokens go: a server's API token and the services' tokens reach
their processes through the environment only, never argv, container labels or the
hub's log; the kit's root-written files are created 0600 and never through a
symlink. Real engine, hub, proxy, dashboard service and a loopfile home."""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

import pytest
from conftest import TEST_PREFIX
from hubutil import (
    bundle_config_file,
    container_exec,
    ensure_user,
    own_network,
    running_hub,
    start_server,
)
from traitlets.config.loader import PyFileConfigLoader

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.root]

NET = f"{TEST_PREFIX}-tokens"


@pytest.fixture
def net(docker_client):
    with own_network(docker_client, NET) as n:
        yield n


def cmdlines() -> dict[int, str]:
    out = {}
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            with contextlib.suppress(OSError):
                out[int(p.name)] = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    return out


async def test_tokens_stay_out_of_argv_labels_and_logs(
    docker_client, test_image, chp, net, mount_area, tmp_path, caplog
):
    cfg = bundle_config_file(
        tmp_path,
        test_image,
        NET,
        "admin admin\nann\n",
        'c.QuotaDockerSpawner.disk_limit = "40M"\n',
        idle=3600,
    )
    c = PyFileConfigLoader(cfg.name, str(tmp_path)).load_config()
    c.Authenticator.admin_users = {"admin"}
    with caplog.at_level(logging.DEBUG):
        async with running_hub(c) as app:
            ensure_user(app, "ann")
            await start_server(app, "ann")
            spawner = app.users["ann"].spawner
            token = spawner.api_token
            assert token
            services = {name: s.api_token for name, s in app._service_map.items()}
            assert set(services) == {"idle-culler", "class-dashboard"} and all(services.values())

            # the container: the token is in its environment (JupyterHub's way), and
            # nowhere else the engine shows to anyone who lists containers
            info = docker_client.api.inspect_container(spawner.container_id)
            env = dict(e.split("=", 1) for e in info["Config"]["Env"])
            assert env["JUPYTERHUB_API_TOKEN"] == token
            shown = {
                "labels": info["Config"]["Labels"],
                "cmd": info["Config"]["Cmd"],
                "entrypoint": info["Config"]["Entrypoint"],
                "name": info["Name"],
                "host config": info["HostConfig"],
            }
            assert token not in repr(shown)
            code, out = await container_exec(
                docker_client, "ann", ["sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '"]
            )
            assert code == 0 and "jupyterhub-singleuser" in out and token not in out

            # the hub's services (idle culler, class dashboard): env, never argv
            procs = cmdlines()
            assert any("jhub_kit.views.dashboard" in c for c in procs.values())
            assert any("jupyterhub_idle_culler" in c for c in procs.values())
            for pid, line in procs.items():
                assert token not in line, pid
                for name, secret in services.items():
                    assert secret not in line, (name, pid)

    # the hub's log, at debug level, never prints a token (it names them by a prefix)
    for secret in (token, *services.values()):
        assert secret not in caplog.text


async def test_root_written_files_are_private_and_never_follow_a_planted_link(mount_area, tmp_path):
    """The kit's state file and its mirror, and a backup, are 0600; a symlink planted
    where a backup goes is refused (O_EXCL), its target untouched."""
    from jhub_kit.provision import ProvisionError
    from jhub_kit.provision.loopfile import LoopfileProvisioner
    from jhub_kit.quota.policy import Quota

    p = LoopfileProvisioner(base_dir=str(mount_area / "homes"))
    await p.provision("ann", Quota(disk_limit=40 * 1024**2))
    for f in (p.state.path, p.state.mirror):
        assert stat.S_IMODE(os.stat(f).st_mode) == 0o600, f
    archive = await p.backup("ann", tmp_path / "ann.tar.gz")
    assert stat.S_IMODE(os.stat(archive).st_mode) == 0o600
    victim = tmp_path / "victim"
    victim.write_text("not yours")
    (tmp_path / "planted.tar.gz").symlink_to(victim)
    with pytest.raises(ProvisionError):
        await p.backup("ann", tmp_path / "planted.tar.gz")
    assert victim.read_text() == "not yours"
