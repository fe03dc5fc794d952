"""The configuration bundle, the example and tutorial configs, and `config check`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from jhub_kit.cli import main
from jhub_kit.config import IDLE_CULLER_SCOPES, configure
from jhub_kit.config_check import check_config
from jhub_kit.idle import CULLER_CONFIG
from jhub_kit.views.dashboard import SERVICE_SCOPES
from jhub_kit.views.student import template_var

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "example_config"
TUTORIALS = ROOT / "docs" / "tutorials" / "configs"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for var in (
        "DOCKER_NOTEBOOK_IMAGE",
        "DOCKER_NETWORK_NAME",
        "DOCKER_NOTEBOOK_DIR",
        "OAUTH_CALLBACK_URL",
        "JHUB_KIT_AUTHENTICATOR",
    ):
        monkeypatch.delenv(var, raising=False)


def bundle(tmp_path, **kit):
    c = Config()
    c.JhubKit.data_dir = str(tmp_path / "data")
    for k, v in kit.items():
        setattr(c.JhubKit, k, v)
    return c


def test_defaults(tmp_path):
    c = bundle(tmp_path)
    configure(c)
    assert c.JupyterHub.spawner_class == "jhub_kit.spawners.docker.QuotaDockerSpawner"
    assert c.JupyterHub.authenticator_class == "jhub_kit.auth.native.UserlistNativeAuthenticator"
    assert c.JupyterHub.db_url == f"sqlite:///{tmp_path}/data/jupyterhub.sqlite"
    assert c.JupyterHub.cookie_secret_file == f"{tmp_path}/data/jupyterhub_cookie_secret"
    assert c.JupyterHub.hub_ip == "0.0.0.0"
    assert (tmp_path / "data").is_dir()
    assert c.UserlistMixin.userlist_file == f"{tmp_path}/data/userlist"
    assert c.HomeProvisioner.base_dir == f"{tmp_path}/data/homes"
    s = c.QuotaDockerSpawner
    assert (s.image, s.network_name, s.notebook_dir, s.default_url) == (
        "quay.io/jupyter/scipy-notebook:latest",
        "bridge",
        "/home/jovyan/work",
        "/lab",
    )
    assert (s.mem_limit, s.cpu_limit, s.pids_limit) == ("2G", 1.0, 1024)
    kit_t, native_t = c.JupyterHub.template_paths
    assert kit_t.endswith("jhub_kit/views/templates")
    assert native_t.endswith("nativeauthenticator/templates")
    assert c.JupyterHub.template_vars["jhub_kit"] is template_var
    svc, board = c.JupyterHub.services
    assert svc["name"] == "idle-culler" and svc["command"][2:] == [
        "jupyterhub_idle_culler",
        "--timeout=3600",
        "--cull-every=300",
        f"--config={CULLER_CONFIG}",
    ]
    assert board["name"] == "class-dashboard" and board["url"].startswith("http://127.0.0.1:")
    assert set(board["environment"]) == {
        "JHUB_KIT_DASHBOARD_SETTINGS",
        "JHUB_KIT_DASHBOARD_USER",
        "JHUB_KIT_DASHBOARD_CEILING",
        "JHUB_KIT_DASHBOARD_AUDIT_LOG",
        "JHUB_KIT_LAB_NOTICES",  # the students' notices in JupyterLab (the culler warns)
    }
    assert c.JupyterHub.load_roles == [
        {"name": "idle-culler", "scopes": IDLE_CULLER_SCOPES, "services": ["idle-culler"]},
        {"name": "class-dashboard", "scopes": SERVICE_SCOPES, "services": ["class-dashboard"]},
        {
            "name": "class-dashboard-viewers",
            "description": "May open the class dashboard",
            "scopes": ["access:services!service=class-dashboard"],
            "groups": ["teachers"],
        },
    ]


def test_explicit_settings_win_before_and_after(tmp_path):
    c = bundle(tmp_path)
    c.DockerSpawner.image = "mine:1"  # a parent class, set before
    c.Spawner.mem_limit = "4G"
    c.JupyterHub.services = [{"name": "other", "url": "http://x"}]
    configure(c)
    assert "image" not in c.QuotaDockerSpawner and c.DockerSpawner.image == "mine:1"
    assert "mem_limit" not in c.QuotaDockerSpawner
    names = ["other", "idle-culler", "class-dashboard"]
    assert [s["name"] for s in c.JupyterHub.services] == names
    c.QuotaDockerSpawner.cpu_limit = 3  # after
    assert c.QuotaDockerSpawner.cpu_limit == 3
    configure(c)  # idempotent
    assert [s["name"] for s in c.JupyterHub.services] == names


def test_environment_fallbacks(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_NOTEBOOK_IMAGE", "jupyter/scipy-notebook:2d878db5cbff")
    monkeypatch.setenv("DOCKER_NETWORK_NAME", "jupyterhub-network")
    monkeypatch.setenv("DOCKER_NOTEBOOK_DIR", "/home/jovyan/notebooks")
    monkeypatch.setenv("OAUTH_CALLBACK_URL", "https://hub.example.org/hub/oauth_callback")
    c = bundle(tmp_path, authenticator="github", idle_timeout=0, dashboard=False)
    configure(c)
    s = c.QuotaDockerSpawner
    assert (s.image, s.network_name, s.notebook_dir) == (
        "jupyter/scipy-notebook:2d878db5cbff",
        "jupyterhub-network",
        "/home/jovyan/notebooks",
    )
    assert c.UserlistGitHubOAuthenticator.oauth_callback_url.endswith("/hub/oauth_callback")
    assert "services" not in c.JupyterHub


def test_host_network_keeps_hub_on_loopback(tmp_path):
    c = bundle(tmp_path, network_name="host", authenticator="pam")
    configure(c)
    assert "hub_ip" not in c.JupyterHub
    assert (
        c.JupyterHub.authenticator_class == "jhub_kit.auth.authenticators.UserlistPAMAuthenticator"
    )


def load(path: Path, **env) -> Config:
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return PyFileConfigLoader(path.name, str(path.parent)).load_config()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_example_config_loads_and_checks_clean(tmp_path):
    c = load(
        EXAMPLE / "jupyterhub_config.py",
        DOCKER_NETWORK_NAME="jupyterhub-network",
        JHUB_KIT_DATA_DIR=str(tmp_path),
    )
    c.QuotaDockerSpawner.quota_policy_file = str(EXAMPLE / "quotas.toml")
    report = check_config(c)
    assert report.errors == []
    assert report.settings["network"] == "jupyterhub-network"
    assert report.settings["default quota"].startswith("memory 1G, swap 0, cpu 1, pids 512")
    assert report.settings["quota groups"] == "class-a, teachers"
    assert report.settings["services"] == "idle-culler, class-dashboard"
    assert len((EXAMPLE / "jupyterhub_config.py").read_text().splitlines()) <= 30


@pytest.mark.parametrize(
    "name, expected",
    [
        (
            "native_signup.py",
            {
                "authenticator": "jhub_kit.auth.native.UserlistNativeAuthenticator",
                "homes": "directory, in /srv/jupyterhub/homes",
            },
        ),
        (
            "github_oauth.py",
            {
                "authenticator": "jhub_kit.auth.oauth.UserlistGitHubOAuthenticator",
                "homes": "docker-volume, volumes jupyterhub-user-NAME",
            },
        ),
        (
            "custom_image.py",
            {
                "image": "rsworktech/sagemath-jupyterhub-docker:latest",
                "notebook_dir": "/home/sage/notebooks",
            },
        ),
        (
            "class_disk_quotas.py",
            {"network": "host", "homes": "lvm, in /opt/jupyterhub/user_volumes"},
        ),
    ],
)
def test_tutorial_configs(name, expected, tmp_path, monkeypatch):
    c = load(TUTORIALS / name, JHUB_KIT_DATA_DIR=str(tmp_path))
    report = check_config(c)
    assert report.errors == []
    for key, value in expected.items():
        assert report.settings[key] == value
    if name == "class_disk_quotas.py":
        assert report.settings["default quota"].startswith("memory 300M, swap 0")
        assert "disk 1G" in report.settings["default quota"]


def write(tmp_path, text):
    p = tmp_path / "jupyterhub_config.py"
    p.write_text(text)
    return str(p)


def test_cli_check_unknown_option_and_conflicts(tmp_path):
    path = write(
        tmp_path,
        (
            "c = get_config()\n"
            "c.JupyterHub.spawner_class = 'quota-docker'\n"
            "c.JupyterHub.authenticator_class = 'userlist-dummy'\n"
            "c.JupyterHub.load_groups = {'t': {'users': ['a']}}\n"
            "c.QuotaDockerSpawner.mem_limt = '1G'\n"
            "c.QuotaDockerSpawner.network_name = 'bridge'\n"
            "c.QuotaDockerSpawner.quota_groups = {'t': {'mem_limit': '2 gigs'}}\n"
        ),
    )
    r = CliRunner().invoke(main, ["config", "check", "-f", path])
    assert r.exit_code == 1
    assert (
        "error: c.QuotaDockerSpawner.mem_limt is not an option of QuotaDockerSpawner; "
        "did you mean c.QuotaDockerSpawner.mem_limit?" in r.output
    )
    assert "c.JupyterHub.load_groups cannot be used with a userlist authenticator" in r.output
    assert (
        "QuotaDockerSpawner.quota_groups groups['t']['mem_limit']: '2 gigs' is not a size"
        in r.output
    )


def test_cli_check_ok(tmp_path):
    path = write(
        tmp_path,
        (
            "c = get_config()\n"
            "c.JupyterHub.spawner_class = 'quota-docker'\n"
            "c.QuotaDockerSpawner.network_name = 'host'\n"
            "c.QuotaDockerSpawner.mem_limit = '512M'\n"
        ),
    )
    r = CliRunner().invoke(main, ["config", "check", "-f", path])
    assert r.exit_code == 0, r.output
    assert "default quota:     memory 512M, swap 0" in r.output and r.output.endswith("ok\n")


def test_cli_check_loopback_hub_on_bridge(tmp_path):
    path = write(tmp_path, "c = get_config()\nc.JupyterHub.spawner_class = 'quota-docker'\n")
    r = CliRunner().invoke(main, ["config", "check", "-f", path])
    assert r.exit_code == 1
    assert (
        "error: c.JupyterHub.hub_ip is 127.0.0.1: containers on Docker network 'bridge'" in r.output
    )


def test_cli_check_broken_file(tmp_path):
    path = write(tmp_path, "c = get_config()\nc.JupyterHub.port = (\n")
    r = CliRunner().invoke(main, ["config", "check", "-f", path])
    assert r.exit_code == 1 and "does not load" in r.output


def test_the_dashboard_gets_the_hubs_settings_file_and_nothing_else(tmp_path, monkeypatch):
    monkeypatch.delenv("TZ", raising=False)  # the hub's TZ is passed on (the next test)
    cfg = tmp_path / "jupyterhub_config.py"
    cfg.write_text(
        f"import jhub_kit\nc.JhubKit.data_dir = {str(tmp_path)!r}\n"
        f"c.JhubKit.dashboard_settings = {str(tmp_path / 'board.json')!r}\n"
        "jhub_kit.configure(c)\n"
    )
    c = PyFileConfigLoader(cfg.name, str(tmp_path)).load_config()
    [board] = [s for s in c.JupyterHub.services if s["name"] == "class-dashboard"]
    assert board["environment"] == {  # no secret, no config file to run
        "JHUB_KIT_DASHBOARD_SETTINGS": str(tmp_path / "board.json"),
        "JHUB_KIT_DASHBOARD_USER": "nobody",
        "JHUB_KIT_DASHBOARD_CEILING": "{}",  # teachers change no limit unless the admin says
        "JHUB_KIT_DASHBOARD_AUDIT_LOG": str(tmp_path / "teachers" / "audit.jsonl"),
        # what the students' JupyterLab is told of the culler (c.JhubKit.lab_notices)
        "JHUB_KIT_LAB_NOTICES": '{"warning": 300, "culler_timeout": 3600, "check_every": 300}',
    }


def test_teachers_get_the_hubs_time_zone_and_the_admin_what_opening_trusts(
    tmp_path, monkeypatch, caplog
):
    """The dashboard's "end of today" is the hub's (JupyterHub hands a service no TZ);
    teachers who may open servers on a hub without subdomains: said at start, with
    the setting; with subdomain_host set, nothing said."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    c = bundle(tmp_path, teachers={"ada": ["a"]})
    with caplog.at_level("WARNING", logger="jhub_kit"):
        configure(c)
    [board] = [s for s in c.JupyterHub.services if s["name"] == "class-dashboard"]
    assert board["environment"]["TZ"] == "Asia/Tokyo"
    said = [r.getMessage() for r in caplog.records if "subdomain_host" in r.getMessage()]
    assert len(said) == 1 and "access:servers" in said[0], said

    caplog.clear()
    c = bundle(tmp_path / "sub", teachers={"ada": ["a"]})
    c.JupyterHub.subdomain_host = "https://hub.school.example"
    with caplog.at_level("WARNING", logger="jhub_kit"):
        configure(c)
    assert not [r for r in caplog.records if "subdomain_host" in r.getMessage()]


def test_engine_swarm_is_one_setting(tmp_path):
    c = bundle(tmp_path, engine="swarm")
    configure(c)
    assert c.JupyterHub.spawner_class == "jhub_kit.spawners.swarm.QuotaSwarmSpawner"
    assert c.JupyterHub.hub_ip == "0.0.0.0"  # nodes on other machines reach the hub
    s = c.QuotaSwarmSpawner
    assert (s.network_name, s.home_provisioner, s.mem_limit) == ("host", "directory", "2G")
    assert "QuotaDockerSpawner" not in c


def test_example_swarm_config_checks_clean(tmp_path):
    c = load(EXAMPLE / "jupyterhub_config.swarm.py", JHUB_KIT_DATA_DIR=str(tmp_path))
    c.QuotaSwarmSpawner.quota_policy_file = str(EXAMPLE / "quotas.toml")
    report = check_config(c)
    assert report.errors == []
    assert report.settings["spawner"] == "jhub_kit.spawners.swarm.QuotaSwarmSpawner"
    assert report.settings["homes"] == "directory, in /srv/class-homes"
    assert any("must be the same share on every node" in w for w in report.warnings)
    assert len((EXAMPLE / "jupyterhub_config.swarm.py").read_text().splitlines()) <= 30


def test_check_says_a_section_for_the_other_spawner_is_ignored(tmp_path):
    c = bundle(tmp_path, engine="swarm")
    configure(c)
    c.QuotaDockerSpawner.mem_limit = "4G"  # left over from the one-host config
    warnings = check_config(c).warnings
    assert any(
        w.startswith(
            "c.QuotaDockerSpawner (mem_limit) is set, but the spawner is QuotaSwarmSpawner"
        )
        for w in warnings
    ), warnings


def test_the_hubs_sqlite_runs_in_wal_mode_unless_told_otherwise(tmp_path, monkeypatch):
    """The bundle's SQLite file: WAL and synchronous=NORMAL on every connection an
    engine makes to it (JupyterHub's own, with its own connect arguments); another
    SQLite file, another database, or the setting off: left alone. A db_url changed
    after the bundle (``jupyterhub --db=...``) gets nothing it cannot take."""
    import sqlalchemy

    from jhub_kit import hubdb, registry

    registry.forget("hubdb-files")  # the files an earlier test's bundle named

    def modes(url: str) -> tuple[str, int]:
        engine = sqlalchemy.create_engine(url, connect_args={"check_same_thread": False})
        with engine.connect() as conn:
            got = (
                conn.exec_driver_sql("PRAGMA journal_mode").scalar(),
                conn.exec_driver_sql("PRAGMA synchronous").scalar(),
            )
        engine.dispose()
        return got

    off = bundle(tmp_path / "off", sqlite_wal=False)
    configure(off)
    assert modes(off.JupyterHub.db_url) == ("delete", 2)  # SQLite's defaults: FULL

    c = bundle(tmp_path)
    configure(c)
    assert "db_kwargs" not in c.JupyterHub  # nothing a later db_url could choke on
    assert modes(c.JupyterHub.db_url) == ("wal", 1)  # NORMAL
    other = f"sqlite:///{tmp_path}/other.sqlite"
    assert modes(other) == ("delete", 2)
    for url in ("postgresql://hub@db/jupyterhub", "sqlite:///:memory:", "sqlite://"):
        assert hubdb.enable(url) is False
    # the explicit form, for a config of one's own
    engine = sqlalchemy.create_engine(other, **hubdb.db_kwargs())
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()


def test_two_hubs_on_one_host_never_share_the_dashboards_settings_file(tmp_path, monkeypatch):
    """As root the settings file lives in /run/jhub-kit (readable by the dashboard's
    unprivileged user); its default name comes from the hub's data_dir, so a second
    hub (another course) on the same host writes a file of its own."""
    from jhub_kit.config import JhubKit

    monkeypatch.setattr(os, "geteuid", lambda: 0)
    one = JhubKit(data_dir=str(tmp_path / "course-a")).dashboard_settings
    two = JhubKit(data_dir=str(tmp_path / "course-b")).dashboard_settings
    again = JhubKit(data_dir=str(tmp_path / "course-a")).dashboard_settings
    assert one.startswith("/run/jhub-kit/class-dashboard-") and one.endswith(".json")
    assert one != two and one == again
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert JhubKit(data_dir=str(tmp_path / "x")).dashboard_settings == str(
        tmp_path / "x" / "class-dashboard.json"
    )
