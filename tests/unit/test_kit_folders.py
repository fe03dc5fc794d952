"""Where the engine's host does not see the kit's own folders (the notice of a full
home, the JupyterLab extension: a hub in a container), without services:

- the decision (pure): why a folder is not seen from the engine's answers, what the
  log says and how loudly, and the descriptions made from the answer: a cold
  start's and a pool member's bind the same folders, and a pooled start still fits
  its member;
- the question (the engine's answers stood in for, docker-py's calls and errors, in
  real threads): one question per spawner class and engine however many starts ask
  at once, containers created and removed but never started, an image not here
  left to the start's pull.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import tarfile
import threading
from concurrent.futures import ThreadPoolExecutor

import docker
import docker.errors
import pytest
import requests
from test_spec import inputs, member_mounts

from jhub_kit import spec
from jhub_kit.spawners import kit_folders
from jhub_kit.spawners.kit_folders import engine_sees_folders, folders_of, judge, run_in, said
from jhub_kit.spec import KitFolders, make_spec

pytestmark = pytest.mark.unit

API = docker.APIClient(base_url="unix:///nonexistent.sock", version="1.41")
HOME = {"Target": "/home/jovyan", "Source": "/srv/homes/alice", "Type": "bind", "ReadOnly": False}
NOTICES, LAB = spec.NOTICES_PATH, spec.JUPYTER_DATA_PATH
REFUSED = f'invalid mount config for type "bind": bind source path does not exist: {LAB}'


def own(target: str) -> bytes:
    source = spec.KIT_FOLDERS[target]
    with open(os.path.join(source, kit_folders.MARKERS[target]), "rb") as f:
        return f.read()


# -- the decision ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "refused, host_copy, seen",
    [
        (None, b"same", True),
        (REFUSED, None, False),
        (None, None, False),
        (None, b"another version", False),
    ],
    ids=["the-same-files", "refused", "an-empty-folder", "another-copy"],
)
def test_why_a_folder_is_not_seen(refused, host_copy, seen):
    why = judge(refused, host_copy, b"same")
    assert (why == "") is seen
    if refused:
        assert why == refused


def test_the_answer_names_each_folder():
    assert folders_of({NOTICES: "", LAB: ""}) == KitFolders(notices=True, lab=True)
    assert folders_of({NOTICES: "x", LAB: ""}) == KitFolders(notices=False, lab=True)
    assert folders_of({NOTICES: "", LAB: "x"}).binds() == {NOTICES: spec.NOTICES_DIR}
    assert KitFolders(False, False).binds() == {}


def test_what_the_log_says():
    reasons = {NOTICES: "refused here", LAB: "another copy"}
    used = said(reasons, cls="QuotaDockerSpawner", notice=True, lab=True)
    assert [level for level, _ in used] == [logging.WARNING, logging.WARNING]
    (_, notices), (_, lab) = used
    for message in (notices, lab):  # what is left out, cold and pooled, and what to do
        assert "warm pool" in message and "cold" in message
        assert f"bind-mount {kit_folders.PACKAGE_DIR} into the hub's container" in message
    assert "refused here" in notices and "c.QuotaDockerSpawner.home_full_notice = False" in notices
    assert "another copy" in lab and "c.QuotaDockerSpawner.lab_notices = False" in lab
    unused = said(reasons, cls="QuotaDockerSpawner", notice=False, lab=False)
    assert [level for level, _ in unused] == [logging.INFO, logging.INFO]
    assert said({NOTICES: "", LAB: ""}, cls="X", notice=True, lab=True) == []


def _kit_mounts(mounts: dict[str, dict]) -> dict[str, str]:
    return {t: m["Source"] for t, m in mounts.items() if t in spec.KIT_FOLDERS}


ANSWERS = [KitFolders(True, True), KitFolders(False, True), KitFolders(True, False)]
ANSWERS += [KitFolders(False, False)]


@pytest.mark.parametrize("folders", ANSWERS, ids=lambda f: f"notices={f.notices}-lab={f.lab}")
def test_cold_and_pooled_servers_bind_the_folders_seen(folders):
    """A full home and the lab's notices asked for: the cold description binds only
    what the host has, the member made for the configuration binds the same, and the
    pooled start fits that member with no slot for a kit folder."""
    cold = make_spec(inputs(home=HOME, home_full="space", lab_notices=True, kit_folders=folders))
    mounts = {m["Target"]: m for m in cold.host_config["mounts"]}
    assert _kit_mounts(mounts) == folders.binds()
    assert all(mounts[t]["ReadOnly"] for t in folders.binds())
    assert ("--FileContentsManager.delete_to_trash=False" in cold.args) is True
    assert any(a.startswith("--ServerApp.default_url=") for a in cold.args) is folders.notices
    assert ("JUPYTER_PATH" in cold.env) is folders.lab

    configured = make_spec(inputs(env={}, args=[], name="", home=HOME, kit_folders=folders))
    assert _kit_mounts(member_mounts(configured)) == folders.binds()
    assert spec.pool_key(cold) == spec.pool_key(configured)
    assert spec.pool_refusals(cold, spec.fixed_part(configured)) == []
    assert [p.mount.target for p in spec.mount_plan(cold)] == ["/home/jovyan"]


def test_a_description_not_made_from_inputs_keeps_both():
    described = make_spec(inputs())
    described.inputs = None
    assert _kit_mounts(member_mounts(described)) == spec.KIT_FOLDERS


# -- the question -------------------------------------------------------------------------


def _tar(name: str, data: bytes) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


class Client:
    """docker's APIClient as the engine answers: a bind refused (by source), a file read
    back through a created container (by path; None: not there)."""

    def __init__(self, refuse=None, files=None, image_missing=False):
        self.refuse = refuse or {}
        self.files = (
            files
            if files is not None
            else {f"{t}/{kit_folders.MARKERS[t]}": own(t) for t in spec.KIT_FOLDERS}
        )
        self.image_missing = image_missing
        self.calls: list[tuple] = []
        self.containers: dict[str, dict] = {}

    def create_host_config(self, **kw):
        return API.create_host_config(**kw)

    def create_container(self, image, **kw):
        self.calls.append(("create", image, kw))
        if self.image_missing:
            raise docker.errors.ImageNotFound("No such image: " + image)
        [mount] = kw["host_config"]["Mounts"]
        if mount["Source"] in self.refuse:
            status, why = self.refuse[mount["Source"]]
            answer = requests.Response()
            answer.status_code = status
            raise docker.errors.APIError(str(status), response=answer, explanation=why)
        cid = f"c{sum(c[0] == 'create' for c in self.calls) - 1}"
        self.containers[cid] = kw
        return {"Id": cid}

    def get_archive(self, container, path):
        self.calls.append(("archive", container["Id"], path))
        if self.files.get(path) is None:
            raise docker.errors.NotFound("no such file")
        return iter([_tar(os.path.basename(path), self.files[path])]), {}

    def remove_container(self, container, v=False, link=False, force=False):
        self.calls.append(("remove", container["Id"], force, v))
        del self.containers[container["Id"]]

    def start(self, *a, **kw):
        raise AssertionError("the question never starts a container")


@pytest.fixture
def run():
    with ThreadPoolExecutor(4) as ex:
        yield run_in(ex)


async def test_asked_once_per_class_and_engine_however_many_ask(run):
    client = Client()
    key = ("QuotaDockerSpawner", "unix:///unit-sees-both")
    log = logging.getLogger("test-kit-folders")
    answers = await asyncio.gather(
        *(
            engine_sees_folders(run, client, "img:1", key, log, notice=True, lab=True)
            for _ in range(5)
        )
    )
    assert answers == [KitFolders(True, True)] * 5
    creates = [c for c in client.calls if c[0] == "create"]
    assert len(creates) == 2 and client.containers == {}  # each removed, none started
    for _, image, kw in creates:
        assert image == "img:1" and kw["labels"] == {kit_folders.LABEL: "1"}
        assert kw["host_config"]["NetworkMode"] == "none" and kw["network_disabled"]
        [mount] = kw["host_config"]["Mounts"]
        assert mount["ReadOnly"] and spec.KIT_FOLDERS[mount["Target"]] == mount["Source"]
    assert [c for c in client.calls if c[0] == "remove"] == [
        ("remove", "c0", True, True),
        ("remove", "c1", True, True),
    ]  # with an anonymous volume the image may declare
    # another class on the same engine asks for itself
    other = await engine_sees_folders(
        run, client, "img:1", ("Other", key[1]), log, notice=True, lab=True
    )
    assert (
        other == KitFolders(True, True) and len([c for c in client.calls if c[0] == "create"]) == 4
    )


async def test_a_folder_refused_and_one_another_copy_and_it_is_said_once(run, caplog):
    client = Client(
        refuse={spec.NOTICES_DIR: (400, REFUSED)},
        files={f"{LAB}/{kit_folders.MARKERS[LAB]}": b'{"version": "0.0.1"}'},
    )
    key = ("QuotaDockerSpawner", "unix:///unit-a-hub-in-a-container")
    with caplog.at_level(logging.INFO):
        for _ in range(3):
            got = await engine_sees_folders(
                run, client, "img:1", key, logging.getLogger("t"), notice=True, lab=False
            )
            assert got == KitFolders(notices=False, lab=False)
    assert client.containers == {}
    said_ = [
        (r.levelno, r.getMessage())
        for r in caplog.records
        if "the engine cannot bind" in r.getMessage().lower()
    ]
    assert [level for level, _ in said_] == [logging.WARNING, logging.INFO]
    assert REFUSED in said_[0][1] and "another copy" in said_[1][1]


async def test_an_image_not_here_is_the_starts_to_pull(run):
    client = Client(image_missing=True)
    key = ("QuotaDockerSpawner", "unix:///unit-without-the-image")
    with pytest.raises(docker.errors.ImageNotFound):
        await engine_sees_folders(
            run, client, "img:2", key, logging.getLogger("t"), notice=True, lab=True
        )
    client.image_missing = False
    got = await engine_sees_folders(
        run, client, "img:2", key, logging.getLogger("t"), notice=True, lab=True
    )
    assert got == KitFolders(True, True)


async def test_an_engine_failing_is_no_answer(run):
    """A 500 (an engine restarting, a full disk) is raised as the start's own create
    would be, and nothing is remembered: the next start asks again."""
    client = Client(refuse={spec.NOTICES_DIR: (500, "Internal Server Error")})
    key = ("QuotaDockerSpawner", "unix:///unit-an-engine-failing")
    log = logging.getLogger("t")
    with pytest.raises(docker.errors.APIError, match="Internal Server Error"):
        await engine_sees_folders(run, client, "img:3", key, log, notice=True, lab=True)
    client.refuse = {}
    assert await engine_sees_folders(
        run, client, "img:3", key, log, notice=True, lab=True
    ) == KitFolders(True, True)


async def test_said_once_also_when_the_start_that_asked_was_cancelled(caplog):
    """The first start times out while the engine is asked: the answer it leaves is
    said by the next start, once."""

    release = threading.Event()
    client = Client(refuse={spec.NOTICES_DIR: (400, REFUSED)})
    key = ("QuotaDockerSpawner", "unix:///unit-the-asker-cancelled")
    log = logging.getLogger("t-cancelled")
    with ThreadPoolExecutor(2) as ex:

        def slow(fn):
            def held():
                release.wait(5)
                return fn()

            return asyncio.wrap_future(ex.submit(held))

        first = asyncio.ensure_future(
            engine_sees_folders(slow, client, "img:4", key, log, notice=True, lab=True)
        )
        await asyncio.sleep(0.05)
        first.cancel()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await first
        with caplog.at_level(logging.INFO, logger="t-cancelled"):
            for _ in range(3):
                got = await engine_sees_folders(
                    run_in(ex), client, "img:4", key, log, notice=True, lab=True
                )
                assert got == KitFolders(notices=False, lab=True)
    said_ = [r for r in caplog.records if "cannot bind the kit's notices" in r.getMessage()]
    assert len(said_) == 1 and said_[0].levelno == logging.WARNING
    assert len([c for c in client.calls if c[0] == "create"]) == 2  # asked once


async def test_a_hub_that_binds_neither_folder_asks_no_engine():
    """No home the kit provisions (so none is ever full), no lab notices, no pool:
    nothing would bind either folder, so the engine is not asked (its client would
    fail the test); with homes provisioned, it is."""
    from traitlets.config import Config

    from jhub_kit.spawners.docker import QuotaDockerSpawner

    class NoEngine:
        base_url = "unix:///unit-no-engine"

        def __getattr__(self, name):
            raise AssertionError(f"the engine was asked ({name})")

    class Spawner(QuotaDockerSpawner):
        @property
        def client(self):
            return NoEngine()

    c = Config()
    c.QuotaDockerSpawner.lab_notices = False
    sp = Spawner(config=c)
    assert sp.home_full_notice and sp.home_provisioner is None and not sp.pool_on
    assert await sp.kit_folders_here() == KitFolders()

    c.QuotaDockerSpawner.home_provisioner = "directory"
    with pytest.raises(AssertionError, match="the engine was asked"):
        await Spawner(config=c).kit_folders_here()
