"""Who may log in: the userlist file (:mod:`.userlist`, pure) and the
authenticators that follow it (:mod:`.authenticators`: the mixin, Dummy, PAM,
SharedPassword; :mod:`.native`; :mod:`.oauth`).

``jhub_kit.auth.UserlistMixin`` and ``jhub_kit.auth.with_userlist`` are the
documented names for wrapping any other Authenticator.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "UserlistDummyAuthenticator",
    "UserlistMixin",
    "UserlistPAMAuthenticator",
    "UserlistSharedPasswordAuthenticator",
    "with_userlist",
]


def __getattr__(name: str) -> Any:
    # lazy: `jhub_kit.auth.userlist` (the file format) needs no JupyterHub
    if name in __all__:
        from . import authenticators

        return getattr(authenticators, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
