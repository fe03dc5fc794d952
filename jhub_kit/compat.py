"""What differs between the JupyterHub versions the kit supports (5.4 to 6.x), in
one place. Everything else the kit uses is the same in both.

- ``SpawnException`` (JupyterHub 6): a spawn failure with a message for the user,
  another for the log, a reason label and an HTTP status. JupyterHub 5 has no such
  class; its pages show an exception's ``jupyterhub_message``, its REST API the
  ``log_message``, and its log the exception's ``str()``. So on JupyterHub 5 the
  same exception is a ``tornado.web.HTTPError`` whose ``log_message`` and
  ``jupyterhub_message`` are the student's words and whose ``str()`` (what the hub
  logs) is the admin's: the student reads the same words on both, the admin finds
  the same reason in the log. ``admin_message(e)`` is the admin's on both.
"""

from __future__ import annotations

import logging
from typing import Any, NoReturn

import jupyterhub
from tornado import web

JUPYTERHUB_VERSION = tuple(int(p) for p in jupyterhub.__version__.split(".")[:2])

try:
    from jupyterhub.spawner import SpawnException
except ImportError:  # JupyterHub 5

    class SpawnException(web.HTTPError):  # type: ignore[no-redef]
        """JupyterHub 6's SpawnException, for JupyterHub 5: ``message`` for the user
        (``jupyterhub_message``, which JupyterHub 5 shows), ``log_message`` for the log."""

        log_message = ""  # a plain attribute, as in JupyterHub 6 (tornado's is a property)

        def __init__(
            self,
            message: str,
            *,
            reason: str,
            log_message: str = "",
            message_html: str = "",
            status_code: int = 400,
        ) -> None:
            super().__init__(status_code, reason=reason)
            self.message = message
            self.log_message = message  # JupyterHub 5's API shows this: the student's words
            self.admin_message = log_message or message
            self.message_html = message_html
            self.jupyterhub_message = message
            if message_html:
                self.jupyterhub_html_message = message_html

        def __str__(self) -> str:
            return f"{self.status_code} SpawnException(reason={self.reason}): {self.admin_message}"


def admin_message(e: BaseException) -> str:
    """What a spawn failure tells the admin (the hub's log), on JupyterHub 5 and 6."""
    return str(getattr(e, "admin_message", None) or getattr(e, "log_message", None) or e)


def admin_must_fix(
    log: logging.Logger | logging.LoggerAdapter[Any],
    student: str,
    admin: str,
    *,
    reason: str,
    status_code: int = 500,
) -> NoReturn:
    """Fail a start that an administrator must mend: log ``admin`` (what to change,
    for the hub's log) and raise :class:`SpawnException` with ``student``'s words
    (no cause chained: the admin's reason says it)."""
    log.error("%s", admin)
    raise SpawnException(
        student, reason=reason, status_code=status_code, log_message=admin
    ) from None


__all__ = ["JUPYTERHUB_VERSION", "SpawnException", "admin_message", "admin_must_fix"]
