"""Fixtures for the store tests: small files so that rolls happen, an injected clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from rmqcore.clock import FakeClock
from rmqcore.store import MessageStore, StoreConfig

SMALL = dict(
    mapped_file_size_commit_log=4096,
    mapped_file_size_consume_queue=20 * 8,
    max_message_size=2048,
    max_hash_slot_num=64,
    max_index_num=32,
)


def small_config(**overrides: Any) -> StoreConfig:
    return StoreConfig(**{**SMALL, **overrides})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start_ms=1_700_000_000_000)


@pytest.fixture
def open_store(tmp_path: Path, clock: FakeClock) -> Iterator[Callable[..., MessageStore]]:
    """open_store(**config overrides, path=..., disk_usage_probe=...) -> an open store, closed at teardown."""
    opened: list[MessageStore] = []

    def _open(path: Path | None = None, disk_usage_probe: Any = None, **overrides: Any) -> MessageStore:
        store = MessageStore.open(
            path or tmp_path / "store", small_config(**overrides), clock=clock, disk_usage_probe=disk_usage_probe
        )
        opened.append(store)
        return store

    yield _open
    for store in opened:
        store.close()
