"""The hub's SQLite database, set for a class: write-ahead log, ``synchronous=NORMAL``.

JupyterHub commits to its database in its event loop, several times per server
start (the spawner's state, an API token, an OAuth client, activity). With
SQLite's defaults (a rollback journal, ``synchronous=FULL``) each commit waits
for the disk to flush two or three times, and the whole hub waits with it: in a
pooled rush of 20 on this rig, one commit held the hub's loop for 866 ms. In
WAL mode with ``synchronous=NORMAL`` a commit appends to the log and flushes
only at checkpoints; a power cut may lose the last commits (never corrupt the
database), which the hub rebuilds from the running containers anyway.

Set through JupyterHub's own ``db_kwargs`` (a connection factory that sqlite3
calls for each connection), nothing patched:
``c.JupyterHub.db_kwargs = jhub_kit.hubdb.db_kwargs()``; the bundle
(:func:`jhub_kit.config.configure`) does it for its SQLite database unless
``c.JhubKit.sqlite_wal = False`` or ``db_kwargs`` is set already.

WAL keeps two files beside the database (``-wal``, ``-shm``): back them up
together, or with ``sqlite3 jupyterhub.sqlite .backup copy.sqlite``; WAL does
not work on a network filesystem (keep the database on a local disk).
"""

from __future__ import annotations

import sqlite3
from typing import Any


class ClassroomConnection(sqlite3.Connection):
    """A connection that puts its database in WAL mode with ``synchronous=NORMAL``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.execute("PRAGMA journal_mode=WAL")  # kept in the file; a no-op once set
        self.execute("PRAGMA synchronous=NORMAL")  # per connection


def db_kwargs() -> dict[str, Any]:
    """``c.JupyterHub.db_kwargs`` for a SQLite ``db_url`` (JupyterHub's own
    ``check_same_thread=False`` kept, since these ``connect_args`` replace its)."""
    return {"connect_args": {"check_same_thread": False, "factory": ClassroomConnection}}


def is_sqlite_file(url: str) -> bool:
    """A SQLite database in a file (not ``:memory:``, not another database)."""
    return url.startswith("sqlite") and not url.endswith(":memory:")
