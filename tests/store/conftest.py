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


@pytest.fixture
def store_pair(tmp_path: Path) -> Iterator[Callable[..., tuple[MessageStore, MessageStore]]]:
    """store_pair(**config) -> two fresh stores with that config and the same clock time,
    for tests that drive a C path in one and the interpreter's in the other."""
    opened: list[MessageStore] = []
    count = iter(range(10**6))

    def _pair(**config: Any) -> tuple[MessageStore, MessageStore]:
        i = next(count)
        first, second = (
            MessageStore.open(tmp_path / f"pair{i}{name}", StoreConfig(**config), clock=FakeClock(1_700_000_000_000))
            for name in "ab"
        )
        opened.extend((first, second))
        return first, second

    yield _pair
    for store in opened:
        store.close()
