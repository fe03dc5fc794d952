"""Moved in 0.4 to :mod:`jhub_kit.spawners.adapter`
(the DockerSpawner internals the kit relies on); 0.3's docs named this path.

.. deprecated:: 0.4
   Importing ``jhub_kit.dockerspawner_adapter`` warns and hands out the names of
   :mod:`jhub_kit.spawners.adapter`.
"""

from .deprecation import moved_module

__getattr__, __dir__, __all__ = moved_module(__name__, "jhub_kit.spawners.adapter", "0.4")
