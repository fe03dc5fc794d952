"""A real ``jupyterhub`` process for tests that need the hub's own startup (its
import of the spawner, its restart, a kill -9): loopback addresses, its log in
its directory, an admin service token for the API."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests
from ports import free_port

BASE_CONFIG = """\
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
"""


class Hub:
    """``config``: lines after the base (``{tmp}`` in them is the hub's directory)."""

    def __init__(self, tmp: Path, image: str, prefix: str, config: str):
        self.tmp, self.token = tmp, secrets.token_hex(16)
        self.port, self.hub_port = free_port(), free_port()
        text = BASE_CONFIG.format(
            port=self.port,
            hub_port=self.hub_port,
            api_port=free_port(),
            tmp=tmp,
            token=self.token,
            image=image,
            prefix=prefix,
        )
        (tmp / "jupyterhub_config.py").write_text(text + config.replace("{tmp}", str(tmp)))
        self.proc: subprocess.Popen | None = None
        #: more environment for the hub's process (e.g. PYTHONPATH for another kit)
        self.env: dict[str, str] = {}
        self.api = f"http://127.0.0.1:{self.port}/hub/api"
        self.s = requests.Session()
        self.s.headers["Authorization"] = f"token {self.token}"

    #: how the hub process is launched: ``module`` (``python -m jupyterhub``), ``command``
    #: (the ``jupyterhub`` script), ``script`` (a script calling ``launch_instance()``)
    LAUNCHES = ("module", "command", "script")

    def argv(self, launch: str = "module") -> list[str]:
        config = str(self.tmp / "jupyterhub_config.py")
        if launch == "module":
            return [sys.executable, "-m", "jupyterhub", "-f", config]
        if launch == "command":
            return [str(Path(sys.executable).with_name("jupyterhub")), "-f", config]
        if launch == "script":
            script = self.tmp / "run_hub.py"
            script.write_text(
                "import sys\nfrom jupyterhub.app import JupyterHub\n\n"
                "JupyterHub.launch_instance(sys.argv[1:])\n"
            )
            return [sys.executable, str(script), "-f", config]
        raise ValueError(f"launch must be one of {self.LAUNCHES}, not {launch!r}")

    def start(self, launch: str = "module") -> None:
        log = open(self.tmp / "hub.log", "ab")  # noqa: SIM115 - the hub's log, closed at exit
        self.proc = subprocess.Popen(
            self.argv(launch),
            cwd=self.tmp,
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, **self.env},
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
        self.kill_orphaned_services()

    def kill_orphaned_services(self) -> None:
        """The hub's managed services (the idle culler...) run in sessions of their
        own; a hub that did not stop them (killed, or too slow to stop) leaves them
        running: end every process of this host (not a container's: a user's server
        outlives a hub restart) whose environment names this hub's API."""
        marker = f"JUPYTERHUB_API_URL=http://127.0.0.1:{self.hub_port}/".encode()
        ours = os.readlink("/proc/self/ns/mnt")
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if os.readlink(f"/proc/{pid}/ns/mnt") != ours:
                    continue  # in a container
                environ = Path(f"/proc/{pid}/environ").read_bytes()
            except OSError:
                continue
            if marker in environ and int(pid) != os.getpid():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)

    def users(self) -> dict[str, dict]:
        return {u["name"]: u for u in self.s.get(self.api + "/users", timeout=30).json()}
