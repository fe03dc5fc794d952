"""The home part (:class:`jhub_kit.spawners.homes.HomePart`) on a directory home in
a temporary folder, owned by whoever runs the test: what it tells the student,
what it records, and the mounts beside it, with an engine call that fails if it
is asked anything (no engine, no root)."""

from __future__ import annotations

import logging
import os
from typing import Any

import pytest

from jhub_kit.provision import HomeMount
from jhub_kit.provision.directory import DirectoryProvisioner
from jhub_kit.quota.policy import Quota
from jhub_kit.spawners.homes import HomePart, home_key
from jhub_kit.spec import SpecInputs, make_spec

LOG = logging.getLogger("jhub_kit.test_home_part")


async def _no_engine(method: str, *args: Any, **kwargs: Any) -> Any:
    raise AssertionError(f"the engine was asked {method}")


def _part(tmp_path, provisioner=None, mount=None) -> HomePart:
    return HomePart(
        provisioner=provisioner,
        key="ann",
        user="ann",
        mount=mount,
        usage=None,
        image="img",
        docker=_no_engine,
        client=None,
        log=LOG,
    )


def _described(binds: dict[str, dict[str, Any]], home: str | None) -> Any:
    return make_spec(
        SpecInputs(
            image="img",
            command=["jupyterhub-singleuser"],
            args=[],
            env={},
            name="jupyter-ann",
            port=8888,
            network_name="net",
            use_internal_ip=True,
            host_ip="127.0.0.1",
            remove=True,
            home=None
            if home is None
            else {"Target": "/home/jovyan", "Source": home, "Type": "bind", "ReadOnly": False},
            volume_binds=binds,
        )
    )


@pytest.mark.parametrize(
    "user, server, per_server, key",
    [("ann", "", False, "ann"), ("ann", "r", False, "ann"), ("ann", "r", True, "ann/r")],
    ids=["default-server", "named-shares", "named-own"],
)
def test_the_key_a_home_is_kept_under(user, server, per_server, key):
    assert home_key(user, server, per_server) == key


async def test_a_home_is_made_measured_and_the_student_told(tmp_path):
    prov = DirectoryProvisioner(base_dir=str(tmp_path), uid=os.getuid(), gid=os.getgid())
    part = _part(tmp_path, prov)
    said: list[tuple[int, str]] = []
    await part.provision(Quota(), lambda p, m: said.append((p, m)))
    assert part.mount == HomeMount(str(tmp_path / "ann"))
    assert os.path.isdir(part.mount.source)
    assert part.usage is not None and part.usage.limit is None
    assert said == [(30, "Preparing your home directory"), (40, "Home ready (no size limit)")]
    assert part.owner == (os.getuid(), os.getgid())
    (tmp_path / "ann" / "notes.txt").write_bytes(b"x" * 5000)
    await part.measure()
    assert part.usage.used >= 5000


async def test_no_provisioner_no_home_and_nothing_said(tmp_path):
    part = _part(tmp_path)
    said: list[tuple[int, str]] = []
    await part.provision(Quota(), lambda p, m: said.append((p, m)))
    await part.measure()
    assert part.mount is None and part.usage is None and said == []
    assert part.owner == (1000, 100)


async def test_a_bind_the_student_cannot_write_is_said_once_and_left_as_it_is(tmp_path, caplog):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    prov = DirectoryProvisioner(base_dir=str(tmp_path), uid=os.getuid() + 4242, gid=12345)
    part = _part(tmp_path, prov)
    described = _described({str(shared): {"bind": "/data", "mode": "rw"}}, home=None)
    with caplog.at_level(logging.WARNING, logger=LOG.name):
        await part.prepare_mounts(described)
        await part.prepare_mounts(described)
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and "ann cannot write to /data" in said[0]
    assert os.stat(shared).st_uid == os.getuid()  # the admin's path keeps its owner
    assert await part.host_path(described.mounts[0]) == str(shared)
