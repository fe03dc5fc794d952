"""The only place jhub_kit runs programs: small async wrappers, argument lists only.

Modelled on systemdspawner's ``systemd.py``: plain async functions over
:func:`asyncio.create_subprocess_exec`. No shell ever sees a username.
Every call has a timeout; a command that overruns is killed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shlex
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from jupyterhub.utils import AnyTimeoutError

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
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL if input is None else asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=full_env,
            pass_fds=tuple(pass_fds),
        )
    except FileNotFoundError:
        raise CommandError(argv, f"failed: {argv[0]} is not installed") from None
    try:
        data = None if input is None else input.encode()
        out, err = await asyncio.wait_for(proc.communicate(data), timeout)
    except AnyTimeoutError:  # asyncio's, a separate class before Python 3.11
        proc.kill()
        await proc.wait()
        raise CommandError(argv, f"timed out after {timeout:g} s") from None
    result = Result(
        list(argv), proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")
    )
    if check and result.returncode != 0:
        detail = result.stderr.strip() or result.stdout.strip() or "no output"
        raise CommandError(argv, f"exited with {result.returncode}: {detail}", result.returncode)
    return result
