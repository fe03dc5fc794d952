"""The warm pool's launcher: runs inside a pool container, with the image's python3.

Mounted read-only into every pool member and started as its command. It
imports the single-user server's modules ahead of time (most of a start's CPU),
then waits, holding nothing of anyone, until the hub writes the identity of the
student it is given to (``identity.json`` in a directory only this container
has, read-only, written by root on the host), then starts
``jupyterhub-singleuser`` in-process with that environment and those arguments,
as its script does. What it does ahead changes nothing the server sees: it
replaces no function of any library and configures nothing; a student's
environment that an interpreter reads only when it starts (``PYTHONPATH``, a
``HOME`` with another ``~/.local``...) gets the server's own program instead.

Standard library only, and no import of jhub_kit: the image has neither.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import select
import shutil
import sys
import time
from collections.abc import Callable
from typing import Any

CHANNEL = "/run/jhub-kit-pool/identity.json"
WAKE = "/run/jhub-kit-pool/wake"  # a FIFO: the hub writes to it after the identity

# Modules the server imports only while it starts (measured in the test image:
# after the extension and handler modules below, these were what remained).
LATE_MODULES = (
    "IPython",
    "httpcore",
    "h11",
    "tornado.platform.asyncio",
    "jinja2.ext",
    "jupyter_core.migrate",
)


def try_import(name: str) -> None:
    """Import a module ahead of time; one that fails here is the real start's
    business (one the image does not have at all is not worth a line)."""
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name != name.split(".")[0]:
            print(f"[jhub-kit pool] not preloaded: {name}: {e}", flush=True)
    except Exception as e:  # a broken extension must not kill the member
        print(f"[jhub-kit pool] not preloaded: {name}: {e}", flush=True)


def enabled_server_extensions() -> list[str]:
    """The server extensions enabled in the image's Jupyter config paths."""
    from jupyter_core.paths import jupyter_config_path
    from jupyter_server.extension.config import ExtensionConfigManager

    manager = ExtensionConfigManager(read_config_path=jupyter_config_path())
    return [name for name, on in manager.get_jpserver_extensions().items() if on]


#: what ``jupyterhub.singleuser`` imports, outside its own package. The package
#: itself is left to the start: it chooses its application from the environment
#: when it is imported (``JUPYTERHUB_SINGLEUSER_APP``, ``_EXTENSION``), and that
#: environment is the student's, which comes with the identity.
SINGLEUSER_DEPENDENCIES = (
    "jupyterhub._version",
    "jupyterhub.httpclient",
    "jupyterhub.log",
    "jupyterhub.services.auth",
    "jupyterhub.utils",
    "jupyter_server.auth",
    "jupyter_server.auth.logout",
    "jupyter_server.extension.application",
    "unittest.mock",
)


def preload() -> None:
    """Import what a start would import: the server, its handlers, its extensions.

    In the test image this moved a start's CPU after assignment from about
    0.52 to 0.18 CPU-s: the server, JupyterLab and the single-user extension
    alone left the handler modules, the extensions' own modules and their late
    imports (IPython, httpx's transport) to the start. Only imports: nothing here
    is configured or called with anything the start would see.
    """
    import jupyter_server.serverapp as serverapp

    with contextlib.suppress(ImportError):  # a server without JupyterLab
        import jupyterlab.labapp  # noqa: F401

    for name in SINGLEUSER_DEPENDENCIES:
        try_import(name)
    for modules in getattr(serverapp, "JUPYTER_SERVICE_HANDLERS", {}).values():
        for name in modules or ():
            try_import(name)
    try:
        from jupyter_server.extension.manager import ExtensionPackage

        for name in enabled_server_extensions():
            if name.split(".")[0] == "jupyterhub":  # jupyterhub.singleuser: see above
                continue
            try:
                ExtensionPackage(name=name, enabled=True)  # imports its points' apps
            except Exception as e:
                print(f"[jhub-kit pool] not preloaded: {name}: {e}", flush=True)
    except Exception as e:  # an older jupyter_server
        print(f"[jhub-kit pool] extensions not preloaded: {e}", flush=True)
    for name in LATE_MODULES:
        try_import(name)


def warm_event_schemas() -> None:
    """Validate jupyter_server's event schemas once, in no logger and no registry:
    each validation runs jsonschema's format checkers, whose regular expressions
    (the IRI grammar among them) are compiled at first use and then kept by
    ``re``; the start's own registration then finds them compiled (about a quarter
    of what the server's start compiles, in the test image)."""
    from jupyter_events.schema import EventSchema
    from jupyter_server.serverapp import DEFAULT_EVENTS_SCHEMA_PATH

    for path in sorted(DEFAULT_EVENTS_SCHEMA_PATH.rglob("*.yaml")):
        EventSchema(path)


def read_entry_points() -> None:
    """Read the installed distributions' entry points once: ``importlib.metadata``
    keeps each path's directory listing (its own cache, checked against the
    directory's modification time at every call), so the start's calls skip the
    listing; what they return is read at each call, as in a cold start."""
    import importlib.metadata

    importlib.metadata.entry_points()


def read_identity(path: str) -> dict | None:
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def wait(channel: str = CHANNEL, wake: str = WAKE, poll: float = 0.02, nap: float = 1.0) -> dict:
    """The identity, once the hub has written it. Asleep on the ``wake`` FIFO (no CPU
    while a member waits; the hub's write wakes it at once), looking at the file
    itself at least every ``nap`` seconds; polling every ``poll`` seconds where
    there is no FIFO (a hub of an earlier version)."""
    while True:
        found = read_identity(channel)
        if found is not None:
            return found
        try:
            fd = os.open(wake, os.O_RDONLY | os.O_NONBLOCK)
        except OSError:
            time.sleep(poll)
            continue
        try:
            # readable once a writer has come and gone (the hub's wake), or never
            # until then; a fresh open each time forgets an earlier writer's hang-up
            if select.select([fd], [], [], nap)[0]:
                with contextlib.suppress(OSError):
                    os.read(fd, 64)
        finally:
            os.close(fd)


def cgroup(name: str, v1: str) -> str:
    """A limit as the kernel holds it for this container (cgroup v2, else v1)."""
    for path in (f"/sys/fs/cgroup/{name}", f"/sys/fs/cgroup/{v1}"):
        try:
            with open(path) as f:
                return f.read().strip()
        except OSError:
            continue
    return "unknown"


#: environment variables the interpreter reads only when it starts (``python3
#: --help-env``): a launcher that started before the student's environment came
#: cannot honour them in-process
INTERPRETER_ENV = (
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONUSERBASE",
    "PYTHONNOUSERSITE",
    "PYTHONSAFEPATH",
    "PYTHONPLATLIBDIR",
    "PYTHONSTARTUP",
    "PYTHONOPTIMIZE",
    "PYTHONDEBUG",
    "PYTHONINSPECT",
    "PYTHONUNBUFFERED",
    "PYTHONVERBOSE",
    "PYTHONCASEOK",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONPYCACHEPREFIX",
    "PYTHONHASHSEED",
    "PYTHONINTMAXSTRDIGITS",
    "PYTHONIOENCODING",
    "PYTHONNODEBUGRANGES",
    "PYTHONWARNINGS",
    "PYTHONFAULTHANDLER",
    "PYTHONTRACEMALLOC",
    "PYTHONPROFILEIMPORTTIME",
    "PYTHONASYNCIODEBUG",
    "PYTHONMALLOC",
    "PYTHONMALLOCSTATS",
    "PYTHONLEGACYWINDOWSFSENCODING",
    "PYTHONUTF8",
    "PYTHONCOERCECLOCALE",
    "PYTHONBREAKPOINT",
    "PYTHONDEVMODE",
    "PYTHONWARNDEFAULTENCODING",
    "PYTHONEXECUTABLE",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
)


def started_otherwise(env: dict[str, str]) -> list[str]:
    """What in ``env`` (the student's environment) an interpreter started now would
    take differently from this one, which started before it came: the variables
    read at start, and the user base (``~/.local``, from ``HOME``)."""
    import site

    # the image's own variables are this interpreter's too: only what env changes counts
    why = [name for name in INTERPRETER_ENV if name in env and env[name] != os.environ.get(name)]
    home = env.get("HOME")
    base = os.path.normpath(os.path.join(home or "", ".local"))
    keeps_base = "PYTHONUSERBASE" in env or base == os.path.normpath(site.getuserbase())
    if home and site.ENABLE_USER_SITE and not keeps_base:
        why.append("HOME (the user base)")
    return why


def top_level_names(directory: str) -> set[str]:
    """The modules and packages a site directory provides, by their import names."""
    names = set()
    for entry in os.listdir(directory):
        if entry.endswith((".dist-info", ".egg-info", ".pth")) or entry == "__pycache__":
            continue
        if entry.endswith((".py", ".so", ".pyd")):
            names.add(entry.split(".", 1)[0])
        elif entry.isidentifier() and os.path.isdir(os.path.join(directory, entry)):
            names.add(entry)
    return names


def user_site_again() -> list[str]:
    """The student's ``~/.local`` packages, as a cold start would see them: Python
    adds the user site to ``sys.path`` only if it exists when the interpreter
    starts, and the member started before the student's home was mounted over the
    same path (:func:`started_otherwise` made sure it is the same). It goes where a
    cold start puts it, before the image's site-packages.

    Returns the modules of the user site that this interpreter already imported from
    the image (a cold start would import the student's: this one cannot), in which
    case nothing is added and the server must start afresh; else an empty list."""
    import site

    if not site.ENABLE_USER_SITE:
        return []
    user_site = site.getusersitepackages()
    if not os.path.isdir(user_site) or user_site in sys.path:
        return []
    shadowed = sorted(name for name in top_level_names(user_site) if name in sys.modules)
    if shadowed:
        return shadowed
    before = list(sys.path)
    site.addsitedir(user_site)  # the user site and what its .pth files add, at the end
    added = [p for p in sys.path if p not in before]
    rest = [p for p in sys.path if p not in added]
    image = set(site.getsitepackages())
    at = next((i for i, p in enumerate(rest) if p in image), len(rest))
    sys.path[:] = [*rest[:at], *added, *rest[at:]]
    return []


#: the program a cold start runs (the command the launcher stands in for)
SERVER = "jupyterhub-singleuser"


def start_cold(args: list[str]) -> None:
    """Replace this process with the server's own program, as a cold start runs it
    (in this container, with its limits and mounts): for a student's environment
    this interpreter cannot take in-process."""
    os.execvp(SERVER, [SERVER, *args])


def start(args: list[str]) -> None:
    """Start the server as its ``jupyterhub-singleuser`` script does, in-process: the
    module ``jupyterhub.singleuser`` is imported here for the first time, so it
    chooses its application from the student's environment, as in a cold start."""
    sys.argv = [shutil.which(SERVER) or SERVER, *args]  # the program's argument vector
    from jupyterhub.singleuser import main as singleuser

    sys.exit(singleuser())


def ahead(what: str, work: Callable[[], Any]) -> Any:
    """Work done before the wait is an optimisation, never a reason to fail."""
    try:
        return work()
    except Exception as e:
        print(f"[jhub-kit pool] {what} not done ahead: {e}", flush=True)
        return None


def main() -> None:
    t0 = time.monotonic()
    preload()
    ahead("entry points", read_entry_points)
    ahead("event schemas", warm_event_schemas)
    print(f"[jhub-kit pool] ready: {time.monotonic() - t0:.2f} s of imports", flush=True)
    identity = wait()
    print(
        "[jhub-kit pool] assigned; limits now: memory.max="
        + cgroup("memory.max", "memory/memory.limit_in_bytes")
        + " pids.max="
        + cgroup("pids.max", "pids/pids.max"),
        flush=True,
    )
    env, args = dict(identity["env"]), list(identity["args"])
    otherwise = started_otherwise(env)
    os.environ.update(env)
    # the working directory was a slot when the launcher started; the student's home
    # (or volume) is mounted over it now: enter it again by its path
    try:
        os.chdir(identity.get("cwd") or os.getcwd())
    except OSError:
        os.chdir(os.environ.get("HOME") or "/")
    if "jupyterhub.singleuser" in sys.modules:  # an extension imported it ahead
        otherwise.append("jupyterhub.singleuser, imported before the student's environment")
    if not otherwise:
        shadowed = user_site_again()
        if shadowed:
            otherwise.append(f"~/.local's {', '.join(shadowed)}, imported from the image")
    if otherwise:
        print(f"[jhub-kit pool] a cold start here, for {', '.join(otherwise)}", flush=True)
        start_cold(args)
    start(args)


if __name__ == "__main__":
    main()
