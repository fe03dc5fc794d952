"""jhub-kit home backup/restore: a byte-identical round trip on a real loopfile home."""

from __future__ import annotations

import asyncio
import hashlib
import os
import stat

import pytest
from click.testing import CliRunner

from jhub_kit.cli import main
from jhub_kit.provision import ProvisionError
from jhub_kit.provision.loopfile import LoopfileProvisioner
from jhub_kit.quota.policy import Quota

pytestmark = pytest.mark.root


def tree_digest(root):
    out = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = os.path.join(dirpath, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = (
                    hashlib.sha256(fh.read()).hexdigest(),
                    os.stat(p).st_uid,
                    os.stat(p).st_gid,
                )
    out.pop("lost+found", None)
    return out


async def test_backup_restore_round_trip(mount_area, tmp_path):
    homes = mount_area / "homes"
    config = tmp_path / "jupyterhub_config.py"
    config.write_text(
        "c = get_config()\n"
        "c.QuotaDockerSpawner.home_provisioner = 'loopfile'\n"
        f"c.HomeProvisioner.base_dir = {str(homes)!r}\n"
    )
    prov = LoopfileProvisioner(base_dir=str(homes))
    home = (await prov.provision("alice", Quota(disk_limit=40 * 1024**2))).source
    os.makedirs(os.path.join(home, "notebooks", "week 1"))
    with open(os.path.join(home, "notebooks", "week 1", "intro.ipynb"), "wb") as f:
        f.write(os.urandom(300_000))
    with open(os.path.join(home, ".bashrc"), "w") as f:
        f.write("export PS1='$ '\n")
    for dirpath, dirs, files in os.walk(home):
        for n in dirs + files:
            os.chown(os.path.join(dirpath, n), 1000, 100)
    before = tree_digest(home)
    archive = tmp_path / "alice.tar.gz"
    runner = CliRunner()

    def invoke(*args):
        return asyncio.to_thread(runner.invoke, main, list(args))

    r = await invoke("home", "backup", "alice", "-f", str(config), "-o", str(archive))
    assert r.exit_code == 0, r.output
    assert stat.S_IMODE(os.stat(archive).st_mode) == 0o600
    # a non-empty home is not overwritten without --force
    r = await invoke("home", "restore", "alice", str(archive), "-f", str(config))
    assert r.exit_code == 1 and "is not empty" in r.output and "--force" in r.output
    # restore into a new user's (empty) home
    r = await invoke("home", "restore", "bob", str(archive), "-f", str(config))
    assert r.exit_code == 0, r.output
    assert tree_digest(homes / "bob") == before
    r = await invoke("home", "backup", "carol", "-f", str(config))
    assert r.exit_code == 1 and "carol has no home here" in r.output


async def test_restore_refuses_path_traversal(mount_area, tmp_path):
    import io
    import tarfile

    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("../../escaped")
        data = b"gotcha"
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    prov = LoopfileProvisioner(base_dir=str(mount_area / "homes"))
    with pytest.raises(ProvisionError, match=r"cannot restore dave's loopfile home: .*outside"):
        await prov.restore("dave", archive)
    assert not (mount_area / "escaped").exists()
    # the CLI says it in one line, no traceback
    config = tmp_path / "jupyterhub_config.py"
    config.write_text(
        "c = get_config()\n"
        "c.QuotaDockerSpawner.home_provisioner = 'loopfile'\n"
        f"c.HomeProvisioner.base_dir = {str(mount_area / 'homes')!r}\n"
    )
    r = await asyncio.to_thread(
        CliRunner().invoke, main, ["home", "restore", "erin", str(archive), "-f", str(config)]
    )
    assert r.exit_code == 1, r.output
    assert "Error: cannot restore erin's loopfile home:" in r.output
    assert "Traceback" not in r.output and r.exception is not None
    assert isinstance(r.exception, SystemExit)
