"""Moved in 0.4 to :mod:`jhub_kit.pool.launcher`
(the warm pool's launcher); 0.3's docs named this path.

.. deprecated:: 0.4
   Importing ``jhub_kit.pool_launcher`` warns and hands out the names of
   :mod:`jhub_kit.pool.launcher`.
"""

from .deprecation import moved_module

__getattr__, __dir__, __all__ = moved_module(__name__, "jhub_kit.pool.launcher", "0.4")
