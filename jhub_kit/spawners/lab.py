"""Whether the engine's host sees the kit's JupyterLab extension (the spawners'
``lab_notices``, :func:`jhub_kit.spec.lab_notices_parts`).

The extension is a folder of the installed kit (:data:`jhub_kit.spec.JUPYTER_DATA_DIR`),
bound read-only into each server. A hub in a container (jupyterhub-deploy-docker's
layout, ``example_config/``) has its own copy, which the engine's host does not: a
bind whose source is not on the host fails the container's creation ("bind source
path does not exist"), and every start would fail. So the engine is asked, once
per process and engine: a container of the server's image is created with that
bind alone, never started, and removed (as
:func:`~jhub_kit.provision.dockervolume.make_volume_as_a_first_start` makes a
volume). If the engine refuses, servers start without the notices and the hub's
log says so once, with what to do; the hub page still warns.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import docker.errors

from .. import registry
from ..spec import JUPYTER_DATA_DIR, JUPYTER_DATA_PATH

#: the label of the container that asks (never started)
LABEL = "io.jhub-kit.lab-check"


@dataclass
class EngineSees:
    """What one engine said of the kit's folder (None: not asked yet)."""

    answer: bool | None = None


async def engine_sees_lab(
    call: Callable[..., Awaitable[Any]],
    client: Any,
    image: str,
    engine: str,
    log: logging.Logger | logging.LoggerAdapter,
) -> bool:
    """Whether ``engine`` (its address: one answer per process) can bind the kit's
    folder into a container of ``image``; ``call``: the spawner's ``docker`` (a
    method of ``client``, docker's ``APIClient``, off the hub's loop). An image that
    is not on the host raises ``docker.errors.ImageNotFound`` (the start pulls it)."""
    seen: EngineSees = registry.shared("lab-notices-engine", None, EngineSees, engine)
    if seen.answer is None:
        seen.answer = await _ask(call, client, image, log)
    return seen.answer


async def _ask(
    call: Callable[..., Awaitable[Any]],
    client: Any,
    image: str,
    log: logging.Logger | logging.LoggerAdapter,
) -> bool:
    mount = {"Target": JUPYTER_DATA_PATH, "Source": JUPYTER_DATA_DIR, "Type": "bind"}
    host_config = client.create_host_config(
        mounts=[{**mount, "ReadOnly": True}], network_mode="none"
    )
    try:
        created = await call(
            "create_container",
            image,
            command=["true"],
            host_config=host_config,
            labels={LABEL: "1"},
            network_disabled=True,
        )
    except docker.errors.ImageNotFound:
        raise
    except docker.errors.APIError as e:
        log.warning(
            "Servers get no JupyterLab notices (lab_notices): the engine cannot bind %s "
            "(%s). Where the hub runs in a container, the engine's host does not have "
            "the kit's installed files: set c.QuotaDockerSpawner.lab_notices = False; "
            "the students' hub pages still warn before an idle cull.",
            JUPYTER_DATA_DIR,
            e.explanation or e,
        )
        return False
    try:
        await call("remove_container", created, force=True)
    except docker.errors.APIError as e:
        log.warning("Could not remove the container that checked the lab's folder: %s", e)
    return True
