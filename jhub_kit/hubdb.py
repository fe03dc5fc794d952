"""The hub's SQLite database, set for a class: write-ahead log, ``synchronous=NORMAL``.

JupyterHub commits to its database in its event loop, several times per server
start (the spawner's state, an API token, an OAuth client, activity). With
SQLite's defaults (a rollback journal, ``synchronous=FULL``) each commit waits
for the disk to flush two or three times, and the whole hub waits with it: in a
pooled rush of 20 on this rig, one commit held the hub's loop for 866 ms. In
WAL mode with ``synchronous=NORMAL`` a commit appends to the log and flushes
only at checkpoints; a power cut may lose the last commits (never corrupt the
database), which the hub rebuilds from the running containers anyway.

The bundle (:func:`jhub_kit.config.configure`) calls :func:`enable` for its
database unless ``c.JhubKit.sqlite_wal = False``: every connection any engine
of the hub's process makes to that file gets the two pragmas (an SQLAlchemy
``connect`` listener, as JupyterHub's own ``foreign_keys`` one), so a
``db_url`` changed later (``jupyterhub --db=postgresql://...``) is simply left
alone. In a config of your own: ``c.JupyterHub.db_kwargs =
jhub_kit.hubdb.db_kwargs()`` with a SQLite ``db_url`` does the same through
JupyterHub's ``db_kwargs``.

WAL keeps two files beside the database (``-wal``, ``-shm``): back them up
together, or with ``sqlite3 jupyterhub.sqlite .backup copy.sqlite``
(JupyterHub's ``upgrade-db`` copies the main file only: stop the hub cleanly
first, which checkpoints the log into it); WAL does not work on a network
filesystem (keep the database on a local disk).
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any

from . import registry


def _for_a_class(con: sqlite3.Connection) -> None:
    con.execute("PRAGMA journal_mode=WAL")  # kept in the file; a no-op once set
    con.execute("PRAGMA synchronous=NORMAL")  # per connection


class ClassroomConnection(sqlite3.Connection):
    """A connection that puts its database in WAL mode with ``synchronous=NORMAL``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _for_a_class(self)


def db_kwargs() -> dict[str, Any]:
    """``c.JupyterHub.db_kwargs`` for a SQLite ``db_url`` (JupyterHub's own
    ``check_same_thread=False`` kept, since these ``connect_args`` replace its)."""
    return {"connect_args": {"check_same_thread": False, "factory": ClassroomConnection}}


def sqlite_path(url: str) -> str | None:
    """The file of a SQLite ``url`` (None: in memory, or not SQLite)."""
    from sqlalchemy.engine import make_url

    try:
        u = make_url(url)
    except Exception:
        return None
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    return u.database


def _files() -> set[str]:
    """The SQLite files (real paths) this process gives a class's settings."""
    found: set[str] = registry.shared("hubdb-files", None, set)
    return found


def enable(db_url: str) -> bool:
    """WAL and ``synchronous=NORMAL`` for every connection this process makes to the
    SQLite file of ``db_url``; False (nothing done) for any other database."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    path = sqlite_path(db_url)
    if path is None:
        return False
    _files().add(os.path.realpath(path))
    if not event.contains(Engine, "connect", _on_connect):
        event.listen(Engine, "connect", _on_connect)
    return True


def _on_connect(dbapi_con: Any, record: Any) -> None:
    files = _files()
    if not files or not isinstance(dbapi_con, sqlite3.Connection):
        return
    row = dbapi_con.execute("PRAGMA database_list").fetchone()  # (seq, name, file)
    if row and row[2] and os.path.realpath(row[2]) in files:
        _for_a_class(dbapi_con)
