"""A class's passwords for NativeAuthenticator, set at once (``jhub-kit users import
--native-db-url``): hashed as NativeAuthenticator hashes them, on threads, in one
transaction; an existing account gets its new password and stays one account."""

from __future__ import annotations

import bcrypt
from nativeauthenticator.orm import UserInfo
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from jhub_kit.auth.native import set_password, set_passwords


def session(tmp_path) -> Session:
    """A database with NativeAuthenticator's table alone (the hub's own are not read)."""
    engine = create_engine(f"sqlite:///{tmp_path / 'hub.sqlite'}")
    UserInfo.__table__.create(engine)
    return Session(engine)


def test_a_class_at_once_then_a_reset(tmp_path):
    db = session(tmp_path)
    assert set_password(db, "ann", "old-password") is True
    passwords = {f"s{i}": f"pw-{i}" for i in range(3)} | {"ann": "new-password"}
    created = set_passwords(db, passwords, threads=2)
    assert created == {f"s{i}" for i in range(3)}  # ann existed
    for name, password in passwords.items():
        info = UserInfo.find(db, name)
        assert info.is_authorized
        assert bcrypt.checkpw(password.encode(), info.password), name
    assert db.query(UserInfo).count() == 4
    assert not bcrypt.checkpw(b"old-password", UserInfo.find(db, "ann").password)


def test_nothing_is_stored_when_a_hash_fails(tmp_path):
    """A password bcrypt refuses (over its 72 bytes) stops the whole set before
    anything is written: no half-imported class."""
    db = session(tmp_path)
    try:
        set_passwords(db, {"a": "fine-password", "b": "x" * 100}, threads=2)
    except ValueError:
        pass
    else:
        raise AssertionError("bcrypt took a password of 100 bytes")
    db.rollback()
    assert db.query(UserInfo).count() == 0
