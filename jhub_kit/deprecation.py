"""Renaming an option, or retiring one, without breaking a site's config.

A configurable class lists its old names beside the new ones::

    class StartQueueMixin(RenamedTraits, LoggingConfigurable):
        renamed_traits = {"startup_timeout": ("start_after_queue_timeout", "0.5")}

and :class:`RenamedTraits` declares each old name as a config trait whose
observer warns once (a :class:`DeprecationWarning` and the class's log, naming
``Class.old`` and ``Class.new``) and forwards the value to the new trait. The model
is DockerSpawner's ``_deprecated_aliases`` table and its ``@observe``; the table here
has its own name, so a class that is also a DockerSpawner keeps both tables.

An old name with no replacement (``(None, version, what to do)``) warns that it is
ignored. When the config sets both names, the new one wins and the warning says the
old one was ignored. Reading an old name that was never set gives the new one's value.
"""

from __future__ import annotations

import logging
import warnings
from importlib import import_module
from types import ModuleType
from typing import Any, ClassVar

from traitlets import Any as AnyTrait
from traitlets import HasTraits, observe
from traitlets.config import Configurable
from traitlets.log import get_logger

from . import registry


def _entry(value: tuple[Any, ...]) -> tuple[str | None, str, str]:
    new, version, *rest = value
    return new, version, (rest[0] if rest else "")


def _alias_help(owner: str, old: str, new: str | None, version: str, hint: str) -> str:
    if new is None:
        what = f"Ignored since {version}{': ' + hint if hint else ''}. Remove it from the config."
    else:
        what = (
            f"Deprecated since {version}: renamed :attr:`{owner}.{new}`, which it sets "
            f"(with a warning). Example: write ``c.{owner}.{new} = ...`` instead."
        )
    return f"{what}\n\n.. deprecated:: {version}\n"


def _configured(obj: Any, name: str) -> bool:
    """Whether ``name`` is set in ``obj``'s config, for its class or any parent."""
    config = getattr(obj, "config", None)
    if not config:
        return False
    return any(
        klass.__name__ in config and name in config[klass.__name__]
        for klass in type(obj).mro()
        if issubclass(klass, Configurable)
    )


def _first_time(obj: Any, old: str) -> bool:
    """True once per config object (the hub's, shared by every spawner) and old name."""
    config = getattr(obj, "config", None)
    if config is None:
        return True
    warned: set[tuple[type, str]] = registry.shared("deprecation-warned", config, set)
    if (type(obj), old) in warned:
        return False
    warned.add((type(obj), old))
    return True


def _forward_renamed(self: Any, change: Any) -> None:
    """Observer of every old name: warn once, and set the new name (unless it is set too)."""
    old = change.name
    new, version, hint = _entry(type(self).all_renamed_traits()[old])
    cls = type(self).__name__
    if new is None:
        message = (
            f"{cls}.{old} is ignored since jhub_kit {version}"
            f"{': ' + hint if hint else ''}; remove it from the config"
        )
    elif _configured(self, new) and getattr(self, new) != change.new:
        message = (
            f"{cls}.{old} is deprecated since jhub_kit {version}, use {cls}.{new}; both are "
            f"set, so {cls}.{old} = {change.new!r} is ignored and "
            f"{cls}.{new} = {getattr(self, new)!r} applies. Remove {cls}.{old}"
        )
        new = None
    else:
        message = f"{cls}.{old} is deprecated since jhub_kit {version}, use {cls}.{new} instead"
    if new is not None:
        setattr(self, new, change.new)
    if _first_time(self, old):
        warnings.warn(message, DeprecationWarning, stacklevel=2)
        # a plain Configurable has no log of its own: the application's, as traitlets gives
        (getattr(self, "log", None) or get_logger()).warning(message)


class RenamedTraits(HasTraits):
    """Mixin: each old name of a subclass's :attr:`renamed_traits` becomes a config
    trait that warns and forwards to its new name."""

    #: ``{old: (new, version)}``, or ``{old: (None, version, what to do instead)}``
    #: for an option that is ignored; read from the class that defines it
    renamed_traits: ClassVar[dict[str, tuple[Any, ...]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        table = cls.__dict__.get("renamed_traits")
        if not table:
            return
        # Declared before traitlets' metaclass sets the class up (it runs after this
        # hook), so they are traits like any other: configurable, documented, observed.
        for old, value in table.items():
            new, version, hint = _entry(value)
            trait = AnyTrait(
                None,
                allow_none=True,
                help=_alias_help(cls.__name__, old, new, version, hint),
            ).tag(config=True)
            trait.class_init(cls, old)
            setattr(cls, old, trait)
            if new is not None:
                # never set: read as the new name's value
                setattr(cls, f"_{old}_default", _reader(new))
        handler = observe(*table)(_forward_renamed)
        name = f"_forward_renamed_{cls.__name__}"
        handler.class_init(cls, name)
        setattr(cls, name, handler)

    @classmethod
    def all_renamed_traits(cls) -> dict[str, tuple[Any, ...]]:
        """The old names of this class and its parents."""
        out: dict[str, tuple[Any, ...]] = {}
        for klass in reversed(cls.mro()):
            out.update(klass.__dict__.get("renamed_traits", {}))
        return out


def _reader(new: str) -> Any:
    def _default(self: Any) -> Any:
        return getattr(self, new)

    return _default


def moved_module(old: str, new: str, version: str) -> tuple[Any, Any, list[str]]:
    """For a shim left at a module's old path: warn that it moved (a
    :class:`DeprecationWarning` naming the new path, at the importer's line) and
    return the shim's ``__getattr__``, ``__dir__`` and ``__all__``, which hand out
    the new module's names::

        __getattr__, __dir__, __all__ = moved_module(__name__, "jhub_kit.auth.userlist", "0.4")
    """
    message = (
        f"{old} moved to {new} in jhub_kit {version}: import {new} instead "
        f"(the old path will be removed)"
    )
    warnings.warn(
        message,
        DeprecationWarning,
        stacklevel=3,  # the shim, then whoever imported it (importlib's frames are skipped)
    )
    # Python hides a DeprecationWarning raised in a config file: the hub's log says it too
    logging.getLogger("jhub_kit").warning(message)
    module = import_module(new)

    def __getattr__(name: str) -> Any:
        try:
            return getattr(module, name)
        except AttributeError:
            raise AttributeError(f"module {new!r} (was {old!r}) has no {name!r}") from None

    def __dir__() -> list[str]:
        return dir(module)

    public = getattr(module, "__all__", None) or [
        name  # what the module defines, not what it imports
        for name, value in vars(module).items()
        if not name.startswith("_")
        and getattr(value, "__module__", new) == new
        and not isinstance(value, ModuleType)
    ]
    return __getattr__, __dir__, list(public)
