"""Every hub API error path of the admin CLI, against a small stand-in for the hub's
REST API on 127.0.0.1 (the happy paths run against a real hub in test_cli_admin.py).

The stand-in answers what JupyterHub 6 answers: 409 with a JSON error body when a
whole batch of users exists, 403 for a bad token, a scopes list on GET /user."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from fakehub import FakeHub

from jhub_kit.cli import main
from jhub_kit.hubapi import HubAPI, HubAPIError

ADMIN_SCOPES = ["admin:users", "admin:groups", "list:users", "read:users", "read:servers"]


@pytest.fixture
def hub():
    h = FakeHub()
    h.route("GET", "/user", 200, {"name": "admin", "scopes": ADMIN_SCOPES})
    # the hub's users, as JupyterHub pages them: nobody yet
    h.route("GET", "/users", 200, {"items": [], "_pagination": {"next": None}})
    yield h
    h.close()


@pytest.fixture
def csv_file(tmp_path):
    f = tmp_path / "class.csv"
    f.write_text("username,groups\nann,students\nben,students\n")
    return f


def cli(hub_url: str, *args: str, token: str = "secret-token"):
    return CliRunner().invoke(
        main, list(args), env={"JUPYTERHUB_API_TOKEN": token, "JUPYTERHUB_URL": hub_url}
    )


def test_whole_batch_exists_409_is_existed_not_a_crash(hub, csv_file):
    """The hub answers 409 {"status": 409, "message": ...} when every user exists; it
    used to be read as a list of users and the command crashed."""
    hub.route("POST", "/users", 409, {"status": 409, "message": "All 2 users already exist"})
    hub.route("POST", "/groups/students", 409, {"status": 409, "message": "exists"})
    hub.route("POST", "/groups/students/users", 200, {"name": "students"})
    r = cli(hub.url, "users", "import", str(csv_file))
    assert r.exit_code == 0, r.output
    assert "ann: existed" in r.output and "ben: existed" in r.output
    assert "2 existed" in r.output


def test_server_error_marks_the_batch_failed_and_exits_1(hub, csv_file):
    hub.route("POST", "/users", 500, {"status": 500, "message": "database is locked"})
    r = cli(hub.url, "users", "import", str(csv_file))
    assert r.exit_code == 1
    assert "ann: failed: POST /users: 500 database is locked" in r.output
    assert "2 failed" in r.output
    # no group was touched for failed users
    assert not any(p.startswith("/hub/api/groups") for _, p, _ in hub.requests)


def test_invalid_json_from_the_hub_is_a_clear_error(hub, csv_file):
    hub.route("POST", "/users", 201, b"<html>proxy error</html>", "application/json")
    r = cli(hub.url, "users", "import", str(csv_file))
    assert r.exit_code == 1
    assert "POST /users: the hub answered with invalid JSON" in r.output


def test_bad_token_and_missing_scopes_stop_before_any_change(hub, csv_file):
    hub.route("GET", "/user", 403, {"status": 403, "message": "Forbidden"})
    r = cli(hub.url, "users", "import", str(csv_file))
    assert r.exit_code == 1 and "Error: the token is invalid or expired" in r.output
    hub.route("GET", "/user", 200, {"name": "student", "scopes": ["read:users:name!user"]})
    r = cli(hub.url, "users", "import", str(csv_file))
    assert r.exit_code == 1
    assert "lacks the scope(s) admin:users, admin:groups" in r.output
    assert [m for m, _, _ in hub.requests] == ["GET", "GET"]  # nothing else was asked


def test_unreachable_hub(csv_file):
    r = cli("http://127.0.0.1:9", "users", "import", str(csv_file))
    assert r.exit_code == 1 and "cannot reach the hub at http://127.0.0.1:9/hub/api" in r.output


def test_no_token(csv_file, hub):
    r = cli(hub.url, "users", "import", str(csv_file), token="")
    assert r.exit_code == 1 and "no API token" in r.output


def test_remove_of_a_missing_user_and_a_failing_delete(hub):
    hub.route("DELETE", "/users/zoe", 404, {"status": 404, "message": "Not Found"})
    r = cli(hub.url, "users", "remove", "zoe", "--yes")
    assert r.exit_code == 0, r.output
    hub.route("DELETE", "/users/zoe", 400, {"status": 400, "message": "zoe's server is pending"})
    r = cli(hub.url, "users", "remove", "zoe", "--yes")
    assert r.exit_code == 1 and "DELETE /users/zoe: 400 zoe's server is pending" in r.output


def test_status_codes_are_attributes_not_message_text(hub):
    api = HubAPI(hub.url, "t")
    assert api.user("nobody") is None  # 404 -> None
    hub.route("GET", "/users/weird", 404, {"status": 404, "message": "the 500 users"})
    assert api.user("weird") is None
    hub.route("GET", "/users/broken", 500, {"status": 500, "message": "404 in text"})
    with pytest.raises(HubAPIError) as err:
        api.user("broken")
    assert err.value.status == 500


def test_class_limits_needs_a_limit_and_a_reachable_dashboard():
    from click.testing import CliRunner

    from jhub_kit.cli import main

    env = {"JUPYTERHUB_API_TOKEN": "t" * 32, "JUPYTERHUB_URL": "http://127.0.0.1:9"}
    out = CliRunner().invoke(main, ["class", "limits", "ann"], env=env)
    assert out.exit_code == 2 and "give --memory, --cpu, --disk or --idle" in out.output
    out = CliRunner().invoke(main, ["class", "stop", "ann"], env=env)
    assert out.exit_code == 1 and "cannot reach the class dashboard" in out.output, out.output
