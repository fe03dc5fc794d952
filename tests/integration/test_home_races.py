"""Backup and restore of a home run as its owner, never as root on a path the
student controls: a directory swapped for a link to root's files, thousands of
times while the kit backs up and restores, leads nowhere outside the home. And
a home a running server has mounted is not backed up or restored at all."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import TEST_PREFIX

from jhub_kit.provision import ProvisionError, provisioner_class
from jhub_kit.quota.policy import Quota

pytestmark = [pytest.mark.root]


def swap_forever(home: str, target: str, swaps, stop) -> None:
    """Swap ``home/d`` between a directory and a link to ``target``, as fast as a
    process can (what a student's shell loop does, faster)."""
    import shutil

    d, aside = os.path.join(home, "d"), os.path.join(home, "d.real")
    while not stop.is_set():
        try:
            if os.path.isdir(aside) and not os.path.islink(aside):
                shutil.rmtree(aside)  # a restore made d again meanwhile
            os.rename(d, aside)  # the directory goes...
            os.symlink(target, d)  # ...a link to root's files comes
            os.unlink(d)
            os.rename(aside, d)  # and back
            swaps.value += 1
        except OSError:
            if os.path.islink(d):
                os.unlink(d)
            if os.path.isdir(aside) and not os.path.lexists(d):
                os.rename(aside, d)
            if not os.path.lexists(d):
                os.mkdir(d)


class Swapper:
    """:func:`swap_forever` in a process of its own."""

    def __init__(self, home: Path, target: Path):
        ctx = multiprocessing.get_context("fork")
        self.count, self.stop = ctx.Value("i", 0), ctx.Event()
        self.proc = ctx.Process(
            target=swap_forever, args=(str(home), str(target), self.count, self.stop)
        )

    def start(self) -> None:
        self.proc.start()

    def join(self) -> None:
        self.stop.set()
        self.proc.join(30)

    @property
    def swaps(self) -> int:
        return int(self.count.value)


@pytest.fixture
def victim(tmp_path, as_root):
    """Root's files outside every home, 0700, with a secret in them."""
    outside = tmp_path / "root-only"
    outside.mkdir(mode=0o700)
    (outside / "secret").write_text("root's secret\n")
    os.chmod(outside / "secret", 0o600)
    return outside


def snapshot(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in path.rglob("*") if p.is_file()}


async def test_restore_and_backup_race_a_swapped_link_and_lose(
    tmp_path, mount_area, victim, as_root
):
    base = mount_area / "homes"  # a path the home's owner can walk, as /srv/jupyterhub
    base.mkdir()
    prov = provisioner_class("directory")(base_dir=str(base))
    home = Path((await prov.provision("ria", Quota())).source)
    (home / "d").mkdir()
    os.chown(home / "d", 1000, 100)
    archive = tmp_path / "in.tar.gz"
    payload = tmp_path / "payload"
    (payload / "d").mkdir(parents=True)
    (payload / "d" / "planted.txt").write_text("written by a restore\n")
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(payload, arcname=".")
    before = snapshot(victim)
    swapper = Swapper(home, victim)
    swapper.start()
    leaks, failures, done = 0, 0, 0
    try:
        for i in range(100):
            try:
                await prov.restore("ria", archive, force=True)
            except ProvisionError:
                failures += 1  # a restore that met the link: refused, not followed
            out = tmp_path / f"backup-{i}.tar.gz"
            try:
                await prov.backup("ria", out)
            except ProvisionError:
                failures += 1
                continue
            done += 1
            with tarfile.open(out) as tar:
                for m in tar.getmembers():
                    f = tar.extractfile(m) if m.isfile() else None
                    if f is not None and b"root's secret" in f.read():
                        leaks += 1
            out.unlink()
    finally:
        swapper.join()
    print(f"{swapper.swaps} swaps during 100 restores and 100 backups; {failures} refused")
    assert swapper.swaps > 1000 and done > 10  # the race ran, and the work was done
    assert (home / "d.real").exists() or (home / "d").is_dir()
    assert snapshot(victim) == before  # nothing written outside the home
    assert not (victim / "planted.txt").exists()
    assert leaks == 0  # nothing of root's read into a backup


async def test_a_home_in_use_is_not_backed_up_or_restored(
    docker_client, test_image, tmp_path, mount_area, as_root
):
    from jhub_kit.cli import main

    base = mount_area / "homes"
    cfg = tmp_path / "jupyterhub_config.py"
    cfg.write_text(
        "c = get_config()\n"
        "c.QuotaDockerSpawner.home_provisioner = 'directory'\n"
        f"c.HomeProvisioner.base_dir = {str(base)!r}\n"
    )
    prov = provisioner_class("directory")(base_dir=str(base))
    home = (await prov.provision("rex", Quota())).source
    server = docker_client.containers.run(
        test_image,
        ["sleep", "300"],
        name=f"{TEST_PREFIX}-rex-inuse",
        volumes={home: {"bind": "/home/jovyan", "mode": "rw"}},
        detach=True,
    )
    try:
        for args in (
            ["home", "backup", "rex", "-f", str(cfg), "-o", str(tmp_path / "b.tgz")],
            ["home", "restore", "rex", str(tmp_path / "b.tgz"), "-f", str(cfg), "--force"],
        ):
            (tmp_path / "b.tgz").write_bytes(b"")
            r = await asyncio.to_thread(CliRunner().invoke, main, args)
            assert r.exit_code == 1, r.output
            assert f"rex's home is in use (container {TEST_PREFIX}-rex-inuse)" in r.output
            assert "stop their server first" in r.output
    finally:
        server.remove(force=True)
    (tmp_path / "b.tgz").unlink()
    r = await asyncio.to_thread(
        CliRunner().invoke,
        main,
        ["home", "backup", "rex", "-f", str(cfg), "-o", str(tmp_path / "b.tgz")],
    )
    assert r.exit_code == 0, r.output
