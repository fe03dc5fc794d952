"""Fixtures of the unit tier (no services)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest


@pytest.fixture
def hub_tz(request: pytest.FixtureRequest) -> Iterator[None]:
    """The hub's local time zone for one test: ``TZ`` set (default UTC; a test module
    may set ``HUB_TZ``), restored after."""
    zone = getattr(request.module, "HUB_TZ", "UTC")
    old = os.environ.get("TZ")
    os.environ["TZ"] = zone
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()
