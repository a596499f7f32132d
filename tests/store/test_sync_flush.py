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
