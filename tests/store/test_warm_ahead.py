"""Warm-ahead: open prefaults nothing synchronously; the next file is prepared ahead.

The warm-ahead thread (csrc/warm_ahead.c) keeps ``warm_ahead_window`` bytes past the
write position prefaulted and creates the next CommitLog file once the window reaches
it, so a roll adopts a file that is already there.
"""

from __future__ import annotations

from pathlib import Path

from rmqcore.clock import FakeClock
from rmqcore.message import Message
from rmqcore.store import MessageStore, StoreConfig
from rmqcore.store._ffi import lib

FILE = 8 * 1024 * 1024
WINDOW = 1024 * 1024


def _config(**overrides: object) -> StoreConfig:
    return StoreConfig(**{"mapped_file_size_commit_log": FILE, "warm_ahead_window": WINDOW, **overrides})  # type: ignore[arg-type]


def _files(path: Path) -> list[str]:
    return sorted(p.name for p in (path / "commitlog").iterdir())


def test_next_file_prepared_when_the_window_reaches_it(tmp_path: Path, clock: FakeClock) -> None:
    store = MessageStore.open(tmp_path / "s", _config(), clock=clock)
    try:
        store.wait_warm()
        assert _files(tmp_path / "s") == ["%020d" % 0]  # the first file, before any put
        body = b"x" * 4000
        # stay more than a window away from the end: no next file yet
        while store.max_phy_offset < FILE - 3 * WINDOW:
            assert store.put_batch([Message("T", body)] * 16, 0).ok
        store.wait_warm()
        assert _files(tmp_path / "s") == ["%020d" % 0]
        while store.max_phy_offset < FILE - WINDOW // 4:
            assert store.put(Message("T", body), 0).ok
        store.wait_warm()
        assert _files(tmp_path / "s") == ["%020d" % 0, "%020d" % FILE]
        # the roll adopts the prepared file; every message reads back
        while store.max_phy_offset < FILE + WINDOW:
            assert store.put(Message("T", body), 0).ok
        total = store.max_offset("T", 0)
        assert [m.body for m in store.get("T", 0, total - 1, 1).messages] == [body]
    finally:
        store.close()
    # close deletes a prepared file that was never written; reopening finds the log intact
    again = MessageStore.open(tmp_path / "s", _config(), clock=clock)
    try:
        assert not again.recovery_report.truncated
        assert again.max_offset("T", 0) == total
    finally:
        again.close()


def test_no_warm_ahead_when_disabled(tmp_path: Path, clock: FakeClock) -> None:
    store = MessageStore.open(tmp_path / "s", _config(warm_mapped_file_enable=False), clock=clock)
    try:
        store.wait_warm()  # no thread: returns at once
        assert _files(tmp_path / "s") == []
        assert store.put(Message("T", b"x"), 0).ok
        assert _files(tmp_path / "s") == ["%020d" % 0]
    finally:
        store.close()


def _keyed(i: int) -> Message:
    return Message("T", b"body-%d" % i, tags="A", keys="k%d" % i)


def test_index_slot_table_and_queue_are_warmed(tmp_path: Path, clock: FakeClock) -> None:
    """The warm-ahead thread also prefaults the newest index file's hash slots and the
    written queue's next ConsumeQueue pages, so that the writer does not fault on them."""
    slots = 100_000
    store = MessageStore.open(tmp_path / "s", _config(max_hash_slot_num=slots), clock=clock)
    try:
        assert store.put_batch([_keyed(i) for i in range(64)], 0).ok
        store.wait_warm()  # waits for the queued index and queue ranges too
        warmed = lib.rmq_commitlog_warm_stat(store._cl, 1)
        # the header and every slot, plus entries and queue pages ahead of the writer
        assert warmed >= 40 + slots * 4
        assert lib.rmq_commitlog_warm_stat(store._cl, 3) == 0  # no job dropped
        assert [m.body for m in store.query_by_key("T", "k7").messages] == [b"body-7"]
    finally:
        store.close()


def test_index_file_blocks_are_reserved(tmp_path: Path, clock: FakeClock) -> None:
    """A new index file has its header and slot table allocated on disk (posix_fallocate)
    before anything is written through the mapping, so a full disk fails the put that
    creates it (a typed error) instead of raising SIGBUS on a later slot write."""
    slots = 100_000
    store = MessageStore.open(tmp_path / "s", _config(max_hash_slot_num=slots), clock=clock)
    try:
        assert store.put(_keyed(1), 0).ok
        (index_file,) = (tmp_path / "s" / "index").iterdir()
        assert index_file.stat().st_blocks * 512 >= 40 + slots * 4
    finally:
        store.close()


def test_queue_and_index_warming_survive_truncation_and_rolls(tmp_path: Path, clock: FakeClock) -> None:
    """Tiny ConsumeQueue and index files roll (and a reopen truncates) while the thread
    is asked to warm them: nothing it holds outlives a file, and every message reads back."""
    cfg = _config(mapped_file_size_consume_queue=20 * 8, max_hash_slot_num=64, max_index_num=32)
    store = MessageStore.open(tmp_path / "s", cfg, clock=clock)
    try:
        for i in range(0, 400, 16):
            assert store.put_batch([_keyed(j) for j in range(i, i + 16)], i % 3).ok
            if i % 64 == 0:
                store.wait_warm()
        store.wait_warm()
    finally:
        store._simulate_crash()
    again = MessageStore.open(tmp_path / "s", cfg, clock=clock)
    try:
        assert sum(again.max_offset("T", q) for q in range(3)) == 400
        assert [m.body for m in again.query_by_key("T", "k399").messages] == [b"body-399"]
        for i in range(400, 480, 16):
            assert again.put_batch([_keyed(j) for j in range(i, i + 16)], 0).ok
        again.wait_warm()
        assert [m.body for m in again.query_by_key("T", "k470").messages] == [b"body-470"]
    finally:
        again.close()
