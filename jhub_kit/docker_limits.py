"""Moved in 0.4 to :mod:`jhub_kit.quota.docker_limits`
(a Quota as Docker host-config keywords); 0.3's docs named this path.

.. deprecated:: 0.4
   Importing ``jhub_kit.docker_limits`` warns and hands out the names of
   :mod:`jhub_kit.quota.docker_limits`.
"""

from .deprecation import moved_module

__getattr__, __dir__, __all__ = moved_module(__name__, "jhub_kit.quota.docker_limits", "0.4")
