"""Options of the single-user server itself, on every kit spawner.

Each is passed to the server in the one description of it
(:func:`jhub_kit.spec.make_spec`), so the cold start, the warm pool's
hand-over and a swarm service all start the server with it.
"""

from __future__ import annotations

from typing import Any

from traitlets import Bool, TraitError, Unicode, validate
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

    lab_notices = Bool(
        False,
        help="""Show the student what their hub page says of the idle culler and their
        teachers (the warning before the server is stopped for being idle or at its
        ``max_age``, more idle time given for today, a teacher's opening of the
        server) as JupyterLab notifications in the server. The kit's prebuilt
        JupyterLab 4 extension (``jhub_kit/jupyter_data``, nothing installed in the
        image) is mounted read-only at ``/opt/jhub-kit/jupyter`` and put first on the
        server's ``JUPYTER_PATH`` (the spawner's ``environment`` value, else the
        image's, kept after it); it asks the class dashboard's service
        (``/services/class-dashboard/api/notices``), which the bundle sets up
        (``c.JhubKit.lab_notices``, which also turns this on).
        The engine's host must see the kit's installed files at the same path: the
        engine is asked once (:mod:`jhub_kit.spawners.kit_folders`), and where it
        cannot bind them (a hub in a container) servers start without the notices,
        cold and from the warm pool alike, said once in the log; QuotaSwarmSpawner
        leaves it out, also said once (the hub page still warns).
        Example: ``c.QuotaDockerSpawner.lab_notices = False``.

        .. versionadded:: 0.5
        """,
    ).tag(config=True)
