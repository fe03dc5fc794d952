"""A student's submission copied without following anything in it (the teacher's
collect, jhub_kit_nbgrader.KitCollect).

The student's ``inbound/<student>`` is mounted read-write in their own server, so
what the teacher's collect checked a moment ago may be a different thing when it
copies it: a file swapped for a link to the solutions, a folder for a link to the
staff folder, a file for a FIFO (reading it would hang the collect). Here every
entry is opened relative to its folder's descriptor with ``O_NOFOLLOW`` (a link
is refused, never followed) and ``O_NONBLOCK`` (a FIFO opens at once), and copied
only when ``fstat`` of what was opened says it is a folder or a regular file:
what is copied is what was checked. Anything else refuses the whole submission.

Standard library only: it runs in the single-user image beside nbgrader, and the
kit's unit tests run it on the host.
"""

import errno
import os
import stat
from collections.abc import Callable

#: opens a folder's entry without following a link, and a FIFO without waiting
OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
CHUNK = 1 << 20


class UnsafeSubmission(Exception):
    """The submission holds something other than folders and regular files."""


def copy_submission(
    src: str, dest: str, ignore: Callable[[str, list[str]], list[str]] | None = None
) -> None:
    """Copy the folder ``src`` to the new folder ``dest`` (``ignore`` as for
    :func:`shutil.copytree`: names of a folder's entries to leave out). Raises
    :class:`UnsafeSubmission` (``dest`` may then hold part of the copy) when ``src``
    or anything in it is a link, a FIFO, a socket or a device."""
    try:
        top = os.open(src, OPEN_FLAGS | os.O_DIRECTORY)
    except OSError as e:
        raise _unsafe(src, e) from None
    try:
        _copy_folder(top, src, dest, ignore)
    finally:
        os.close(top)


def _unsafe(path: str, e: OSError) -> Exception:
    if e.errno == errno.ELOOP:
        return UnsafeSubmission(f"{path} is a link")
    if e.errno == errno.ENOTDIR:
        return UnsafeSubmission(f"{path} is not a folder")
    return e


def _copy_folder(
    dir_fd: int, shown: str, dest: str, ignore: Callable[[str, list[str]], list[str]] | None
) -> None:
    os.mkdir(dest, 0o755)
    names = sorted(os.listdir(dir_fd))
    skipped = set(ignore(shown, names)) if ignore else set()
    for name in names:
        if name in skipped:
            continue
        path = os.path.join(shown, name)
        try:
            fd = os.open(name, OPEN_FLAGS, dir_fd=dir_fd)
        except OSError as e:
            raise _unsafe(path, e) from None
        try:
            st = os.fstat(fd)
            if stat.S_ISDIR(st.st_mode):
                _copy_folder(fd, path, os.path.join(dest, name), ignore)
            elif stat.S_ISREG(st.st_mode):
                _copy_file(fd, st, os.path.join(dest, name))
            else:
                raise UnsafeSubmission(f"{path} is not a folder or a regular file")
        finally:
            os.close(fd)


def _copy_file(fd: int, st: os.stat_result, dest: str) -> None:
    os.set_blocking(fd, True)
    out = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    try:
        while chunk := os.read(fd, CHUNK):
            view = memoryview(chunk)
            while view:
                view = view[os.write(out, view) :]
    finally:
        os.close(out)
    os.chmod(dest, stat.S_IMODE(st.st_mode) & 0o755 | 0o600)
    os.utime(dest, ns=(st.st_atime_ns, st.st_mtime_ns))
