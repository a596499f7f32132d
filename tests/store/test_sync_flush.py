"""SYNC_FLUSH: a put returns after a sync that covers it; concurrent puts share syncs."""

from __future__ import annotations

import threading
from collections.abc import Callable

from rmqcore.message import Message
from rmqcore.store import MessageStore

OpenStore = Callable[..., MessageStore]


def _run_threads(count: int, target: Callable[[int], None]) -> None:
    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)


def test_group_commit_across_threads(open_store: OpenStore) -> None:
    store = open_store(flush_disk_type="SYNC_FLUSH", mapped_file_size_commit_log=1 << 20)
    threads, per_thread = 8, 40
    start = threading.Barrier(threads)
    failures: list[str] = []

    def writer(queue_id: int) -> None:
        start.wait(timeout=30)
        for i in range(per_thread):
            r = store.put(Message("S", b"%d-%d" % (queue_id, i)), queue_id)
            # when put returns, a sync already covered the whole record
            if not r.ok or store.flushed_offset < r.commitlog_offset + r.wrote_bytes:
                failures.append(f"{queue_id}/{i}: {r.status} flushed={store.flushed_offset} end={r.commitlog_offset + r.wrote_bytes}")

    _run_threads(threads, writer)
    assert not failures, failures[:5]
    puts = threads * per_thread
    assert all(store.max_offset("S", q) == per_thread for q in range(threads))
    assert 0 < store.sync_count < puts, f"{store.sync_count} syncs for {puts} puts: no sharing"


def test_sync_batch_is_durable_on_return(open_store: OpenStore) -> None:
    store = open_store(flush_disk_type="SYNC_FLUSH")
    r = store.put_batch([Message("S", b"x" * 300) for _ in range(30)], 0)
    assert r.ok and store.flushed_offset >= r.commitlog_offsets[-1] + 300


def test_put_without_waiting_then_wait_flushed(open_store: OpenStore) -> None:
    """``wait_for_flush=False``: PUT_OK at once; ``wait_flushed`` asks for the sync and learns
    the flushed offset, which covers every record written before it."""
    store = open_store(flush_disk_type="SYNC_FLUSH", mapped_file_size_commit_log=1 << 20)
    single = store.put(Message("S", b"one"), 0, wait_for_flush=False)
    encoded = store.put_encoded("S", 0, b"two", b"TAGS\x01A\x02", wait_for_flush=False)
    batch = store.put_batch([Message("S", b"x" * 100) for _ in range(5)], 1, wait_for_flush=False)
    assert single.ok and encoded.ok and batch.ok
    assert single.end_offset == single.commitlog_offset + single.wrote_bytes == encoded.commitlog_offset
    assert batch.end_offset == store.max_phy_offset
    # nothing asked for a sync yet (group commit runs on request)
    assert store.flushed_offset < single.end_offset
    assert store.wait_flushed(single.end_offset, 5.0) >= batch.end_offset == store.flushed_offset
    syncs = store.sync_count
    assert store.wait_flushed(batch.end_offset, 5.0) == batch.end_offset and store.sync_count == syncs


def test_wait_flushed_after_close_returns_at_once(open_store: OpenStore) -> None:
    store = open_store(flush_disk_type="SYNC_FLUSH", mapped_file_size_commit_log=1 << 20)
    r = store.put(Message("S", b"one"), 0, wait_for_flush=False)
    store.close()  # its final flush covers the record
    assert store.wait_flushed(r.end_offset + 1000, 60.0) == r.end_offset


# --- the C group commit's waiters (csrc/group_commit.c) -------------------------------------------


def _wait(store: MessageStore, end: int, timeout_ms: int) -> int:
    """rmq_gc_wait on the store's group commit: 1 durable, 0 timed out or stopped, <0 -errno."""
    from rmqcore.store._ffi import lib

    result: int = lib.rmq_gc_wait(store._flusher._gc, end, timeout_ms)  # type: ignore[attr-defined]
    return result


def test_every_waiter_is_woken_one_after_another(open_store: OpenStore) -> None:
    """Waiters queue in arrival order; an msync wakes the first covered one and each wakes the
    next on its way out. Ends past the write position are covered too: the flusher syncs up
    to the highest end asked for."""
    store = open_store(flush_disk_type="SYNC_FLUSH", mapped_file_size_commit_log=1 << 20)
    store.put(Message("S", b"x"), 0)
    for _ in range(5):
        base = store.flushed_offset
        results: dict[int, int] = {}
        start = threading.Barrier(48)

        def waiter(i: int) -> None:
            start.wait(timeout=30)
            results[i] = _wait(store, base + 1 + i, 30_000)

        _run_threads(48, waiter)
        assert results == {i: 1 for i in range(48)}
        assert store.flushed_offset >= base + 48


def test_waits_that_time_out_as_they_are_woken_return_cleanly(open_store: OpenStore) -> None:
    """A zero timeout races the flusher's wake-up: each wait answers 1 (woken first) or 0
    (timed out first; it leaves the queue), never hangs, and the next waits still complete."""
    store = open_store(flush_disk_type="SYNC_FLUSH", mapped_file_size_commit_log=1 << 20)
    store.put(Message("S", b"x"), 0)
    seen: set[int] = set()
    for _ in range(20):
        base = store.flushed_offset
        answers: list[int] = []

        def waiter(i: int) -> None:
            answers.append(_wait(store, base + 1 + i, 0 if i % 2 else 30_000))

        _run_threads(16, waiter)
        assert len(answers) == 16 and set(answers) <= {0, 1}
        assert answers.count(1) >= 8  # every wait with a real timeout was covered
        seen.update(answers)
    assert _wait(store, store.flushed_offset + 100, 30_000) == 1
    assert 1 in seen


def test_a_stopped_group_commit_answers_at_once(open_store: OpenStore) -> None:
    store = open_store(flush_disk_type="SYNC_FLUSH", mapped_file_size_commit_log=1 << 20)
    store.put(Message("S", b"x"), 0)
    flushed = store.flushed_offset
    store._flusher.stop()
    assert _wait(store, flushed + 10, 30_000) == 0
    assert _wait(store, flushed, 30_000) == 1
