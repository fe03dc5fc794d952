"""Moved in 0.4 to :mod:`jhub_kit.views.student`
(the student's quota on the hub's pages); 0.3's docs named this path.

.. deprecated:: 0.4
   Importing ``jhub_kit.student_view`` warns and hands out the names of
   :mod:`jhub_kit.views.student`.
"""

from .deprecation import moved_module

__getattr__, __dir__, __all__ = moved_module(__name__, "jhub_kit.views.student", "0.4")
