"""SYNC_FLUSH: a put returns after a sync that covers it; concurrent puts share syncs."""

from __future__ import annotations

import threading
from collections.abc import Callable

from rmqcore.message import Message
from rmqcore.store import MessageStore

OpenStore = Callable[..., MessageStore]


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

    pool = [threading.Thread(target=writer, args=(q,)) for q in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in pool)
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
