"""Moved in 0.4 to :mod:`jhub_kit.auth.native`
(UserlistNativeAuthenticator); 0.3's docs named this path.

.. deprecated:: 0.4
   Importing ``jhub_kit.native`` warns and hands out the names of
   :mod:`jhub_kit.auth.native`.
"""

from .deprecation import moved_module

__getattr__, __dir__, __all__ = moved_module(__name__, "jhub_kit.auth.native", "0.4")
