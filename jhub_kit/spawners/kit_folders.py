"""Whether the engine's host sees the kit's own folders (:data:`jhub_kit.spec.KIT_FOLDERS`:
the notice of a full home, the JupyterLab extension), asked once per spawner class
and engine; cold starts and pool members alike are described from the answer
(:class:`jhub_kit.spec.KitFolders`).

Both folders are part of the installed kit, bound read-only into servers (Mounts
of type ``bind``). A hub in a container (jupyterhub-deploy-docker's layout,
``example_config/``) has its own copy, which the engine's host does not: the
engine refuses to create a container with a bind whose source is not on its host
("bind source path does not exist"; only ``-v``-style ``Binds``, which the kit does
not use, would make an empty folder there instead). A host may also have another
copy at the same path (another version of the kit installed there). So the engine
is asked, in a thread, never on the hub's loop: for each folder, a container of
the server's image is created with that bind alone, never started, one file of the
folder is read back through it (``get_archive``, which a created container
answers) and compared with the hub's own, and the container is removed (as
:func:`~jhub_kit.provision.dockervolume.make_volume_as_a_first_start` makes a
volume). A folder refused or different is bound into no server and no pool member;
the log says once what that leaves out and what to do (:func:`said`).
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import tarfile
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import docker.errors

from .. import registry
from ..spec import (
    HOME_FULL_PAGE,
    JUPYTER_DATA_DIR,
    JUPYTER_DATA_PATH,
    KIT_FOLDERS,
    NOTICES_DIR,
    NOTICES_PATH,
    KitFolders,
)

#: the label of the containers that ask (never started)
LABEL = "io.jhub-kit.folder-check"
#: for each folder (its target in a server): the file compared with the host's copy
MARKERS = {
    NOTICES_PATH: HOME_FULL_PAGE,
    JUPYTER_DATA_PATH: "labextensions/jhub-kit-notices/package.json",
}
#: the installed kit's folder, which holds both
PACKAGE_DIR = os.path.dirname(NOTICES_DIR)


# -- pure ------------------------------------------------------------------------


def judge(refused: str | None, host_copy: bytes | None, own: bytes) -> str:
    """Why a folder is not seen ("" when it is): ``refused``, the engine's refusal of
    the bind (None: it made the container); ``host_copy``, the marker file read
    through that container (None: not there); ``own``, the hub's."""
    if refused is not None:
        return refused
    if host_copy is None:
        return "the engine's host has that folder without the kit's files in it"
    if host_copy != own:
        return "the engine's host has another copy there (another version of the kit?)"
    return ""


def refuses_the_bind(error: docker.errors.APIError) -> bool:
    """Whether the engine's error is its answer about the bind (a request it refuses,
    4xx, or the words of one: "bind source path does not exist"), not the engine
    failing (5xx, restarting), which is raised and asked again at the next start."""
    said = str(error.explanation or error)
    return error.is_client_error() or "bind source path" in said or "invalid mount" in said


def folders_of(reasons: Mapping[str, str]) -> KitFolders:
    """The answer, from why each folder (by target) is not seen ("": it is)."""
    return KitFolders(notices=not reasons[NOTICES_PATH], lab=not reasons[JUPYTER_DATA_PATH])


def said(reasons: Mapping[str, str], *, cls: str, notice: bool, lab: bool) -> list[tuple[int, str]]:
    """What the log says of the folders not seen, as ``(level, message)``: a warning
    for one the configuration uses (``notice``: ``home_full_notice``; ``lab``:
    ``lab_notices``), with what is left out and what to do; else a line at info
    (pool members are made without it). ``cls``: the spawner class's name."""
    remedy = (
        f"Where the hub runs in a container, give the engine's host the same kit at the "
        f"same path: install this version there and bind-mount {PACKAGE_DIR} into the "
        f"hub's container at {PACKAGE_DIR} (read-only)"
    )
    out = []
    if reasons[NOTICES_PATH]:
        what = (
            f"The engine cannot bind the kit's notices ({NOTICES_DIR}: "
            f"{reasons[NOTICES_PATH]}): a server whose home is full starts without the "
            "notice page (files are still deleted at once), cold or from the warm pool, "
            "whose members are made without the folder."
        )
        if notice:
            out.append(
                (
                    logging.WARNING,
                    f"{what} {remedy}; or set c.{cls}.home_full_notice = False to silence this.",
                )
            )
        else:
            out.append((logging.INFO, what))
    if reasons[JUPYTER_DATA_PATH]:
        what = (
            f"The engine cannot bind the kit's JupyterLab extension ({JUPYTER_DATA_DIR}: "
            f"{reasons[JUPYTER_DATA_PATH]}): servers get no JupyterLab notices "
            "(lab_notices), cold or from the warm pool, whose members are made without "
            "the folder; the students' hub pages still warn before an idle cull."
        )
        if lab:
            out.append((logging.WARNING, f"{what} {remedy}; or set c.{cls}.lab_notices = False."))
        else:
            out.append((logging.INFO, what))
    return out


# -- asking the engine ---------------------------------------------------------------


@dataclass
class Asked:
    """What one engine said of the kit's folders (None: not asked yet)."""

    answer: KitFolders | None = None
    reasons: dict[str, str] = field(default_factory=dict)
    #: the asking containers the engine did not remove (said in the log)
    left: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: the answer has been said in the log (by whichever start came after it)
    told: bool = False


async def engine_sees_folders(
    run: Callable[[Callable[[], Any]], Any],
    client: Any,
    image: str,
    key: tuple[str, str],
    log: logging.Logger | logging.LoggerAdapter,
    *,
    notice: bool,
    lab: bool,
) -> KitFolders:
    """Which of the kit's folders the engine (``client``, docker's ``APIClient``) can
    bind into a container of ``image``; one answer per ``key`` (the spawner class's
    name and the engine's address) in this process. ``run``: submits a function to
    the spawner's executor (the question is asked there, off the hub's loop), an
    awaitable of its result. ``notice``, ``lab``: what the configuration uses (how
    loudly the log says a folder is missing, once). An image not on the host raises
    ``docker.errors.ImageNotFound`` (the start pulls it) and nothing is remembered."""
    asked: Asked = registry.shared("kit-folders-engine", None, Asked, *key)
    if asked.answer is None:
        await run(lambda: _ask_once(asked, client, image))
    assert asked.answer is not None
    if not asked.told:  # said once, also when the start that asked was cancelled meanwhile
        asked.told = True
        for level, message in said(asked.reasons, cls=key[0], notice=notice, lab=lab):
            log.log(level, message)
        for error in asked.left:
            log.warning("Could not remove the container that checked a kit folder: %s", error)
    return asked.answer


def _ask_once(asked: Asked, client: Any, image: str) -> None:
    """(In a thread.) Ask the engine unless another thread has; the reasons are set
    before the answer (a start that sees the answer finds them)."""
    with asked.lock:
        if asked.answer is not None:
            return
        reasons = {
            target: _ask(client, image, target, source, asked.left)
            for target, source in KIT_FOLDERS.items()
        }
        asked.reasons = reasons
        asked.answer = folders_of(reasons)


def _ask(client: Any, image: str, target: str, source: str, left: list[str]) -> str:
    """(Blocking.) Why the engine's host does not have ``source`` ("": it does); a
    container that could not be removed is added to ``left``."""
    mount = {"Target": target, "Source": source, "Type": "bind", "ReadOnly": True}
    host_config = client.create_host_config(mounts=[mount], network_mode="none")
    marker = MARKERS[target]
    with open(os.path.join(source, marker), "rb") as f:
        own = f.read()
    try:
        created = client.create_container(
            image,
            command=["true"],
            host_config=host_config,
            labels={LABEL: "1"},
            network_disabled=True,
        )
    except docker.errors.ImageNotFound:
        raise
    except docker.errors.APIError as e:
        if not refuses_the_bind(e):  # the engine failing: no answer to remember
            raise
        return judge(str(e.explanation or e), None, own)
    try:
        return judge(None, _read(client, created, f"{target}/{marker}"), own)
    finally:
        try:
            client.remove_container(created, force=True, v=True)  # and an image's VOLUME
        except docker.errors.APIError as e:
            left.append(str(e))


def _read(client: Any, container: Any, path: str) -> bytes | None:
    """(Blocking.) The file at ``path`` in a created container; None: not there."""
    try:
        stream, _ = client.get_archive(container, path)
        data = b"".join(stream)
    except docker.errors.NotFound:
        return None
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        member = next((m for m in tar.getmembers() if m.isfile()), None)
        f = None if member is None else tar.extractfile(member)
        return None if f is None else f.read()


def run_in(executor: Executor) -> Callable[[Callable[[], Any]], Any]:
    """``run`` for :func:`engine_sees_folders`: a function submitted to ``executor``."""

    def run(fn: Callable[[], Any]) -> Any:
        return asyncio.wrap_future(executor.submit(fn))

    return run
