"""put_encoded: one message stored from its encoded property string (reference section 4).

It must store exactly what ``put`` of the equivalent MessageExt stores -- same record
bytes, queue offsets, tag code and index keys -- and fail, flush and notify as ``put`` does.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rmqcore.clock import FakeClock
from rmqcore.message import MessageExt, encode_properties, tags_code
from rmqcore.message import constants as C
from rmqcore.store import (
    MessageIllegalError,
    MessageStore,
    MessageTooLargeError,
    PropertiesTooLargeError,
    PutStatus,
    StoreClosedError,
)
from rmqcore.store.commitlog import host_bytes

OpenStore = Callable[..., MessageStore]

CASES = [
    ({"TAGS": "TagA", "UNIQ_KEY": "U1", "KEYS": "k1 k2", "CLUSTER": "DefaultCluster"}, ("10.1.2.3", 4567)),
    ({"UNIQ_KEY": "U2"}, ("10.1.2.3", 4567)),
    ({"TAGS": "标签", "KEYS": "k3"}, ("::1", 9876)),  # IPv6 born host: 12 more bytes
    ({}, None),  # no properties, the store host as born host
]


def _ext(topic: str, props: dict[str, str], born: tuple[str, int] | None, **fields: Any) -> MessageExt:
    return MessageExt(topic, b"body-" * 7, properties=dict(props), born_host=born, **fields)


@pytest.mark.parametrize(("props", "born"), CASES)
@pytest.mark.parametrize("packed", [False, True])
def test_same_record_as_put(open_store: OpenStore, tmp_path: Path, props: dict[str, str], born: Any, packed: bool) -> None:
    by_put = open_store(path=tmp_path / "put")
    by_encoded = open_store(path=tmp_path / "encoded")
    fields = dict(flag=5, sys_flag=C.MULTI_TAGS_FLAG, born_timestamp=1_600_000_000_123, reconsume_times=2)
    for i in range(12):  # 4096-byte files: rolls and end-of-file blanks on the way
        a = by_put.put(_ext("T", props, born, **fields), 1)
        host = host_bytes(born) if packed and born else born
        b = by_encoded.put_encoded("T", 1, b"body-" * 7, encode_properties(props).encode(), born_host=host, **fields)
        assert (a.status, a.commitlog_offset, a.queue_offset, a.wrote_bytes, a.store_timestamp) == (
            b.status, b.commitlog_offset, b.queue_offset, b.wrote_bytes, b.store_timestamp
        ), i  # fmt: skip
    assert by_put.max_phy_offset == by_encoded.max_phy_offset
    assert by_put.get_raw("T", 1, 0, 64).raw == by_encoded.get_raw("T", 1, 0, 64).raw
    if "TAGS" in props:
        wanted = frozenset({tags_code(props["TAGS"])})
        assert by_encoded.get_raw("T", 1, 0, 64, wanted).message_count == 12
        assert by_put.get_raw("T", 1, 0, 64, wanted).raw == by_encoded.get_raw("T", 1, 0, 64, wanted).raw
    for key in [props.get("UNIQ_KEY"), *props.get("KEYS", "").split()]:
        if key:
            hits = [m.commitlog_offset for m in by_encoded.query_by_key("T", key).messages]
            assert hits and hits == [m.commitlog_offset for m in by_put.query_by_key("T", key).messages]


def test_tag_code_override_and_schedule_topic(open_store: OpenStore, clock: FakeClock) -> None:
    store = open_store()
    store.put_encoded("T", 0, b"a", b"TAGS\x01TagA\x02", tag_code=77)
    assert store.get_raw("T", 0, 0, 1, frozenset({77})).message_count == 1
    # SCHEDULE_TOPIC_XXXX: the tag code is the deliver time, as put computes it
    props = {"DELAY": "2", "REAL_TOPIC": "T", "REAL_QID": "0"}
    now = clock.now_ms()
    store.put_encoded(C.SCHEDULE_TOPIC, 1, b"d", encode_properties(props).encode())
    deliver = now + store.config.delay_levels_ms[1]
    assert store.get_raw(C.SCHEDULE_TOPIC, 1, 0, 1, frozenset({deliver})).message_count == 1


def test_errors_as_put_and_nothing_written(open_store: OpenStore) -> None:
    store = open_store(max_message_size=1024)
    before = store.max_phy_offset
    with pytest.raises(MessageTooLargeError):
        store.put_encoded("T", 0, b"x" * 1025, b"")
    with pytest.raises(PropertiesTooLargeError):
        store.put_encoded("T", 0, b"x", b"K\x01" + b"v" * 32767 + b"\x02")
    with pytest.raises(MessageIllegalError):
        store.put_encoded("", 0, b"x", b"")
    with pytest.raises(MessageIllegalError):
        store.put_encoded("T" * 200000, 0, b"x", b"")
    with pytest.raises(MessageIllegalError):
        store.put_encoded("T", -1, b"x", b"")
    with pytest.raises(MessageIllegalError):
        store.put_encoded("T", 0, b"x", b"", born_host=b"\x7f\x00\x00\x01")  # not ip + port
    with pytest.raises(MessageTooLargeError):  # the whole record over max_message_size, as put
        store.put_encoded("T", 0, b"x" * 1000, b"K\x01" + b"v" * 100 + b"\x02")
    assert store.max_phy_offset == before
    assert store.max_offset("T", 0) == 0
    store.close()
    with pytest.raises(StoreClosedError):
        store.put_encoded("T", 0, b"x", b"")


def test_disk_full_is_refused(open_store: OpenStore) -> None:
    store = open_store(disk_usage_probe=lambda path: 0.99)
    result = store.put_encoded("T", 0, b"x", b"")
    assert result.status is PutStatus.DISK_FULL and store.max_phy_offset == 0


def test_listeners_and_transaction_dispatch(open_store: OpenStore) -> None:
    store = open_store()
    seen: list[tuple[str, int, int]] = []
    store.add_dispatch_listener(lambda *a: seen.append(a))
    store.put_encoded("T", 3, b"a", b"UNIQ_KEY\x01U\x02")
    store.put_encoded("T", 3, b"b", b"UNIQ_KEY\x01V\x02")
    half = store.put_encoded("T", 3, b"half", b"", sys_flag=C.TRANSACTION_PREPARED_TYPE)
    assert seen == [("T", 3, 0), ("T", 3, 1)]
    assert half.ok and half.queue_offset == 0 and store.max_offset("T", 3) == 2


def test_sync_flush_waits_for_the_group_commit(open_store: OpenStore, monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_store(flush_disk_type="SYNC_FLUSH")
    result = store.put_encoded("T", 0, b"durable", b"TAGS\x01A\x02")
    assert result.ok and store.flushed_offset >= result.commitlog_offset + result.wrote_bytes
    # a timed-out flush answers FLUSH_DISK_TIMEOUT unless the message says WAIT=false, as put does
    monkeypatch.setattr(store._flusher, "wait_durable", lambda end, timeout: False)
    assert store.put_encoded("T", 0, b"late", b"TAGS\x01A\x02").status is PutStatus.FLUSH_DISK_TIMEOUT
    assert store.put_encoded("T", 0, b"late", b"WAIT\x01false\x02").status is PutStatus.PUT_OK
    put = store.put(MessageExt("T", b"late", properties={"WAIT": "false"}), 0)
    assert put.status is PutStatus.PUT_OK


def test_offset_by_time_boundaries_with_equal_store_times(open_store: OpenStore, clock: FakeClock) -> None:
    """RocketMQ 5.x getOffsetInQueueByTime: LOWER the first of equal store times (else the
    first stored after), UPPER the last (else the last stored before); clamped to [min, max]."""
    store = open_store()
    t0 = clock.now_ms()
    assert store.offset_by_time("T", 0, t0) == store.offset_by_time("T", 0, t0, upper=True) == 0  # unknown queue
    # offsets 0,1,2 at t0; 3,4 at t0+10; 5 at t0+20
    for step in (0, 0, 0, 10, 0, 10):
        clock.advance(step)
        store.put_encoded("T", 0, b"m", b"")
    lower = lambda ts: store.offset_by_time("T", 0, ts)  # noqa: E731
    upper = lambda ts: store.offset_by_time("T", 0, ts, upper=True)  # noqa: E731
    assert (lower(t0), upper(t0)) == (0, 2)
    assert (lower(t0 + 10), upper(t0 + 10)) == (3, 4)
    assert (lower(t0 + 20), upper(t0 + 20)) == (5, 5)
    assert (lower(t0 + 5), upper(t0 + 5)) == (3, 2)  # no exact match: next after / last before
    assert (lower(t0 - 1), upper(t0 - 1)) == (0, 0)  # all stored after: min for both
    assert (lower(t0 + 21), upper(t0 + 21)) == (6, 5)  # all stored before: max / the last one


def test_bytes_like_body_and_properties(open_store: OpenStore) -> None:
    store = open_store()
    a = store.put_encoded("T", 0, b"body", b"TAGS\x01A\x02")
    b = store.put_encoded("T", 0, memoryview(bytearray(b"body")), bytearray(b"TAGS\x01A\x02"))
    first, second = store.get_raw("T", 0, 0, 2).messages
    assert (first.body, first.properties) == (second.body, second.properties) == (b"body", {"TAGS": "A"})
    assert a.wrote_bytes == b.wrote_bytes
