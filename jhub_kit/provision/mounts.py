"""Read the mount table (``/proc/self/mountinfo``): pure parsing plus one reader."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class MountEntry:
    mountpoint: str
    fstype: str
    source: str
    device: str = ""  # major:minor
    root: str = "/"  # the path, within its filesystem, that is mounted here


def _unescape(field: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as \\ooo octal
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 4 <= len(field) and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def parse_mountinfo(text: str) -> list[MountEntry]:
    """Parse ``/proc/self/mountinfo`` (see proc(5))."""
    entries = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields = left.split()
        tail = right.split()
        if len(fields) < 5 or len(tail) < 2:
            continue
        entries.append(
            MountEntry(
                _unescape(fields[4]), tail[0], _unescape(tail[1]), fields[2], _unescape(fields[3])
            )
        )
    return entries


def mount_table() -> list[MountEntry]:
    return parse_mountinfo(Path("/proc/self/mountinfo").read_text())


def mounted_at(path: str | os.PathLike[str]) -> MountEntry | None:
    """The (last, i.e. visible) mount exactly at ``path``, if any."""
    target = os.path.realpath(path)
    found = None
    for entry in mount_table():
        if entry.mountpoint == target:
            found = entry
    return found


def mounted_elsewhere(path: str, table: list[MountEntry] | None = None) -> list[str]:
    """The mount points, other than ``path`` itself, where the directory ``path`` (or
    something in it) is mounted too: a bind of it elsewhere (pure, given ``table``)."""
    entries = table if table is not None else mount_table()
    target = os.path.normpath(os.path.realpath(path))
    holder = None  # the mount that holds ``path``: the longest mount point above it
    for e in entries:
        mp = os.path.normpath(e.mountpoint)
        if (target == mp or target.startswith(mp.rstrip("/") + "/")) and (
            holder is None or len(mp) >= len(os.path.normpath(holder.mountpoint))
        ):
            holder = e
    if holder is None:
        return []
    rel = os.path.relpath(target, os.path.normpath(holder.mountpoint))
    root = os.path.normpath(os.path.join(holder.root, rel))
    out = []
    for e in entries:
        if e.device != holder.device or os.path.normpath(e.mountpoint) == target:
            continue
        r = os.path.normpath(e.root)
        if r == root or r.startswith(root.rstrip("/") + "/"):
            out.append(e.mountpoint)
    return out


@dataclass(frozen=True)
class LoopDevices:
    """The loop devices this process can see, and which of them are attached."""

    visible: tuple[str, ...]
    busy: tuple[str, ...]
    #: /dev/loop-control is there: the kernel can add devices (they show up in
    #: /dev only where /dev is the host's devtmpfs, not in a container's copy)
    control: bool


def loop_devices(dev: str = "/dev", sys_dev_block: str = "/sys/dev/block") -> LoopDevices:
    """Read the loop device nodes under ``dev`` and, from sysfs, which are attached."""
    visible, busy = [], []
    try:
        names = os.listdir(dev)
    except OSError:
        names = []
    for name in sorted(names, key=lambda n: (len(n), n)):
        if not (name.startswith("loop") and name[4:].isdigit()):
            continue
        path = os.path.join(dev, name)
        try:
            rdev = os.stat(path).st_rdev
        except OSError:
            continue
        visible.append(path)
        backing = f"{sys_dev_block}/{os.major(rdev)}:{os.minor(rdev)}/loop/backing_file"
        if os.path.exists(backing):
            busy.append(path)
    control = os.path.exists(os.path.join(dev, "loop-control"))
    return LoopDevices(tuple(visible), tuple(busy), control)


def loop_shortage(devices: LoopDevices, error: str = "") -> str | None:
    """Why a loop mount failed for want of a device, or None if that is not the cause.

    No device is free when every visible one is attached and either the kernel
    cannot add one (no /dev/loop-control) or the one it adds is not in this
    process's /dev (mount then says "failed to setup loop device").
    """
    free = len(devices.visible) - len(devices.busy)
    if free > 0:
        return None
    if devices.control and "loop device" not in error:
        return None
    shown = (
        f"all {len(devices.visible)} loop devices this process can see "
        f"({devices.visible[0]} to {devices.visible[-1]}) are in use"
        if devices.visible
        else "this process sees no loop device at all"
    )
    why = (
        "and the ones the kernel adds do not appear in its /dev"
        if devices.control
        else "and /dev/loop-control is missing, so none can be added"
    )
    return (
        f"no free loop device: {shown}, {why}. Detach unused ones (`losetup -a` lists "
        "them, `losetup -d /dev/loopN` detaches one); if the hub runs in a container, "
        "loop-mounted homes need it privileged with the host's /dev (`--privileged -v "
        "/dev:/dev`) and base_dir bind-mounted at the same path with shared propagation "
        "(`-v /srv/jupyterhub/homes:/srv/jupyterhub/homes:rshared`); docker-volume homes "
        "need none of this"
    )
