"""A spawner for a user who is nobody in particular: the configured spawner class,
built from the hub's configuration alone, never started.

The warm pool makes its members from one (no user's settings may reach a member),
the hub's start hands the class dashboard its settings from one, and the CLI and
the config check ask one what a user would get. One function makes them all, so
they read the configuration the same way. A callable trait gets the stand-in as
its ``spawner`` argument, with this user: ``pre_spawn_hook`` and ``user_options``
never run for it.
"""

from __future__ import annotations

from typing import Any

#: the name of the pool's stand-in user (whose configuration-only server members are)
STAND_IN_NAME = "jhub-kit-pool-member"


class Group:
    """A group as a spawner reads it (``user.groups``: objects with a name)."""

    def __init__(self, name: str) -> None:
        self.name = name


class StandInUser:
    """A user who is nobody: what a stand-in spawner renders templates and calls
    callables with (no options, no database row); ``groups`` only where a caller
    asks what a member of those groups would get."""

    admin = False
    id = 0

    def __init__(self, name: str = STAND_IN_NAME, groups: tuple[str, ...] = ()) -> None:
        self.name = name
        self.groups = [Group(g) for g in groups]
        self.url = f"/user/{name}/"
        self.spawners: dict[str, Any] = {}


def stand_in(
    spawner_class: type,
    config: Any,
    *,
    hub: Any = None,
    name: str = STAND_IN_NAME,
    groups: tuple[str, ...] = (),
) -> Any:
    """``spawner_class`` for a stand-in user ``name`` (in ``groups``), from ``config``;
    ``hub``: the hub's ``Hub`` object where the caller runs in the hub."""
    kwargs: dict[str, Any] = {"config": config, "user": StandInUser(name, tuple(groups))}
    if hub is not None:
        kwargs["hub"] = hub
    return spawner_class(**kwargs)


def is_stand_in(user: Any) -> bool:
    return isinstance(user, StandInUser)
