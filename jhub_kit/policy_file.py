"""Moved in 0.4 to :mod:`jhub_kit.quota.policy_file`
(the TOML/YAML quota policy); 0.3's docs named this path.

.. deprecated:: 0.4
   Importing ``jhub_kit.policy_file`` warns and hands out the names of
   :mod:`jhub_kit.quota.policy_file`.
"""

from .deprecation import moved_module

__getattr__, __dir__, __all__ = moved_module(__name__, "jhub_kit.quota.policy_file", "0.4")
