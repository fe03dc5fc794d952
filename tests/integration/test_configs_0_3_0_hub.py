"""A real ``jupyterhub`` process from 0.3.0's documented dashboard and student-view
blocks (docs/reference/views.md: ``add_dashboard(c, ..., config_file=__file__)``),
behind a userlist authenticator and the moved ``jhub_kit.userlist``: it starts, serves
/hub/health, logs a listed user in, and says what to change."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from conftest import TEST_PREFIX
from hubproc import Hub

pytestmark = [pytest.mark.docker, pytest.mark.hub]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "configs_0_3_0"
BLOCKS = ["docs_reference_views_md__1.py", "docs_reference_views_md__2.py"]

AUTH = """
import jhub_kit.userlist  # 0.3.0's path of the userlist file's module (README)

assert jhub_kit.userlist.__name__ == "jhub_kit.userlist"
c.JupyterHub.authenticator_class = "userlist-dummy"
c.UserlistMixin.userlist_file = "{tmp}/userlist"
"""


def log_in(base: str, name: str) -> requests.Response:
    s = requests.Session()
    s.get(f"{base}/login", timeout=10)  # the form's _xsrf cookie
    data = {"username": name, "password": "x", "_xsrf": s.cookies.get("_xsrf", "")}
    return s.post(f"{base}/login", data=data, allow_redirects=False, timeout=30)


def test_a_hub_runs_from_0_3_0_s_dashboard_and_userlist_config(tmp_path, test_image):
    (tmp_path / "userlist").write_text("teacher admin group:teachers\nalice\n")
    config = AUTH + "".join("\n" + (FIXTURES / b).read_text() for b in BLOCKS)
    hub = Hub(tmp_path, test_image, TEST_PREFIX, config)
    try:
        hub.start()
        base = f"http://127.0.0.1:{hub.port}/hub"
        assert hub.s.get(f"{base}/health", timeout=10).status_code == 200
        assert log_in(base, "alice").status_code == 302
        assert log_in(base, "mallory").status_code == 403  # not in the userlist
        log = (tmp_path / "hub.log").read_text()
        assert "Starting managed service class-dashboard" in log
        assert "add_dashboard(config_file=...) is ignored since jhub_kit 0.4" in log
    finally:
        hub.stop()
