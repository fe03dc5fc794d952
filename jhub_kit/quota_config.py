"""Moved in 0.4 to :mod:`jhub_kit.quota.traits`
(the quota traits and their resolution); 0.3's docs named this path.

.. deprecated:: 0.4
   Importing ``jhub_kit.quota_config`` warns and hands out the names of
   :mod:`jhub_kit.quota.traits`.
"""

from .deprecation import moved_module

__getattr__, __dir__, __all__ = moved_module(__name__, "jhub_kit.quota.traits", "0.4")
