"""Transport tests run their coroutines on anyio's asyncio backend (ProtocolChannel needs asyncio)."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
