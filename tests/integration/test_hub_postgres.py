"""The hub on PostgreSQL (issue 28): a real ``jupyterhub`` process from the bundle
(``jhub_kit.configure``) whose ``db_url`` is set to a PostgreSQL database after the
bundle, so the bundle's SQLite WAL listener (``c.JhubKit.sqlite_wal``, on) must
leave it alone. A student logs in, their server starts on the real engine and
answers through the hub's OAuth, the hub is restarted on the same database and
finds the running server again, the server stops; the rows are in PostgreSQL and
no SQLite file was made. The server: tests/support/pgrig.py (Debian's binaries, a unix
socket only), the driver psycopg2 (``jhub_kit[postgres]``)."""

from __future__ import annotations

import time

import pytest
import requests
from conftest import TEST_PREFIX, _unavailable, remove_test_containers
from hubproc import Hub
from pgrig import PgServer, find_bin

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.root]

PREFIX = f"{TEST_PREFIX}-pg"

# after hubproc's base config (its db_url: {tmp}/hub.sqlite, set before the bundle)
CONFIG = """\
import jhub_kit
c.JhubKit.data_dir = "{{tmp}}/data"
c.JhubKit.network_name = "host"
c.JhubKit.dashboard = False
kit = jhub_kit.configure(c)
assert kit.sqlite_wal
c.QuotaDockerSpawner.home_provisioner = "directory"
c.HomeProvisioner.base_dir = "{{tmp}}/homes"
c.QuotaDockerSpawner.mem_limit = "300M"
c.JupyterHub.db_url = "{url}"
"""


@pytest.fixture
def postgres():
    """A PostgreSQL server of the test's own, stopped and removed afterwards."""
    bindir = find_bin()
    if bindir is None:
        _unavailable(
            "PostgreSQL's server is not installed (no /usr/lib/postgresql/*/bin/pg_ctl: "
            "Debian's postgresql package); run scripts/test.sh"
        )
    try:
        import psycopg2  # noqa: F401 - the hub's driver
    except ImportError:
        _unavailable("psycopg2 is not installed (pip install jhub_kit[postgres])")
    server = PgServer(bindir)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def wait_for(hub: Hub, ready: bool, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        server = hub.users()["ann"]["servers"].get("", {})
        if bool(server.get("ready")) == ready and not server.get("pending"):
            return
        assert time.monotonic() < deadline, server
        time.sleep(0.3)


def rows(pg: PgServer, sql: str) -> list[tuple]:
    import psycopg2

    db = psycopg2.connect(host=str(pg.dir), dbname=pg.db, user=pg.role)
    try:
        with db.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    finally:
        db.close()


SERVER_OF_ANN = (
    "SELECT s.server_id FROM spawners s JOIN users u ON s.user_id = u.id "
    "WHERE u.name = 'ann' AND s.name = ''"
)


def test_a_hub_from_the_bundle_runs_on_postgresql(
    docker_client, test_image, chp, mount_area, postgres, docker_debug
):
    remove_test_containers(docker_client, PREFIX)
    hub = Hub(mount_area, test_image, PREFIX, CONFIG.format(url=postgres.url))
    base = f"http://127.0.0.1:{hub.port}"
    try:
        hub.start()
        # ann logs in through the hub's form (any password: the dummy authenticator)
        ann = requests.Session()
        ann.get(f"{base}/hub/login", timeout=30).raise_for_status()
        r = ann.post(
            f"{base}/hub/login",
            params={"_xsrf": ann.cookies["_xsrf"]},
            data={"username": "ann", "password": "any"},
            allow_redirects=False,
            timeout=30,
        )
        assert r.status_code == 302, r.text[:300]
        r = hub.s.post(f"{hub.api}/users/ann/server", timeout=120)
        assert r.status_code in (201, 202), r.text
        wait_for(hub, ready=True)
        # the server, through the proxy, after the hub's OAuth (its client and tokens
        # are rows in PostgreSQL)
        r = ann.get(f"{base}/user/ann/", timeout=60)
        assert r.status_code == 200, (r.url, r.status_code)
        r = ann.get(f"{base}/user/ann/api/status", timeout=30)
        assert r.status_code == 200 and "started" in r.json(), r.text[:300]

        # the hub again, on the same database: it finds ann and her running server
        hub.stop()
        hub.start()
        wait_for(hub, ready=True)
        r = ann.get(f"{base}/user/ann/api/status", timeout=30)  # her cookie still holds
        assert r.status_code == 200, r.text[:300]
        # her running server and its OAuth client, in PostgreSQL
        [(server_id,)] = rows(postgres, SERVER_OF_ANN)
        assert server_id is not None
        client = "SELECT 1 FROM oauth_clients WHERE identifier = 'jupyterhub-user-ann'"
        assert rows(postgres, client) == [(1,)]

        r = hub.s.delete(f"{hub.api}/users/ann/server", timeout=60)
        assert r.status_code in (202, 204), r.text
        wait_for(hub, ready=False)
    finally:
        hub.stop()
        remove_test_containers(docker_client, PREFIX)

    assert rows(postgres, "SELECT name FROM users") == [("ann",)]
    assert rows(postgres, SERVER_OF_ANN) == [(None,)]  # her server, stopped
    services = rows(postgres, "SELECT name FROM services ORDER BY name")
    assert services == [("admin-svc",), ("idle-culler",)]
    assert len(rows(postgres, "SELECT version_num FROM alembic_version")) == 1
    # the bundle's SQLite listener made no file of its own, nor did anything else
    assert not list(mount_area.rglob("*.sqlite*")), list(mount_area.rglob("*.sqlite*"))
