"""Puts, reads and their statuses (reference section 3 "Pull status"), special puts."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from rmqcore.clock import FakeClock
from rmqcore.message import Message, MessageExt, constants, tags_code
from rmqcore.store import GetStatus, MessageStore, PutStatus

OpenStore = Callable[..., MessageStore]


def test_pull_statuses(open_store: OpenStore) -> None:
    store = open_store()
    assert store.get("T", 0, 0).status is GetStatus.NO_MATCHED_LOGIC_QUEUE
    for i in range(5):
        assert store.put(Message("T", b"m%d" % i), 0).queue_offset == i
    got = store.get("T", 0, 1, max_count=2)
    assert got.status is GetStatus.FOUND
    assert [m.body for m in got.messages] == [b"m1", b"m2"]
    assert (got.next_offset, got.min_offset, got.max_offset) == (3, 0, 5)
    one = store.get("T", 0, 5)
    assert (one.status, one.next_offset) == (GetStatus.OFFSET_OVERFLOW_ONE, 5)
    badly = store.get("T", 0, 9)
    assert (badly.status, badly.next_offset) == (GetStatus.OFFSET_OVERFLOW_BADLY, 5)
    small = store.get("T", 0, -1)
    assert (small.status, small.next_offset) == (GetStatus.OFFSET_TOO_SMALL, 0)
    assert store.max_offset("T", 0) == 5 and store.min_offset("T", 0) == 0
    assert store.max_offset("nope", 0) == 0


def test_tag_filter_and_no_match(open_store: OpenStore) -> None:
    store = open_store()
    for i in range(6):
        store.put(Message("T", b"%d" % i, tags="TagA" if i % 3 == 0 else "TagB"), 0)
    got = store.get("T", 0, 0, tag_codes={tags_code("TagA")})
    assert [m.body for m in got.messages] == [b"0", b"3"]
    assert got.next_offset == 6
    none = store.get("T", 0, 1, tag_codes={tags_code("TagC")})
    assert (none.status, none.next_offset, none.messages) == (GetStatus.NO_MATCHED_MESSAGE, 6, [])


def test_get_raw_is_the_stored_records_and_max_bytes(open_store: OpenStore) -> None:
    store = open_store()
    results = [store.put(Message("T", b"x" * 100), 0) for _ in range(4)]
    raw = store.get_raw("T", 0, 0, max_count=4)
    assert raw.message_count == 4
    assert raw.raw == b"".join(store.look_message_raw(r.commitlog_offset) for r in results)
    limited = store.get_raw("T", 0, 0, max_count=4, max_bytes=results[0].wrote_bytes * 2 + 1)
    assert (limited.message_count, limited.next_offset) == (2, 2)
    tiny = store.get_raw("T", 0, 0, max_count=4, max_bytes=1)  # the first record always comes back
    assert tiny.message_count == 1


def test_look_message_and_offset_by_time(open_store: OpenStore, clock: FakeClock) -> None:
    store = open_store()
    stamps = []
    for i in range(4):
        stamps.append(clock.now_ms())
        r = store.put(Message("T", b"%d" % i, tags="TagA"), 2)
        clock.advance(1000)
    msg = store.look_message(r.commitlog_offset)
    assert msg is not None and msg.body == b"3" and msg.queue_id == 2 and msg.store_timestamp == stamps[3]
    assert msg.offset_msg_id == r.msg_id
    assert store.look_message(r.commitlog_offset + 1) is None
    assert store.look_message(10**9) is None
    assert store.offset_by_time("T", 2, stamps[2]) == 2
    assert store.offset_by_time("T", 2, stamps[2] + 1) == 3
    assert store.offset_by_time("T", 2, 0) == 0
    assert store.offset_by_time("T", 2, stamps[3] + 10) == 4


def test_put_batch_consecutive_offsets_and_rolls(open_store: OpenStore) -> None:
    store = open_store()
    msgs = [Message("B", b"b%03d" % i + b"." * 400, tags="TagA", keys=f"k{i}") for i in range(20)]
    r = store.put_batch(msgs, 0)
    assert r.ok and r.message_count == 20 and r.queue_offset == 0
    assert len(r.commitlog_offsets) == 20 and len(r.msg_ids) == 20
    got = store.get("B", 0, 0, max_count=32)
    assert [m.body for m in got.messages] == [m.body for m in msgs]
    assert [m.queue_offset for m in got.messages] == list(range(20))
    assert [m.commitlog_offset for m in got.messages] == list(r.commitlog_offsets)
    assert len(list((store.path / "commitlog").iterdir())) >= 3  # 4 KiB files: it rolled
    assert store.put(Message("B", b"after"), 0).queue_offset == 20


def test_schedule_topic_tag_code_is_deliver_time(open_store: OpenStore, clock: FakeClock) -> None:
    store = open_store()
    m = Message(constants.SCHEDULE_TOPIC, b"later", tags="TagA")
    m.delay_level = 3  # 10 s
    store.put(m, 2)
    now = clock.now_ms()
    assert store.get(constants.SCHEDULE_TOPIC, 2, 0, tag_codes={now + 10_000}).status is GetStatus.FOUND
    store.put(Message("Timer", b"x"), 0, tag_code=123456)
    assert store.get("Timer", 0, 0, tag_codes={123456}).message_count == 1


def test_transaction_types_follow_the_dispatcher_rule(open_store: OpenStore) -> None:
    store = open_store()
    seen: list[tuple[str, int, int]] = []
    store.add_dispatch_listener(lambda *a: seen.append(a))

    def ext(sys_flag: int, key: str) -> MessageExt:
        return MessageExt("Tx", b"b", keys=key, sys_flag=sys_flag, born_timestamp=5, born_host=("10.1.2.3", 999))

    prepared = store.put(ext(constants.TRANSACTION_PREPARED_TYPE, "kp"), 0)
    rollback = store.put(ext(constants.TRANSACTION_ROLLBACK_TYPE, "kr"), 0)
    commit = store.put(ext(constants.TRANSACTION_COMMIT_TYPE, "kc"), 0)
    plain = store.put(Message("Tx", b"p"), 0)
    assert (prepared.queue_offset, rollback.queue_offset) == (0, 0)
    assert (commit.queue_offset, plain.queue_offset) == (0, 1)
    assert store.max_offset("Tx", 0) == 2
    assert seen == [("Tx", 0, 0), ("Tx", 0, 1)]
    stored = store.look_message(prepared.commitlog_offset)
    assert stored is not None and stored.born_host == ("10.1.2.3", 999) and stored.born_timestamp == 5
    assert [m.commitlog_offset for m in store.query_by_key("Tx", "kp").messages] == [prepared.commitlog_offset]
    assert store.query_by_key("Tx", "kr").messages == []  # rollback messages are not indexed
    assert len(store.query_by_key("Tx", "kc").messages) == 1


def test_ipv6_hosts(open_store: OpenStore) -> None:
    store = open_store(store_host=("::1", 10911))
    r = store.put(MessageExt("V6", b"six", born_host=("fe80::1", 5), born_timestamp=1), 0)
    m = store.look_message(r.commitlog_offset)
    assert m is not None and m.store_host == ("::1", 10911) and m.born_host == ("fe80::1", 5)
    assert m.sys_flag & (constants.BORNHOST_V6_FLAG | constants.STOREHOSTADDRESS_V6_FLAG) == 0x30
    assert r.wrote_bytes == m.store_size
    assert len(r.msg_id) == 56


def test_closed_store_refuses(open_store: OpenStore) -> None:
    from rmqcore.store import StoreClosedError

    store = open_store()
    store.close()
    with pytest.raises(StoreClosedError):
        store.put(Message("T", b"x"), 0)
    with pytest.raises(StoreClosedError):
        store.get("T", 0, 0)
    assert PutStatus.PUT_OK.name == "PUT_OK"


def test_explicit_store_timestamp(open_store: OpenStore, clock: FakeClock) -> None:
    store = open_store()
    r = store.put(MessageExt("T", b"commit", born_timestamp=7), 0, store_timestamp=1234)
    m = store.look_message(r.commitlog_offset)
    assert m is not None and (m.store_timestamp, m.born_timestamp, r.store_timestamp) == (1234, 7, 1234)
    assert store.put(Message("T", b"plain"), 0).store_timestamp == clock.now_ms()


def test_get_decodes_on_first_access(open_store: OpenStore) -> None:
    store = open_store()
    assert store.put_batch([Message("T", b"a", tags="x"), Message("T", b"b")], 0).ok
    got = store.get("T", 0, 0)
    assert got._messages is None  # nothing decoded by get itself
    assert [(m.body, m.tags, m.queue_offset) for m in got.messages] == [(b"a", "x", 0), (b"b", None, 1)]
    assert got.messages is got.messages  # decoded once
