"""The hub killed with kill -9 while servers start, then started again (a real
`jupyterhub` process, real proxy and engine, loopfile homes): nobody is left pending,
no user has two containers, no home is mounted twice, everyone can start again."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from conftest import TEST_PREFIX, remove_test_containers
from jupyterhub.utils import random_port

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.root]

PREFIX = f"{TEST_PREFIX}-crash"
USERS = [f"c{i}" for i in range(4)]

CONFIG = """\
c = get_config()
c.JupyterHub.bind_url = "http://127.0.0.1:{port}"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.ConfigurableHTTPProxy.pid_file = "{tmp}/proxy.pid"
c.JupyterHub.pid_file = "{tmp}/hub.pid"
c.JupyterHub.db_url = "sqlite:///{tmp}/hub.sqlite"
c.JupyterHub.cookie_secret_file = "{tmp}/cookie_secret"
c.JupyterHub.cleanup_servers = False
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allow_all = True
c.JupyterHub.services = [{{"name": "admin-svc", "api_token": "{token}"}}]
c.JupyterHub.load_roles = [{{
    "name": "admin-svc",
    "scopes": ["admin:users", "admin:servers", "list:users", "read:users", "read:servers"],
    "services": ["admin-svc"],
}}]
c.JupyterHub.spawner_class = "jhub_kit.QuotaDockerSpawner"
c.QuotaDockerSpawner.image = "{image}"
c.QuotaDockerSpawner.network_name = "host"
c.QuotaDockerSpawner.prefix = "{prefix}"
c.QuotaDockerSpawner.pull_policy = "never"
c.QuotaDockerSpawner.mem_limit = "300M"
c.QuotaDockerSpawner.home_provisioner = "loopfile"
c.QuotaDockerSpawner.disk_limit = "40M"
c.HomeProvisioner.base_dir = "{tmp}/homes"
"""


class Hub:
    def __init__(self, tmp: Path, image: str):
        self.tmp, self.token = tmp, secrets.token_hex(16)
        self.port = random_port()
        (tmp / "jupyterhub_config.py").write_text(
            CONFIG.format(
                port=self.port,
                hub_port=random_port(),
                api_port=random_port(),
                tmp=tmp,
                token=self.token,
                image=image,
                prefix=PREFIX,
            )
        )
        self.proc: subprocess.Popen | None = None
        self.api = f"http://127.0.0.1:{self.port}/hub/api"
        self.s = requests.Session()
        self.s.headers["Authorization"] = f"token {self.token}"

    def start(self) -> None:
        log = open(self.tmp / "hub.log", "ab")  # noqa: SIM115 - the hub's log, closed at exit
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(self.tmp / "jupyterhub_config.py")],
            cwd=self.tmp,
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if self.s.get(self.api + "/", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            assert self.proc.poll() is None, (self.tmp / "hub.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the hub did not come up"
            time.sleep(0.5)

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        pid_file = self.tmp / "proxy.pid"
        if pid_file.exists():
            with contextlib.suppress(ValueError, ProcessLookupError):
                os.kill(int(pid_file.read_text()), signal.SIGTERM)

    def users(self) -> dict[str, dict]:
        return {u["name"]: u for u in self.s.get(self.api + "/users", timeout=30).json()}


def home_mounts(homes: Path) -> list[str]:
    return [
        line.split()[4]
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
        if line.split()[4].startswith(str(homes) + "/")
    ]


@pytest.mark.parametrize("after", [0.3, 1.5], ids=["homes-being-made", "servers-starting"])
async def test_hub_killed_during_starts(
    docker_client, test_image, chp, mount_area, docker_debug, after
):
    remove_test_containers(docker_client, PREFIX)
    hub = Hub(mount_area, test_image)
    try:
        await asyncio.to_thread(hub.start)
        r = hub.s.post(hub.api + "/users", json={"usernames": USERS}, timeout=30)
        assert r.status_code == 201, r.text
        # every student clicks at once; the requests are not awaited (the hub dies)
        pool = ThreadPoolExecutor(len(USERS))
        for u in USERS:
            pool.submit(hub.s.post, f"{hub.api}/users/{u}/server", timeout=60)
        await asyncio.sleep(after)  # starts in flight: queue, homes, containers, servers
        in_flight = docker_client.containers.list(all=True, filters={"name": PREFIX})
        hub.kill9()
        pool.shutdown(wait=True)
        print(f"killed the hub with {len(in_flight)} of {len(USERS)} containers created")

        await asyncio.to_thread(hub.start)
        deadline = time.monotonic() + 120
        while True:
            users = hub.users()
            pending = [u for u in USERS if users[u]["servers"].get("", {}).get("pending")]
            if not pending:
                break
            assert time.monotonic() < deadline, f"stuck pending after the restart: {pending}"
            await asyncio.sleep(1)
        # everyone can start (again); one container each, each home mounted once
        for u in USERS:
            if not users[u]["servers"].get("", {}).get("ready"):
                r = hub.s.post(f"{hub.api}/users/{u}/server", timeout=120)
                assert r.status_code in (201, 202, 400), r.text
        deadline = time.monotonic() + 180
        while not all(hub.users()[u]["servers"].get("", {}).get("ready") for u in USERS):
            assert time.monotonic() < deadline, hub.users()
            await asyncio.sleep(1)
        names = [c.name for c in docker_client.containers.list(all=True, filters={"name": PREFIX})]
        assert sorted(names) == sorted(f"{PREFIX}-{u}" for u in USERS), names
        mounts = home_mounts(mount_area / "homes")
        assert sorted(mounts) == sorted(str(mount_area / "homes" / u) for u in USERS), mounts
        images = sorted(p.stem for p in (mount_area / "homes" / ".images").glob("*.img"))
        assert images == sorted(USERS), images
        for u in USERS:
            hub.s.delete(f"{hub.api}/users/{u}/server", timeout=60)
    finally:
        hub.stop()
        remove_test_containers(docker_client, PREFIX)
