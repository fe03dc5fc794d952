"""Deprecated: the kit's test harness is no longer part of the installed package.

.. deprecated:: 0.4
   The in-process hub harness moved to the kit's test suite
   (``tests/support/kit_testing.py`` in the source tree): copy it into your own tests.
   Importing ``jhub_kit.testing`` warns, and works only where that file is importable
   as ``kit_testing``; it will be removed in 0.5.
"""

from __future__ import annotations

import warnings

warnings.warn(
    "jhub_kit.testing is deprecated since 0.4 and will be removed in 0.5: the test "
    "harness moved to the kit's tests (tests/support/kit_testing.py); copy it into your "
    "own tests and import it from there",
    DeprecationWarning,
    stacklevel=2,
)

try:
    from kit_testing import ensure_user, running_hub, stop_hub  # noqa: F401
except ImportError as e:
    raise ImportError(
        "jhub_kit.testing moved out of the package in 0.4: copy tests/support/kit_testing.py "
        "from the jhub_kit source into your tests and import running_hub from it"
    ) from e
