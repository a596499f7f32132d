"""Fixtures of the transaction tests: a real store on a FakeClock, reopened at will."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rmqcore.clock import FakeClock

START_MS = 1_700_000_000_000


class StoreBox:
    """Opens the store under ``root``; ``reopen`` closes it and opens it again on the same files."""

    def __init__(self, root: Path, clock: FakeClock) -> None:
        self.root = root
        self.clock = clock
        self.store = self._open()

    def _open(self) -> Any:
        from rmqcore.store import MessageStore, StoreConfig

        config = StoreConfig(
        mapped_file_size_commit_log=1 << 20,
        mapped_file_size_consume_queue=20 * 1024,
        max_hash_slot_num=4096,
        max_index_num=16384,
    )
        return MessageStore.open(str(self.root / "store"), config, clock=self.clock)

    def reopen(self) -> Any:
        self.store.close()
        self.store = self._open()
        return self.store

    def close(self) -> None:
        self.store.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start_ms=START_MS)


@pytest.fixture
def box(tmp_path: Path, clock: FakeClock) -> Iterator[StoreBox]:
    b = StoreBox(tmp_path, clock)
    yield b
    b.close()
