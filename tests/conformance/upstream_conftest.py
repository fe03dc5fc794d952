"""Fixtures for DockerSpawner's own test modules (its PyPI sdist ships them
without their conftest), written for the kit's conformance run
(tests/system/test_conformance.py), which copies this file beside them.

``JHUB_KIT_CONFORMANCE=kit`` puts the kit's classes where the modules import
DockerSpawner's: QuotaDockerSpawner for DockerSpawner, QuotaSwarmSpawner for
SwarmSpawner. ``=stock`` runs them as they are, the baseline. Tests the kit
fails on purpose are skipped by name in the kit's run, with the reason
(``DELIBERATE``, which docs/reference/dropin.md lists).
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid

import dockerspawner
import pytest

MODE = os.environ.get("JHUB_KIT_CONFORMANCE", "stock")
SETTINGS = json.loads(os.environ.get("JHUB_KIT_CONFORMANCE_SETTINGS", "{}"))
#: each run its own names: the stock and the kit's runs go side by side
PREFIX = f"dockerspawner-test-{MODE}"

if MODE == "kit":
    from jhub_kit import QuotaDockerSpawner, QuotaSwarmSpawner

    dockerspawner.DockerSpawner = QuotaDockerSpawner
    dockerspawner.SwarmSpawner = QuotaSwarmSpawner

#: upstream tests the kit fails on purpose: test id -> why (docs/reference/dropin.md)
DELIBERATE: dict[str, str] = json.loads(os.environ.get("JHUB_KIT_CONFORMANCE_DELIBERATE", "{}"))
#: not the kit's: SystemUserSpawner has no kit counterpart
NOT_APPLICABLE = {
    "test_systemuserspawner.py": "SystemUserSpawner: the kit has no counterpart of it",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        base = item.nodeid.split("::", 1)[0].rsplit("/", 1)[-1]
        if base in NOT_APPLICABLE:
            item.add_marker(pytest.mark.skip(reason=NOT_APPLICABLE[base]))
        elif MODE == "kit" and item.nodeid.split("/")[-1] in DELIBERATE:
            reason = DELIBERATE[item.nodeid.split("/")[-1]]
            item.add_marker(pytest.mark.skip(reason=f"deliberate difference: {reason}"))


def _config(spawner_class):
    from traitlets.config import Config

    c = Config()
    c.JupyterHub.authenticator_class = "dummy"
    c.Authenticator.admin_users = {"admin"}
    c.JupyterHub.spawner_class = spawner_class
    c.JupyterHub.hub_ip = "0.0.0.0"
    c.JupyterHub.hub_connect_ip = SETTINGS["hub_connect_ip"]
    c.JupyterHub.allow_named_servers = True
    c.JupyterHub.named_server_limit_per_user = 2
    c.DockerSpawner.prefix = PREFIX
    c.DockerSpawner.start_timeout = 120
    c.DockerSpawner.http_timeout = 120
    return c


@contextlib.asynccontextmanager
async def _hub(config):
    from kit_testing import running_hub

    async with running_hub(config) as app:
        yield app


@pytest.fixture
async def dockerspawner_configured_app():
    async with _hub(_config(dockerspawner.DockerSpawner)) as app:
        yield app


@pytest.fixture
async def swarmspawner_configured_app():
    c = _config(dockerspawner.SwarmSpawner)
    c.SwarmSpawner.network_name = SETTINGS["swarm_network"]
    c.SwarmSpawner.use_internal_ip = False
    c.SwarmSpawner.host_ip = "127.0.0.1"
    # published on the node itself: the swarm's routing mesh needs IPVS, which the
    # test machines' kernel lacks
    port = SETTINGS["swarm_published_port"]
    c.SwarmSpawner.extra_endpoint_spec = {"ports": {port: (8888, "tcp", "host")}}
    c.JupyterHub.hub_connect_ip = SETTINGS["swarm_hub_connect_ip"]
    async with _hub(c) as app:
        yield app


@pytest.fixture
async def systemuserspawner_configured_app():
    async with _hub(_config(dockerspawner.SystemUserSpawner)) as app:
        yield app


@pytest.fixture(autouse=True)
def _named_servers_as_in_jupyterhub_5(monkeypatch):
    """The upstream tests (written for JupyterHub 4 and 5) take a named server's
    spawner before the server exists, which made its database row there; JupyterHub
    6 raises "orm_spawner not found" instead. Make the row as JupyterHub 5 did, for
    stock and kit alike, so those tests reach the spawner they test."""
    from jupyterhub.user import User

    original = User._new_spawner

    def _new_spawner(self, server_name, spawner_class=None, **kwargs):
        if server_name not in self.orm_spawners:
            self._new_orm_spawner(server_name, server_name)
        return original(self, server_name, spawner_class, **kwargs)

    monkeypatch.setattr(User, "_new_spawner", _new_spawner)


@pytest.fixture
def username():
    return f"conformance-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def user(dockerspawner_configured_app, username):
    from jupyterhub.tests.utils import add_user

    return add_user(dockerspawner_configured_app.db, dockerspawner_configured_app, name=username)


@pytest.fixture(autouse=True, scope="session")
def _remove_test_containers():
    import docker

    yield
    d = docker.from_env()
    for c in d.containers.list(all=True):
        if c.name.startswith(PREFIX):
            c.remove(force=True)
    with contextlib.suppress(docker.errors.APIError):
        for s in d.services.list():
            if s.name.startswith(PREFIX):
                s.remove()
