"""Moved in 0.4 (the start gate; now :mod:`jhub_kit.loop.admission`); 0.3's docs
named this path.

.. deprecated:: 0.4
   Importing ``jhub_kit.admission`` warns and hands out the names of
   :mod:`jhub_kit.loop.admission`.
"""

from .deprecation import moved_module

__getattr__, __dir__, __all__ = moved_module(__name__, "jhub_kit.loop.admission", "0.4")
