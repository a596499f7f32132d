"""The logics flush (ConsumeQueues, index, checkpoint) syncs outside the store lock.

Slow syncs are injected by replacing ``_sync_consume_queue`` on the store; the tests wait on
events with generous timeouts and assert no durations.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from rmqcore.message import Message
from rmqcore.store import MessageStore
from rmqcore.store.errors import StoreIOError

OpenStore = Callable[..., MessageStore]
WAIT_S = 30  # only reached when the behaviour under test is broken
# the background thread would flush too; tests call flush() themselves
QUIET = dict(mapped_file_size_commit_log=1 << 20, flush_interval_consume_queue=3_600_000)


def _record_syncs(store: MessageStore) -> list[tuple[str, int, int | None, int]]:
    calls: list[tuple[str, int, int | None, int]] = []
    real = store._sync_consume_queue

    def recording(cq: Any, done: int | None, end: int) -> None:
        calls.append((cq.topic, cq.queue_id, done, end))
        real(cq, done, end)

    store._sync_consume_queue = recording  # type: ignore[method-assign]
    return calls


def test_put_and_reads_proceed_while_a_slow_logics_flush_syncs(open_store: OpenStore) -> None:
    store = open_store(**QUIET)
    store.put(Message("T", b"before"), 0)
    w1 = store.max_phy_offset
    entered, release = threading.Event(), threading.Event()
    seen_during_sync: list[int] = []
    real = store._sync_consume_queue

    def slow(cq: Any, done: int | None, end: int) -> None:
        seen_during_sync.append(store._checkpoint.values.confirm_phy_offset)
        entered.set()
        assert release.wait(WAIT_S)
        real(cq, done, end)

    store._sync_consume_queue = slow  # type: ignore[method-assign]
    errors: list[BaseException] = []

    def flush() -> None:
        try:
            store.flush()
        except BaseException as exc:  # reported below
            errors.append(exc)

    flusher = threading.Thread(target=flush)
    flusher.start()
    try:
        assert entered.wait(WAIT_S)
        done = threading.Event()
        got: list[Any] = []

        def use_the_store() -> None:
            got.append(store.put(Message("T", b"during"), 0))
            got.append(store.get_raw("T", 0, 0))
            got.append(store.max_offset("T", 0))
            done.set()

        threading.Thread(target=use_the_store, daemon=True).start()
        # the flush is parked inside its ConsumeQueue sync: the store lock must be free
        assert done.wait(WAIT_S), "put/get_raw waited for the logics flush"
        assert got[0].ok and got[1].message_count == 2 and got[2] == 2
        assert flusher.is_alive()  # still parked in the sync
    finally:
        release.set()
        flusher.join(WAIT_S)
    assert not errors
    # the checkpoint was written after the sync, and covers only what the snapshot saw
    assert seen_during_sync == [0]
    assert store._checkpoint.values.confirm_phy_offset == w1 < store.max_phy_offset
    store._sync_consume_queue = real  # type: ignore[method-assign]
    store.flush()
    assert store._checkpoint.values.confirm_phy_offset == store.max_phy_offset


def test_clean_queues_are_skipped_and_dirty_ones_synced_from_their_last_end(open_store: OpenStore) -> None:
    store = open_store(**QUIET)
    for q in range(3):
        store.put(Message("T", b"x"), q)
    calls = _record_syncs(store)
    store.flush()
    assert sorted(calls) == [("T", 0, None, 1), ("T", 1, None, 1), ("T", 2, None, 1)]  # first: whole queue

    writes: list[Any] = []
    real_write = store._checkpoint.write
    store._checkpoint.write = lambda values, **kw: (writes.append(values), real_write(values, **kw))  # type: ignore[method-assign]
    calls.clear()
    store.flush()
    assert calls == [] and writes == []  # nothing new: no msync, no checkpoint write

    store.put(Message("T", b"y"), 1)
    store.put(Message("T", b"z"), 1)
    store.flush()
    assert calls == [("T", 1, 1, 3)]
    assert [w.confirm_phy_offset for w in writes] == [store.max_phy_offset]


def test_a_failed_sync_leaves_the_checkpoint_and_is_retried(open_store: OpenStore) -> None:
    store = open_store(**QUIET)
    store.put(Message("T", b"a"), 0)
    store.flush()
    confirmed = store._checkpoint.values.confirm_phy_offset
    for q in range(4):  # more than two dirty queues: the syncs run on the pool
        store.put(Message("T", b"b"), q)
    real = store._sync_consume_queue

    def failing(cq: Any, done: int | None, end: int) -> None:
        if cq.queue_id == 2:
            raise StoreIOError(5, "msync consume queue: injected")
        real(cq, done, end)

    store._sync_consume_queue = failing  # type: ignore[method-assign]
    with pytest.raises(StoreIOError, match="injected"):
        store.flush()
    assert store._checkpoint.values.confirm_phy_offset == confirmed
    store._sync_consume_queue = real  # type: ignore[method-assign]
    calls = _record_syncs(store)
    store.flush()
    assert calls == [("T", 2, None, 1)]  # the others were recorded as synced
    assert store._checkpoint.values.confirm_phy_offset == store.max_phy_offset


def test_close_waits_for_a_flush_still_syncing(open_store: OpenStore) -> None:
    store = open_store(**QUIET)
    store.put(Message("T", b"a"), 0)
    entered, release = threading.Event(), threading.Event()
    real = store._sync_consume_queue

    def slow(cq: Any, done: int | None, end: int) -> None:
        entered.set()
        assert release.wait(WAIT_S)
        real(cq, done, end)  # would touch freed memory if close() had not waited

    store._sync_consume_queue = slow  # type: ignore[method-assign]
    errors: list[BaseException] = []
    flusher = threading.Thread(target=lambda: _catch(store.flush, errors))
    flusher.start()
    assert entered.wait(WAIT_S)
    closer = threading.Thread(target=lambda: _catch(store.close, errors))
    closer.start()
    release.set()
    flusher.join(WAIT_S)
    closer.join(WAIT_S)
    assert not flusher.is_alive() and not closer.is_alive()
    assert not errors and store.closed


def _catch(fn: Callable[[], object], errors: list[BaseException]) -> None:
    try:
        fn()
    except BaseException as exc:
        errors.append(exc)
