"""Suite-wide set-up: structlog writes key=value lines to stderr (never into doctest stdout)."""

from __future__ import annotations

import sys

from rmqcore.logs import configure_logging

configure_logging("info", stream=sys.stderr)
