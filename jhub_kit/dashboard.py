"""Moved in 0.4 to :mod:`jhub_kit.views.dashboard`
(the class dashboard service); 0.3's docs named this path.

.. deprecated:: 0.4
   Importing ``jhub_kit.dashboard`` warns and hands out the names of
   :mod:`jhub_kit.views.dashboard`.
"""

from .deprecation import moved_module

__getattr__, __dir__, __all__ = moved_module(__name__, "jhub_kit.views.dashboard", "0.4")


if __name__ == "__main__":  # 0.3's service command, ``python -m jhub_kit.dashboard``
    import runpy

    runpy.run_module("jhub_kit.views.dashboard", run_name="__main__", alter_sys=True)
