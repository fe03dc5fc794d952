"""Which homes work with the hub in a container (docs/reference/homes.md, "Where the
hub runs"): docker-volume homes do (tests/system/test_compose_deploy.py); a loop-mounted
home from an unprivileged hub container is refused with what to change, and leaves
nothing behind."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from jhub_kit.pool.members import LAUNCHER, launcher_copy

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


# -- the warm pool with the hub in a container ----------------------------------------

POOL_HUB = """\
import jhub_kit

c = get_config()  # noqa: F821
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allow_all = True
c.JupyterHub.bind_url = "http://127.0.0.1:{port}"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.JupyterHub.db_url = "sqlite:////tmp/hub.sqlite"
c.JupyterHub.services = [{{"name": "probe", "api_token": {token!r}}}]
c.JupyterHub.load_roles = [
    {{"name": "probe", "scopes": ["admin:users", "admin:servers"], "services": ["probe"]}}
]
c.JupyterHub.spawner_class = "jhub_kit.QuotaDockerSpawner"
c.QuotaDockerSpawner.image = {image!r}
c.QuotaDockerSpawner.network_name = "host"
c.QuotaDockerSpawner.prefix = {prefix!r}
c.QuotaDockerSpawner.pull_policy = "never"
c.QuotaDockerSpawner.mem_limit = "300M"
c.QuotaDockerSpawner.lab_notices = True
c.QuotaDockerSpawner.pool_size = 1
c.QuotaDockerSpawner.pool_dir = {pool_dir!r}
jhub_kit.follow_hub()
"""


@pytest.mark.hub
@pytest.mark.root
def test_a_pooled_server_from_a_hub_in_a_container(
    docker_client, kit_hub_image, test_image, mount_area, tmp_path
):
    """The hub in a container with the Docker socket and the pool's directory shared
    at the same path (docs/reference/pool.md): the engine's host has none of the
    kit's installed files, so members are made without its folders (said once, with
    what to do), their launcher from the pool's directory, and a student's server
    starts from the pool."""
    import secrets
    import time

    import requests
    from conftest import TEST_PREFIX, dump_containers, remove_test_containers
    from ports import free_port

    from jhub_kit.spec import JUPYTER_DATA_PATH, NOTICES_PATH, POOL_LABEL

    pool_dir = mount_area / "pool"
    pool_dir.mkdir()
    subprocess.run(["mount", "--bind", str(pool_dir), str(pool_dir)], check=True)
    subprocess.run(["mount", "--make-rshared", str(pool_dir)], check=True)
    port, hub_port, api_port = (free_port() for _ in range(3))
    token = secrets.token_hex(16)
    (tmp_path / "jupyterhub_config.py").write_text(
        POOL_HUB.format(
            port=port,
            hub_port=hub_port,
            api_port=api_port,
            token=token,
            image=test_image,
            prefix=TEST_PREFIX,
            pool_dir=str(pool_dir),
        )
    )
    t0 = time.monotonic()
    hub = docker_client.containers.create(
        kit_hub_image,
        ["jupyterhub", "-f", "/srv/probe/jupyterhub_config.py"],
        name=f"{TEST_PREFIX}-pool-hub",
        network_mode="host",
        # the pool mounts under its directory (--privileged would do too; this
        # engine cannot give every capability)
        cap_add=["SYS_ADMIN"],
        security_opt=["apparmor=unconfined"],
        volumes={
            str(tmp_path): {"bind": "/srv/probe", "mode": "ro"},
            "/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "rw"},
            str(pool_dir): {"bind": str(pool_dir), "mode": "rw,rshared"},
        },
    )
    api = f"http://127.0.0.1:{port}/hub/api"
    s = requests.Session()
    s.trust_env = False
    s.headers["Authorization"] = f"token {token}"

    def until(check, what: str, timeout: float = 120):
        deadline = time.monotonic() + timeout
        while True:
            try:
                found = check()
            except requests.RequestException:
                found = None
            if found:
                return found
            hub.reload()
            assert hub.status == "running", hub.logs().decode()[-3000:]
            assert time.monotonic() < deadline, f"{what} not in {timeout} s"
            time.sleep(0.5)

    def ready_members():
        return [
            c
            for c in docker_client.containers.list(filters={"label": f"{POOL_LABEL}={TEST_PREFIX}"})
            if b"[jhub-kit pool] ready" in c.logs()
        ]

    try:
        hub.start()
        until(lambda: s.get(api).status_code == 200, "the hub's API")
        [member] = until(ready_members, "a ready pool member")
        mounts = {m["Destination"]: m for m in member.attrs["Mounts"]}
        assert NOTICES_PATH not in mounts and JUPYTER_DATA_PATH not in mounts, mounts
        launcher = mounts["/opt/jhub-kit/launcher.py"]["Source"]
        assert launcher == str(launcher_copy(pool_dir)), launcher  # the copy in pool_dir
        assert Path(launcher).read_bytes() == Path(LAUNCHER).read_bytes()
        # ready in the hub's pool, not only in the member's own log: a start before the
        # hub had seen it went cold (CI at f3a7ee2, 2 ms before "Warm pool: ... ready")
        until(
            lambda: f"Warm pool: {member.name} ready" in hub.logs().decode("utf-8", "replace"),
            "the hub to count the member ready",
        )

        assert s.post(f"{api}/users/alice").status_code == 201
        r = s.post(f"{api}/users/alice/server")
        assert r.status_code in (201, 202), r.text
        until(lambda: s.get(f"{api}/users/alice").json()["servers"][""]["ready"], "alice's server")
        logs = hub.logs().decode("utf-8", "replace")
        assert "alice's server: from the warm pool in" in logs, logs[-3000:]
        server = docker_client.containers.get(member.id)  # the member is alice's server now
        r = requests.get(f"http://127.0.0.1:{port}/user/alice/api", timeout=10)
        assert r.status_code == 200 and "version" in r.json(), r.text
        # the folders the host lacks: said once each; what to do where the configuration
        # uses one (lab_notices on), a line at info where it does not (no home the kit
        # provisions can be full)
        for what, used in (("kit's notices", False), ("kit's JupyterLab extension", True)):
            said = [
                line for line in logs.splitlines() if f"The engine cannot bind the {what}" in line
            ]
            assert len(said) == 1, said
            assert "bind source path does not exist" in said[0], said
            assert said[0].startswith("[W" if used else "[I"), said
            remedy = "bind-mount" in said[0] and "into the hub's container" in said[0]
            assert remedy == used, said
        assert server.status == "running"
        print(f"hub in a container, pool on: {time.monotonic() - t0:.1f} s to a pooled server")
    except BaseException:
        print(hub.logs().decode("utf-8", "replace")[-6000:])
        dump_containers(docker_client)
        raise
    finally:
        hub.stop(timeout=30)  # the hub stops its servers and removes its members
        hub.remove(force=True)
        remove_test_containers(docker_client)
