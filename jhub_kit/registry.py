"""Objects a process shares between spawners, in one registry with one keying scheme.

Every user's spawner is its own object, but some things exist once per hub (the
warm pool, the start queue, the home provisioner) or once per process (a Docker
client per engine, a policy file per path). Each is kept under
``(what, the hub's config or None, anything else that must match)``: a process
may run several hubs (the test suite does), and a config object identifies its
hub. The config is kept alive with the object, so its ``id`` stays unique.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")

_OBJECTS: dict[tuple[Hashable, ...], tuple[Any, Any]] = {}
#: the kit's threads (Docker calls, file work) ask for shared objects too: one maker
#: at a time, so two never make the same object (a maker may ask for another: reentrant)
_MAKING = threading.RLock()


def shared(what: str, config: Any, make: Callable[[], T], *key: Any) -> T:
    """The ``what`` of the hub that owns ``config`` (None: of the process) for
    ``key``, made by ``make()`` the first time."""
    k = (what, None if config is None else id(config), *key)
    found = _OBJECTS.get(k)
    if found is None:
        with _MAKING:
            found = _OBJECTS.get(k)
            if found is None:
                found = _OBJECTS[k] = (config, make())
    made: T = found[1]
    return made


def all_of(what: str, config: Any = None) -> list[Any]:
    """Every ``what`` kept (of the hub that owns ``config``, if given)."""
    return [
        obj
        for k, (cfg, obj) in _OBJECTS.items()
        if k[0] == what and (config is None or cfg is config)
    ]


def forget(what: str | None = None, config: Any = None) -> list[Any]:
    """Drop the objects kept (of one kind, of one hub); returns them."""
    dropped = []
    for k in list(_OBJECTS):
        cfg, obj = _OBJECTS[k]
        if (what is None or k[0] == what) and (config is None or cfg is config):
            dropped.append(obj)
            del _OBJECTS[k]
    return dropped
