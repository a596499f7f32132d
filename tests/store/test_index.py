"""Key look-ups through the IndexFile (reference section 5)."""

from __future__ import annotations

import struct
from collections.abc import Callable

from rmqcore.clock import FakeClock
from rmqcore.message import Message
from rmqcore.store import MessageStore

OpenStore = Callable[..., MessageStore]


def test_keys_and_uniq_key(open_store: OpenStore) -> None:
    store = open_store()
    m = Message("T", b"a", keys=["order-1", "user-9"])
    m.uniq_key = "UNIQ0001"
    r = store.put(m, 0)
    store.put(Message("T", b"b", keys="order-2"), 0)
    last = store.put(Message("Other", b"c", keys="order-1"), 0)
    for key in ("order-1", "user-9", "UNIQ0001"):
        hits = store.query_by_key("T", key)
        assert [h.commitlog_offset for h in hits.messages] == [r.commitlog_offset], key
        assert hits.raw == store.look_message_raw(r.commitlog_offset)
    assert store.query_by_key("T", "missing").messages == []
    assert [h.body for h in store.query_by_key("Other", "order-1").messages] == [b"c"]
    result = store.query_by_key("T", "order-2")
    assert result.index_last_update_phy_offset == last.commitlog_offset
    assert result.index_last_update_timestamp == last.store_timestamp


def test_time_range_and_max_count(open_store: OpenStore, clock: FakeClock) -> None:
    store = open_store()
    stamps = []
    for i in range(6):
        stamps.append(clock.now_ms())
        store.put(Message("T", b"%d" % i, keys="same"), 0)
        clock.advance(5_000)
    everything = store.query_by_key("T", "same", max_count=32)
    assert [m.body for m in everything.messages] == [b"%d" % i for i in range(6)]
    newest_two = store.query_by_key("T", "same", max_count=2)
    assert [m.body for m in newest_two.messages] == [b"4", b"5"]
    window = store.query_by_key("T", "same", 32, stamps[1], stamps[3])
    assert [m.body for m in window.messages] == [b"1", b"2", b"3"]
    assert store.query_by_key("T", "same", 32, stamps[5] + 1, stamps[5] + 10_000).messages == []


def test_rolls_to_a_new_index_file_when_full(open_store: OpenStore, clock: FakeClock) -> None:
    store = open_store(max_index_num=4, max_hash_slot_num=8)
    for i in range(10):
        store.put(Message("T", b"%d" % i, keys=f"k{i}"), 0)
        clock.advance(1)
    files = sorted(p.name for p in (store.path / "index").iterdir())
    assert len(files) == 4  # 3 entries per file (entry 0 is unused)
    assert all(len(name) == 17 and name.isdigit() for name in files)
    size = (store.path / "index" / files[0]).stat().st_size
    assert size == 40 + 8 * 4 + 4 * 20
    for i in range(10):
        assert [m.body for m in store.query_by_key("T", f"k{i}").messages] == [b"%d" % i]


def test_index_header_layout(open_store: OpenStore, clock: FakeClock) -> None:
    store = open_store()
    r = store.put(Message("T", b"x", keys="k"), 0)
    store.flush()
    [name] = [p for p in (store.path / "index").iterdir()]
    data = name.read_bytes()
    begin_ts, end_ts, begin_phy, end_phy, slots_used, count = struct.unpack_from(">qqqqii", data, 0)
    assert (begin_ts, end_ts, begin_phy, end_phy, slots_used, count) == (
        clock.now_ms(), clock.now_ms(), r.commitlog_offset, r.commitlog_offset, 1, 2
    )
    # entry 1: keyHash | phyOffset | timeDiff | prevIndex
    from rmqcore.message import java_string_hash

    h = abs(java_string_hash("T#k"))
    assert struct.unpack_from(">iqii", data, 40 + 64 * 4 + 20) == (h, r.commitlog_offset, 0, 0)
    assert struct.unpack_from(">i", data, 40 + (h % 64) * 4)[0] == 1
