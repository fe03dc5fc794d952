"""Moved in 0.5 to :mod:`jhub_kit.loop.health` (a shared service the pool uses too).

.. deprecated:: 0.5
   Importing ``jhub_kit.spawners.loop_health`` warns and hands out the names of
   :mod:`jhub_kit.loop.health`.
"""

from ..deprecation import moved_module

__getattr__, __dir__, __all__ = moved_module(__name__, "jhub_kit.loop.health", "0.5")
