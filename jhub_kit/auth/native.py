"""NativeAuthenticator with the userlist, closed to name-squatting.

Stock NativeAuthenticator pre-authorizes names listed in ``admin_users`` at
sign-up, so whoever signs up first under the admin's name becomes admin.
Here:

- names the userlist marks ``admin`` can never be claimed through the sign-up
  form; their password is set by the administrator on the host with
  ``jhub-kit users set-password NAME`` (which calls :func:`set_password`);
- while the userlist is missing or broken, sign-up is closed (the admin names
  are unknown then);
- other listed users sign up as usual and, as in NativeAuthenticator, need
  an admin's approval (or ``open_signup``) before they can log in.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import bcrypt
from nativeauthenticator import NativeAuthenticator
from nativeauthenticator.handlers import LoginHandler as NativeLoginHandler
from nativeauthenticator.orm import UserInfo

from .authenticators import UserlistMixin


class _NullTimer:
    def start(self) -> _NullTimer:
        return self

    def stop(self, send: bool = True) -> None:
        pass


class _NullStatsd:
    """Metrics that go nowhere: what JupyterHub 5 sends to statsd (``timer``,
    ``incr``...), for a handler that still calls it on JupyterHub 6."""

    def timer(self, name: str) -> _NullTimer:
        return _NullTimer()

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


class CompatLoginHandler(NativeLoginHandler):
    """NativeAuthenticator 1.3's login page, working on JupyterHub 6.

    Its ``post`` uses ``self.statsd`` (gone in JupyterHub 6) and its ``_render``
    takes no extra arguments, while JupyterHub 6 renders login errors through
    ``_render(**namespace)``: both end in a 500 on every login attempt.
    """

    @property
    def statsd(self) -> Any:
        # JupyterHub 5 still has its statsd client; 6 has none
        return self.settings.get("statsd") or _NullStatsd()

    def _render(self, login_error: Any = None, username: Any = None, **kwargs: Any) -> Any:
        return super()._render(login_error=login_error, username=username)


class UserlistNativeAuthenticator(UserlistMixin, NativeAuthenticator):
    """NativeAuthenticator limited to the userlist; admin names cannot be claimed."""

    def get_handlers(self, app: Any) -> list[tuple[str, Any]]:
        return [
            (path, CompatLoginHandler if handler is NativeLoginHandler else handler)
            for path, handler in super().get_handlers(app)
        ]

    def create_user(self, username: str, password: str, **kwargs: Any) -> Any:
        name = self.normalize_username(username)
        if self.userlist_file:
            ul = self.userlist()
            if ul is None:
                self.log.warning("Sign-up of %r refused: the userlist is unusable", name)
                return None
            if name in ul.admins:
                self.log.warning(
                    "Sign-up of %r refused: it is an admin in the userlist; set its password "
                    "on the host with: jhub-kit users set-password %s",
                    name,
                    name,
                )
                return None
        return super().create_user(username, password, **kwargs)


def set_password(db: Any, username: str, password: str) -> bool:
    """Set ``username``'s NativeAuthenticator password and authorize the account.

    ``db`` is a SQLAlchemy session on the hub database. Creates the account
    when missing. Returns True when it was created.
    """
    created = _store(db, username, _hash(password))
    db.commit()
    return created


def set_passwords(db: Any, passwords: dict[str, str], threads: int = 0) -> set[str]:
    """:func:`set_password` for many users at once (a class's import): the passwords
    hashed on ``threads`` threads (bcrypt's work leaves the GIL; 0: one per core),
    stored in one transaction. Returns the usernames whose account was created."""
    names = list(passwords)
    workers = threads or os.cpu_count() or 1
    with ThreadPoolExecutor(workers, thread_name_prefix="jhub-kit-bcrypt") as pool:
        hashed = list(pool.map(_hash, (passwords[n] for n in names)))
    created = set()
    for name, h in zip(names, hashed, strict=True):
        if _store(db, name, h):
            created.add(name)
    db.commit()
    return created


def _hash(password: str) -> bytes:
    # NativeAuthenticator's own hash: bcrypt with its default cost
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt())


def _store(db: Any, username: str, hashed: bytes) -> bool:
    info = UserInfo.find(db, username)
    if info is None:
        db.add(UserInfo(username=username, password=hashed, is_authorized=True))
        return True
    info.password = hashed
    info.is_authorized = True
    return False
