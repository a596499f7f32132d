"""Suite-wide set-up: structlog writes key=value lines to stderr (never into doctest stdout)."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator

import pytest

from rmqcore.logs import configure_logging

configure_logging("info", stream=sys.stderr)


@pytest.fixture
def collector_at_threshold_one() -> Iterator[None]:
    """The cyclic collector at threshold 1 for the test: almost any allocation starts a
    collection, and with it finalizers that run Python code in the middle of a C call.
    The C extensions must not misread or crash when that code changes what they read."""
    threshold = gc.get_threshold()
    gc.set_threshold(1)
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.collect()
