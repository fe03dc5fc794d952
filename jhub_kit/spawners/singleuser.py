"""Options of the single-user server itself, on every kit spawner.

Each is passed to the server in the one description of it
(:func:`jhub_kit.spec.make_spec`), so the cold start, the warm pool's
hand-over and a swarm service all start the server with it.
"""

from __future__ import annotations

from typing import Any

from traitlets import TraitError, Unicode, validate
from traitlets.config import Configurable


class SingleUserOptionsMixin(Configurable):
    """Options of the server the kit starts (not of its container)."""

    lab_extension_manager = Unicode(
        None,
        allow_none=True,
        help="""JupyterLab's extension manager in the servers: passed as
        ``--LabApp.extension_manager=<name>``. ``"readonly"`` lists the installed
        extensions and installs none; ``"pypi"`` (JupyterLab's default) also
        searches PyPI and installs with pip, and builds an HTTPS client (the CA
        bundle read and parsed) at every server's start. Any manager the image's
        JupyterLab registers (entry point group ``jupyterlab.extension_manager_v1``)
        may be named. None: not passed, the image's configuration decides.
        An ``--LabApp.extension_manager`` in ``args`` comes later and wins.
        Example: ``c.QuotaDockerSpawner.lab_extension_manager = "readonly"``.

        .. versionadded:: 0.5
        """,
    ).tag(config=True)

    @validate("lab_extension_manager")
    def _lab_extension_manager_is_a_name(self, proposal: dict[str, Any]) -> str | None:
        value = proposal["value"]
        if value is not None and (not value or any(c.isspace() or c == "=" for c in value)):
            raise TraitError(
                f"{type(self).__name__}.lab_extension_manager must be a manager's name "
                f'such as "readonly" or "pypi", or None; got {value!r}'
            )
        return value
