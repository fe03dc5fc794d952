"""CLI: jhub-kit userlist check and users set-password (CliRunner, a temp sqlite DB)."""

from __future__ import annotations

import bcrypt
from click.testing import CliRunner
from jupyterhub import orm
from nativeauthenticator.orm import UserInfo

from jhub_kit.cli import main


def test_check_ok(tmp_path):
    p = tmp_path / "userlist"
    p.write_text("jtyberg admin\nfriend1 group:class-a\nfriend2 group:class-a\n")
    r = CliRunner().invoke(main, ["userlist", "check", str(p)])
    assert r.exit_code == 0
    assert r.output == ("3 users, 1 admins, 1 groups\nadmins: jtyberg\ngroup class-a: 2 members\n")


def test_check_broken(tmp_path):
    p = tmp_path / "userlist"
    p.write_text("jtyberg admn\n")
    r = CliRunner().invoke(main, ["userlist", "check", str(p)])
    assert r.exit_code == 1
    assert r.output == (
        f"{p}:1: unknown word 'admn' after 'jtyberg'; expected 'admin', 'user' or group:NAME\n"
    )


def test_check_missing(tmp_path):
    r = CliRunner().invoke(main, ["userlist", "check", str(tmp_path / "nope")])
    assert r.exit_code == 1
    assert "cannot read the userlist: No such file or directory" in r.output


def _native_db(tmp_path):
    url = f"sqlite:///{tmp_path}/hub.sqlite"
    db = orm.new_session_factory(url)()  # a hub DB, with NativeAuthenticator's table
    return url, db


def test_set_password_from_stdin(tmp_path):
    url, db = _native_db(tmp_path)
    r = CliRunner().invoke(
        main, ["users", "set-password", "Teacher", "--db-url", url], input="s3cret-pass\n"
    )
    assert r.exit_code == 0, r.output
    assert r.output == "created teacher: password set, account authorized\n"
    db.expire_all()
    info = UserInfo.find(db, "teacher")
    assert info.is_authorized and bcrypt.checkpw(b"s3cret-pass", info.password)
    r = CliRunner().invoke(
        main, ["users", "set-password", "teacher", "--db-url", url], input="an0ther-pass\n"
    )
    assert r.output == "updated teacher: password set, account authorized\n"


def test_set_password_generate_prints_once(tmp_path):
    url, _ = _native_db(tmp_path)
    r = CliRunner().invoke(main, ["users", "set-password", "t", "--db-url", url, "--generate"])
    assert r.exit_code == 0
    lines = r.output.splitlines()
    assert lines[0] == "created t: password set, account authorized"
    assert lines[1].startswith("password: ") and len(lines[1]) >= len("password: ") + 20


def test_set_password_too_short(tmp_path):
    url, _ = _native_db(tmp_path)
    r = CliRunner().invoke(main, ["users", "set-password", "t", "--db-url", url], input="short\n")
    assert r.exit_code == 2
    assert "the password must have at least 8 characters" in r.output


def test_set_password_refuses_a_non_hub_database(tmp_path):
    url = f"sqlite:///{tmp_path}/typo.sqlite"
    r = CliRunner().invoke(
        main, ["users", "set-password", "t", "--db-url", url], input="long-enough\n"
    )
    assert r.exit_code == 1
    assert r.output == (
        f"Error: {url} is not a JupyterHub database (no users table); pass the hub's --db-url\n"
    )


def test_set_password_without_native_table(tmp_path):
    import sqlalchemy

    url = f"sqlite:///{tmp_path}/hub.sqlite"
    with sqlalchemy.create_engine(url).begin() as conn:
        conn.execute(sqlalchemy.text("CREATE TABLE users (id INTEGER)"))
    r = CliRunner().invoke(
        main, ["users", "set-password", "t", "--db-url", url], input="long-enough\n"
    )
    assert r.exit_code == 1
    assert "has no NativeAuthenticator table: start the hub once with" in r.output
