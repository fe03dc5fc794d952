"""Moved in 0.5 to :mod:`jhub_kit.loop.admission` (a shared service the pool uses too).

.. deprecated:: 0.5
   Importing ``jhub_kit.spawners.admission`` warns and hands out the names of
   :mod:`jhub_kit.loop.admission`.
"""

from ..deprecation import moved_module

__getattr__, __dir__, __all__ = moved_module(__name__, "jhub_kit.loop.admission", "0.5")
