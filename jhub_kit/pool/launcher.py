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
import importlib
import json
import os
import select
import sys
import threading
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


def preload() -> None:
    """Import what a start would import: the server, its handlers, its extensions.

    In the test image this moved a start's CPU after assignment from about
    0.52 to 0.18 CPU-s: the server, JupyterLab and the single-user extension
    alone left the handler modules, the extensions' own modules and their late
    imports (IPython, httpx's transport) to the start.
    """
    import jupyter_server.serverapp as serverapp
    import jupyterhub.singleuser  # noqa: F401

    with contextlib.suppress(ImportError):  # a server without JupyterLab
        import jupyterlab.labapp  # noqa: F401

    for modules in getattr(serverapp, "JUPYTER_SERVICE_HANDLERS", {}).values():
        for name in modules or ():
            try_import(name)
    try:
        from jupyter_server.extension.manager import ExtensionPackage

        for name in enabled_server_extensions():
            try:
                ExtensionPackage(name=name, enabled=True)  # imports its points' apps
            except Exception as e:
                print(f"[jhub-kit pool] not preloaded: {name}: {e}", flush=True)
    except Exception as e:  # an older jupyter_server
        print(f"[jhub-kit pool] extensions not preloaded: {e}", flush=True)
    for name in LATE_MODULES:
        try_import(name)


def warm_event_schemas() -> None:
    """Register jupyter_server's event schemas once in a throwaway logger: each
    registration validates its schema with jsonschema's format checkers, whose
    regular expressions (the IRI grammar among them) are compiled at first use and
    then kept by ``re``; the start's own registration then finds them compiled
    (about a quarter of what the server's start compiles, in the test image)."""
    from jupyter_events import EventLogger
    from jupyter_server.serverapp import DEFAULT_EVENTS_SCHEMA_PATH

    logger = EventLogger()
    for path in sorted(DEFAULT_EVENTS_SCHEMA_PATH.rglob("*.yaml")):
        logger.register_event_schema(path)


class TLSContextsAhead:
    """TLS client contexts built before the wait, each handed out once.

    ``ssl.create_default_context(cafile=certifi.where())`` reads and parses
    every certificate of the CA bundle (in the test image 40% of a pooled
    server's CPU after the hand-over: JupyterLab's extension manager makes an
    HTTPS client at start). The launcher builds that context while the member
    waits; the first call after the hand-over with exactly the same arguments
    and the same ``SSLKEYLOGFILE`` gets it, a fresh context nobody else holds,
    as if built then. Every other call, and every call once it is taken or
    ``put_back`` has run, is the real function's."""

    #: the arguments of ``ssl.create_default_context``; a call with any other is
    #: the real function's business (its TypeError included)
    PARAMS = frozenset({"purpose", "cafile", "capath", "cadata"})

    def __init__(self) -> None:
        import ssl

        self.ssl = ssl
        self.real = ssl.create_default_context
        self.ready: dict[tuple, Any] = {}
        self.installed: Any = None  # the very function object put in ssl's place
        self.done = False

    def build(self, **params: Any) -> None:
        self.ready[self.key(params)] = self.real(**params)

    def key(self, params: dict[str, Any]) -> tuple:
        purpose = params.get("purpose", self.ssl.Purpose.SERVER_AUTH)
        where = tuple(params.get(name) for name in ("cafile", "capath", "cadata"))
        # the context class too: a library that replaces it (truststore) after the
        # hand-over gets a context of its own class from the real function
        return (purpose, *where, os.environ.get("SSLKEYLOGFILE"), self.ssl.SSLContext)

    def create_default_context(self, *args: Any, **params: Any) -> Any:
        if not self.done and not args and set(params) <= self.PARAMS:
            try:
                context = self.ready.pop(self.key(params), None)
            except TypeError:  # an unhashable cadata (a bytearray): not ours
                context = None
            if not self.ready:
                self.put_back()
            if context is not None:
                print("[jhub-kit pool] a TLS context built ahead was taken", flush=True)
                return context
        return self.real(*args, **params)

    def install(self) -> None:
        if self.ready:
            self.installed = self.create_default_context  # one bound-method object
            self.ssl.create_default_context = self.installed

    def put_back(self) -> None:
        """Once: nothing kept, and the real function back, unless someone has put
        their own in ssl's place since (theirs is left alone)."""
        if self.done:
            return
        self.done = True
        self.ready.clear()
        if self.installed is not None and self.ssl.create_default_context is self.installed:
            self.ssl.create_default_context = self.real


def tls_contexts_ahead() -> TLSContextsAhead:
    """The CA bundle's context (certifi's, what httpx asks for) built ahead."""
    ahead = TLSContextsAhead()
    import certifi

    ahead.build(cafile=certifi.where())
    ahead.install()
    return ahead


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


#: what jupyterhub.singleuser reads when it is imported, to choose the server it runs
APP_CHOICE = ("JUPYTERHUB_SINGLEUSER_APP", "JUPYTERHUB_SINGLEUSER_EXTENSION")


def choose_app_again() -> None:
    """jupyterhub.singleuser chose its application from the environment when the
    launcher preloaded it, before the student's environment arrived. If that
    environment chooses (``JUPYTERHUB_SINGLEUSER_APP`` or ``_EXTENSION``), forget
    the choice so the import below makes it again; the preloaded modules stay."""
    if any(os.environ.get(name) for name in APP_CHOICE):
        for name in ("jupyterhub.singleuser", "jupyterhub.singleuser.app"):
            sys.modules.pop(name, None)


def user_site_again() -> bool:
    """The student's ``~/.local`` packages, as a cold start would see them: Python
    adds the user site to ``sys.path`` only if it exists when the interpreter
    starts, and the member started before the student's home was mounted. True if
    it was added."""
    import site

    if not site.ENABLE_USER_SITE:
        return False
    site.USER_BASE = site.USER_SITE = None  # worked out again from HOME / PYTHONUSERBASE
    user_site = site.getusersitepackages()
    if not os.path.isdir(user_site) or user_site in sys.path:
        return False
    site.addsitedir(user_site)
    return True


#: seconds after the hand-over that what was done ahead (entry points, TLS contexts) is kept
KEEP_AHEAD = 120.0


def read_entry_points_once() -> Callable[[], None]:
    """``importlib.metadata.entry_points()`` reads every installed distribution's
    ``entry_points.txt`` at each call; a server start calls it several times
    (jupyter_server's extensions, jupyter-lsp's language servers: a quarter of a
    pooled start's CPU in the test image). The image cannot change while a member
    waits, so they are read once, before the wait, and the start's calls are
    answered from that reading, for ``KEEP_AHEAD`` seconds after the
    hand-over (then the real function is back; a module that imported the function
    itself in that time keeps the reading). Returns what puts the real one back."""
    import importlib.metadata as md

    real = md.entry_points
    everything = real()
    if not hasattr(everything, "select"):  # Python < 3.10: a plain dict, left alone
        return lambda: None

    def from_the_reading(**params: Any) -> Any:
        if not params:
            return everything
        return everything.select(**params)

    def put_back() -> None:
        if md.entry_points is from_the_reading:  # not someone else's since
            md.entry_points = real

    md.entry_points = from_the_reading
    return put_back


def keep_for_a_while(put_back: Callable[[], None]) -> None:
    """What was done ahead is kept ``KEEP_AHEAD`` seconds after the hand-over."""
    timer = threading.Timer(KEEP_AHEAD, put_back)
    timer.daemon = True
    timer.start()


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
    put_back: Callable[[], None] | None = ahead("entry points", read_entry_points_once)
    ahead("event schemas", warm_event_schemas)
    tls = ahead("TLS contexts", tls_contexts_ahead)
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
    # the working directory was a slot when the launcher started; the student's home
    # (or volume) is mounted over it now: enter it again by its path
    try:
        os.chdir(identity.get("cwd") or os.getcwd())
    except OSError:
        os.chdir(os.environ.get("HOME") or "/")
    choose_app_again()
    if user_site_again() and put_back is not None:
        put_back()  # the student's own packages count: read them as a cold start does
    elif put_back is not None:
        keep_for_a_while(put_back)
    if tls is not None:  # a context not taken in the server's start is not kept
        keep_for_a_while(tls.put_back)
    sys.argv = ["jupyterhub-singleuser", *identity["args"]]
    from jupyterhub.singleuser import main as singleuser

    sys.exit(singleuser())


if __name__ == "__main__":
    main()
