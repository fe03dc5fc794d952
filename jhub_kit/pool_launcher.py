"""The warm pool's launcher: runs inside a pool container, with the image's python3.

Mounted read-only into every pool member and started as its command. It
imports the single-user server's modules ahead of time (most of a start's CPU),
then waits, holding nothing of anyone, until the hub writes the identity of the
student it is given to (``identity.json`` in a directory only this container
has, read-only, written by root on the host), then starts
``jupyterhub-singleuser`` in-process with that environment and those arguments.

Standard library only, and no import of jhub_kit: the image has neither.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time

CHANNEL = "/run/jhub-kit-pool/identity.json"


def preload() -> None:
    import jupyter_server.serverapp  # noqa: F401
    import jupyterhub.singleuser  # noqa: F401

    with contextlib.suppress(ImportError):  # a server without JupyterLab
        import jupyterlab.labapp  # noqa: F401


def wait(poll: float = 0.02) -> dict:
    while True:
        try:
            with open(CHANNEL) as f:
                return json.load(f)
        except FileNotFoundError:
            time.sleep(poll)


def cgroup(name: str, v1: str) -> str:
    """A limit as the kernel holds it for this container (cgroup v2, else v1)."""
    for path in (f"/sys/fs/cgroup/{name}", f"/sys/fs/cgroup/{v1}"):
        try:
            with open(path) as f:
                return f.read().strip()
        except OSError:
            continue
    return "unknown"


def main() -> None:
    t0 = time.monotonic()
    preload()
    print(f"[jhub-kit pool] ready: {time.monotonic() - t0:.2f} s of imports", flush=True)
    identity = wait()
    print(
        "[jhub-kit pool] assigned; limits now: memory.max="
        + cgroup("memory.max", "memory/memory.limit_in_bytes")
        + " pids.max="
        + cgroup("pids.max", "pids/pids.max"),
        flush=True,
    )
    os.environ.update(identity["env"])
    os.chdir(identity.get("cwd") or os.environ.get("HOME") or "/")
    sys.argv = ["jupyterhub-singleuser", *identity["args"]]
    from jupyterhub.singleuser import main as singleuser

    sys.exit(singleuser())


if __name__ == "__main__":
    main()
