"""A kit home with no byte, or no inode, left (issue 37): made by the hub's own
provisioner and filled on the host by its owner until the filesystem refuses."""

from __future__ import annotations

import asyncio
import subprocess
from typing import Any

from jhub_kit.provision.base import FULL_BYTES, FULL_FILES
from jhub_kit.quota.policy import Quota

M = 1024**2

#: run as the home's owner: a folder with files in it, then files until the
#: filesystem refuses (space: one big file, then one-byte files for the last
#: blocks; files: empty files until no inode is left)
FILL = r"""
import errno, os, sys
home, what = sys.argv[1], sys.argv[2]
os.makedirs(os.path.join(home, "olddir"), exist_ok=True)
for n in range(3):
    with open(os.path.join(home, "olddir", f"f{n}"), "w") as f:
        f.write("old\n")
def make(name, data, size=1):
    try:
        with open(os.path.join(home, name), "wb") as f:
            for _ in range(size):
                f.write(data)
                f.flush()
        return True
    except OSError as e:
        assert e.errno in (errno.ENOSPC, errno.EDQUOT), e
        return False
if what == "space":
    make("big", b"\0" * (1 << 20), size=1 << 16)
    n = 0
    while make(f"s{n}", b"x"):
        n += 1
else:
    n = 0
    while make(f"f{n}", b""):
        n += 1
os.sync()
st = os.statvfs(home)
print(st.f_bavail * st.f_frsize, st.f_favail)
"""


AS_OWNER = ["setpriv", "--reuid=1000", "--regid=100", "--clear-groups"]


def fill(home: str, what: str) -> tuple[int, int]:
    """Fill ``home`` (``"space"`` or ``"files"``) as uid 1000; (bytes, inodes) free."""
    r = subprocess.run(
        [*AS_OWNER, "/usr/bin/python3", "-c", FILL, home, what],
        check=True,
        capture_output=True,
        text=True,
    )
    free, files = r.stdout.split()
    return int(free), int(files)


async def full_home(app: Any, name: str, what: str, size: int = 40 * M) -> str:
    """``name``'s home, made by the hub's provisioner and filled (nothing running)."""
    sp = app.users[name].spawner
    mount = await sp.provisioner().provision(sp.home_key(), Quota(disk_limit=size))
    free, files = await asyncio.to_thread(fill, mount.source, what)
    if what == "space":
        assert free < FULL_BYTES, free
    else:
        assert files < FULL_FILES, files
    return mount.source
