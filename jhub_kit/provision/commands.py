"""The only place jhub_kit runs programs: small async wrappers, argument lists only.

Modelled on systemdspawner's ``systemd.py``: plain async functions, argument
lists only. No shell ever sees a username. Every call has a timeout; a command
that overruns is killed. A program is started and waited for on one of the
kit's threads (:mod:`jhub_kit.offloop`): asyncio's own subprocess support forks
and waits for the exec in the event loop, which held the hub's loop for up to
60 ms per command in a class's rush.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import subprocess
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from .. import offloop

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 120.0


class CommandError(RuntimeError):
    """A command failed or timed out. ``str()`` names the command and its stderr."""

    def __init__(self, argv: Sequence[str], message: str, returncode: int | None = None):
        self.argv = list(argv)
        self.returncode = returncode
        super().__init__(f"`{shlex.join(self.argv)}` {message}")


@dataclass
class Result:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str


Runner = Callable[..., Awaitable[Result]]


def _run_blocking(
    argv: Sequence[str],
    timeout: float,
    env: Mapping[str, str],
    input: str | None,
    pass_fds: tuple[int, ...],
) -> tuple[int, bytes, bytes]:
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL if input is None else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env),
            pass_fds=pass_fds,
        )
    except FileNotFoundError:
        raise CommandError(argv, f"failed: {argv[0]} is not installed") from None
    with proc:
        try:
            out, err = proc.communicate(None if input is None else input.encode(), timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            # its output pipes may be held by a grandchild: do not wait for them long
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.communicate(timeout=5)
            raise CommandError(argv, f"timed out after {timeout:g} s") from None
    return proc.returncode, out, err


async def run(
    *argv: str,
    timeout: float = DEFAULT_TIMEOUT,
    check: bool = True,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
    pass_fds: Sequence[int] = (),
) -> Result:
    """Run ``argv`` (``input`` on its standard input; ``pass_fds`` open in it, e.g.
    a directory named as ``/proc/self/fd/N``); raise :class:`CommandError` on
    failure (if ``check``) or timeout."""
    if not argv or not all(isinstance(a, str) for a in argv):
        raise TypeError(f"argv must be strings: {argv!r}")
    full_env = {**os.environ, "LC_ALL": "C", **(env or {})}
    log.debug("running %s", shlex.join(argv))
    # on one of the kit's threads: starting a process (fork and exec, with the
    # parent waiting for the exec) would otherwise hold the hub's event loop
    returncode, out, err = await offloop.run_command(
        _run_blocking, argv, timeout, full_env, input, tuple(pass_fds)
    )
    result = Result(
        list(argv), returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")
    )
    if check and result.returncode != 0:
        detail = result.stderr.strip() or result.stdout.strip() or "no output"
        raise CommandError(argv, f"exited with {result.returncode}: {detail}", result.returncode)
    return result
