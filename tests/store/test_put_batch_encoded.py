"""put_batch_encoded: a SEND_BATCH body (reference section 4) stored without decoding.

It must store exactly what ``put_batch`` of the decoded messages stores: same record
bytes, queue offsets, tag codes and index keys.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from rmqcore.message import Message, MessageExt, encode_batch_body, tags_code
from rmqcore.store import MessageIllegalError, MessageStore, MissingUniqKeyError

OpenStore = Callable[..., MessageStore]


def _batch(n: int, start: int = 0) -> list[Message]:
    out = []
    for i in range(start, start + n):
        m = Message("T", b"body-%d-" % i * (i % 7 + 1), tags=("标签", "TagA", None)[i % 3], keys=[f"k{i}", "shared"], flag=i)
        m.properties["UNIQ_KEY"] = f"UNIQ{i:04d}"
        out.append(m)
    return out


def test_same_records_as_put_batch(open_store: OpenStore, tmp_path: Path) -> None:
    decoded = open_store(path=tmp_path / "decoded")
    encoded = open_store(path=tmp_path / "encoded")
    born = ("10.1.2.3", 4567)
    for start in range(0, 60, 12):  # 4096-byte files: several rolls and end-of-file blanks
        msgs = _batch(12, start)
        first = msgs[0]
        msgs[0] = MessageExt("T", first.body, flag=first.flag, properties=first.properties, sys_flag=0,
                             born_timestamp=1_600_000_000_123, born_host=born)
        a = decoded.put_batch(msgs, 1)
        b = encoded.put_batch_encoded("T", encode_batch_body(msgs), 1, born_timestamp=1_600_000_000_123, born_host=born)
        assert (a.status, a.commitlog_offsets, a.queue_offset, a.wrote_bytes, a.message_count) == (
            b.status, b.commitlog_offsets, b.queue_offset, b.wrote_bytes, b.message_count)
    assert decoded.max_phy_offset == encoded.max_phy_offset
    assert decoded.get_raw("T", 1, 0, 64).raw == encoded.get_raw("T", 1, 0, 64).raw
    wanted = {tags_code("标签")}
    assert decoded.get_raw("T", 1, 0, 64, wanted).raw == encoded.get_raw("T", 1, 0, 64, wanted).raw
    for key in ("k7", "shared", "UNIQ0031"):
        assert [m.commitlog_offset for m in decoded.query_by_key("T", key).messages] == [
            m.commitlog_offset for m in encoded.query_by_key("T", key).messages
        ]
    assert [m.commitlog_offset for m in encoded.query_by_key("T", "k7").messages] != []


def test_missing_uniq_key_writes_nothing(open_store: OpenStore) -> None:
    store = open_store()
    msgs = _batch(3)
    del msgs[2].properties["UNIQ_KEY"]
    body = encode_batch_body(msgs)
    with pytest.raises(MissingUniqKeyError):
        store.put_batch_encoded("T", body, 0)
    assert (store.max_phy_offset, store.max_offset("T", 0)) == (0, 0)
    assert store.query_by_key("T", "k0").messages == []
    result = store.put_batch_encoded("T", body, 0, require_uniq_key=False)
    assert result.ok and result.message_count == 3
    assert store.max_offset("T", 0) == 3


@pytest.mark.parametrize(
    "mangle",
    [
        lambda b: b[:-1],  # truncated
        lambda b: b"",  # empty
        lambda b: struct.pack(">i", 10) + b[4:],  # TOTALSIZE below the smallest record
        lambda b: b[:16] + struct.pack(">i", 1 << 20) + b[20:],  # body longer than the record
        lambda b: b + b"\x00" * 5,  # trailing bytes that are not a record
    ],
)
def test_malformed_body_writes_nothing(open_store: OpenStore, mangle: Callable[[bytes], bytes]) -> None:
    store = open_store()
    assert store.put(Message("T", b"before"), 0).ok
    end = store.max_phy_offset
    with pytest.raises(MessageIllegalError):
        store.put_batch_encoded("T", mangle(encode_batch_body(_batch(4))), 0)
    assert (store.max_phy_offset, store.max_offset("T", 0)) == (end, 1)
    assert store.put(Message("T", b"after"), 0).commitlog_offset == end


def test_properties_parsed_as_rocketmq_does(open_store: OpenStore) -> None:
    """Empty values are dropped, a later entry wins, the last separator may be missing;
    the property bytes themselves are stored as sent."""
    store = open_store()
    props = "TAGS\x01\x02\x01x\x02TAGS\x01A\x02TAGS\x01B\x02KEYS\x01k1 k2\x02UNIQ_KEY\x01U1".encode()
    body = b"payload"
    record = struct.pack(">iiiii", 20 + len(body) + 2 + len(props), 0, 0, 7, len(body)) + body
    record += struct.pack(">H", len(props)) + props
    result = store.put_batch_encoded("T", record, 0)
    assert result.ok
    [msg] = store.get("T", 0, 0).messages
    assert (msg.body, msg.flag, msg.tags, msg.properties["UNIQ_KEY"]) == (body, 7, "B", "U1")
    assert store.get_raw("T", 0, 0, tag_codes={tags_code("B")}).message_count == 1
    assert store.get_raw("T", 0, 0, tag_codes={tags_code("A")}).message_count == 0
    for key in ("k1", "k2", "U1"):
        assert [m.commitlog_offset for m in store.query_by_key("T", key).messages] == [result.commitlog_offset]
    assert store.look_message_raw(result.commitlog_offset).endswith(struct.pack(">H", len(props)) + props)  # type: ignore[union-attr]
