"""Moved in 0.4 to :mod:`jhub_kit.auth.oauth`
(the userlist OAuthenticators); 0.3's docs named this path.

.. deprecated:: 0.4
   Importing ``jhub_kit.oauth`` warns and hands out the names of
   :mod:`jhub_kit.auth.oauth`.
"""

from .deprecation import moved_module

__getattr__, __dir__, __all__ = moved_module(__name__, "jhub_kit.auth.oauth", "0.4")
