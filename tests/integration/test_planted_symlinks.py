"""A student plants symlinks in their home; the kit's root-run operations on that home
(backup, restore, usage, deprovision) never read or write outside it."""

from __future__ import annotations

import io
import os
import tarfile

import pytest

from jhub_kit.provision import ProvisionError
from jhub_kit.provision.directory import DirectoryProvisioner
from jhub_kit.provision.loopfile import LoopfileProvisioner
from jhub_kit.quota.policy import Quota

pytestmark = pytest.mark.root


@pytest.fixture
def secret(mount_area):
    s = mount_area / "secret"
    s.mkdir()
    (s / "shadow").write_text("root:$6$hash")
    os.chmod(s / "shadow", 0o600)
    return s


async def test_backup_and_deprovision_store_links_not_targets(mount_area, secret, tmp_path):
    p = LoopfileProvisioner(base_dir=str(mount_area / "homes"))
    m = await p.provision("mallory", Quota(disk_limit=40 * 1024**2))
    os.symlink(secret / "shadow", os.path.join(m.source, "shadow"))
    os.symlink(secret, os.path.join(m.source, "dir"))
    archive = await p.backup("mallory", tmp_path / "b.tar.gz")
    with tarfile.open(archive) as tar:
        members = {t.name: t for t in tar.getmembers()}
        assert members["./shadow"].issym() and members["./dir"].issym()
        assert not any(
            "root:$6$hash" in (tar.extractfile(t).read().decode() if t.isfile() else "")
            for t in tar.getmembers()
        )
    used = (await p.usage("mallory")).used
    assert used < 10 * 1024**2
    archived = await p.deprovision("mallory", tmp_path / "archives")
    with tarfile.open(archived) as tar:
        assert all(not t.isfile() or "shadow" not in t.name for t in tar.getmembers())
    assert (secret / "shadow").read_text() == "root:$6$hash"  # untouched, still there


async def test_restore_never_writes_through_a_planted_link(mount_area, secret, tmp_path):
    p = DirectoryProvisioner(base_dir=str(mount_area / "homes"))
    m = await p.provision("mallory", Quota())
    os.symlink(secret, os.path.join(m.source, "dir"))  # planted before the restore
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as tar:
        data = b"owned"
        info = tarfile.TarInfo("dir/shadow")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(ProvisionError, match="cannot restore mallory's directory home"):
        await p.restore("mallory", evil, force=True)
    assert (secret / "shadow").read_text() == "root:$6$hash"
    st = os.stat(secret / "shadow")
    assert (st.st_uid, st.st_mode & 0o777) == (0, 0o600)  # not handed to the student
