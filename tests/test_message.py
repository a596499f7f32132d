"""The shared message model: property codec, stored-record codec, ids, Java hash."""

from __future__ import annotations

import struct
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rmqcore.message import (
    Message,
    MessageDecodeError,
    MessageError,
    MessageExt,
    MessageIdError,
    MessageQueue,
    UniqKeyGenerator,
    constants as C,
    create_offset_message_id,
    decode_batch_body,
    decode_offset_message_id,
    decode_properties,
    decode_stored_message,
    decode_stored_messages,
    encode_batch_body,
    encode_properties,
    encode_stored_message,
    java_string_hash,
    stored_size,
    tags_code,
)

# Reference section 5, table of Java String.hashCode examples.
JAVA_HASHES = [
    ("TagA", 2598919),
    ("TagB", 2598920),
    ("TagC", 2598921),
    ("*", 42),
    ("", 0),
    ("a", 97),
    ("TAG_FOR_TEST_ESTIMATE", -1240328294),
    ("tags0", 110120759),
    ("标签", 857175),
    ("Tâg", 87833),
    ("😀", 1772899),
    ("TagA || TagB", 1359775119),
    ("polygenelubricants", -2147483648),
]


@pytest.mark.parametrize(("text", "expected"), JAVA_HASHES)
def test_java_string_hash_matches_reference_table(text: str, expected: int) -> None:
    assert java_string_hash(text) == expected


def test_tags_code_of_missing_tag_is_zero() -> None:
    assert tags_code(None) == 0
    assert tags_code("") == 0
    assert tags_code("TagA") == 2598919


def test_properties_round_trip_and_drop_empty_entries() -> None:
    props = {"TAGS": "TagA", "KEYS": "k1 k2", "a": "标签"}
    text = encode_properties(props)
    assert text == "TAGS\x01TagA\x02KEYS\x01k1 k2\x02a\x01标签\x02"
    assert decode_properties(text) == props
    # Section 4: entries with an empty key or an empty value are dropped.
    assert decode_properties("\x01v\x02k\x01\x02x\x01y\x02") == {"x": "y"}
    assert decode_properties("") == {}


@given(
    st.dictionaries(
        st.text(st.characters(blacklist_characters="\x01\x02", blacklist_categories=("Cs",)), min_size=1),
        st.text(st.characters(blacklist_characters="\x01\x02", blacklist_categories=("Cs",)), min_size=1),
        max_size=8,
    )
)
def test_properties_round_trip_property(props: dict[str, str]) -> None:
    assert decode_properties(encode_properties(props)) == props


def test_message_attributes_live_in_properties() -> None:
    m = Message("T", b"x", tags="TagA", keys=["k1", "k2"])
    m.delay_level = 3
    m.deliver_time_ms = 1234
    assert m.properties == {"TAGS": "TagA", "KEYS": "k1 k2", "DELAY": "3", "TIMER_DELIVER_MS": "1234"}
    assert m.keys == ["k1", "k2"]
    m.delay_level = 0
    assert "DELAY" not in m.properties
    m.wait_store_msg_ok = False
    assert m.properties["WAIT"] == "false" and not m.wait_store_msg_ok
    with pytest.raises(MessageError):
        m.put_user_property("UNIQ_KEY", "x")
    with pytest.raises(MessageError):
        m.put_user_property("a", "")
    m.put_user_property("baiLi", "3")
    assert m.get_user_property("baiLi") == "3"


def _hand_encoded_record() -> tuple[bytes, MessageExt]:
    """A V1 IPv4 record laid out field by field from reference section 4."""
    body = b"hello"
    topic = b"TopicTest"
    props = b"TAGS\x01TagA\x02"
    total = 91 + len(body) + len(topic) + len(props)
    raw = b"".join(
        [
            struct.pack(">i", total),
            bytes.fromhex("DAA320A7"),
            struct.pack(">i", zlib.crc32(body) & 0x7FFFFFFF),
            struct.pack(">i", 3),  # queue id
            struct.pack(">i", 7),  # flag
            struct.pack(">q", 42),  # queue offset
            struct.pack(">q", 4096),  # physical offset
            struct.pack(">i", 0),  # sys flag
            struct.pack(">q", 1_700_000_000_000),  # born timestamp
            bytes([10, 0, 0, 1]) + struct.pack(">i", 5555),
            struct.pack(">q", 1_700_000_000_123),  # store timestamp
            bytes([127, 0, 0, 1]) + struct.pack(">i", 10911),
            struct.pack(">i", 2),  # reconsume times
            struct.pack(">q", 0),  # prepared transaction offset
            struct.pack(">i", len(body)) + body,
            bytes([len(topic)]) + topic,
            struct.pack(">h", len(props)) + props,
        ]
    )
    msg = MessageExt(
        "TopicTest",
        body,
        tags="TagA",
        flag=7,
        queue_id=3,
        queue_offset=42,
        commitlog_offset=4096,
        born_timestamp=1_700_000_000_000,
        born_host=("10.0.0.1", 5555),
        store_timestamp=1_700_000_000_123,
        store_host=("127.0.0.1", 10911),
        reconsume_times=2,
    )
    return raw, msg


def test_stored_record_golden_bytes() -> None:
    raw, msg = _hand_encoded_record()
    assert len(raw) == stored_size(9, 5, 10)
    assert encode_stored_message(msg) == raw
    decoded, size = decode_stored_message(raw)
    assert size == len(raw)
    assert decoded.topic == "TopicTest" and decoded.body == b"hello" and decoded.tags == "TagA"
    assert (decoded.queue_id, decoded.queue_offset, decoded.commitlog_offset) == (3, 42, 4096)
    assert decoded.born_host == ("10.0.0.1", 5555) and decoded.store_host == ("127.0.0.1", 10911)
    assert decoded.reconsume_times == 2 and decoded.flag == 7
    assert decoded.offset_msg_id == create_offset_message_id(("127.0.0.1", 10911), 4096)
    assert decoded.msg_id == decoded.offset_msg_id  # no UNIQ_KEY


def test_v2_record_for_long_topic_and_ipv6_hosts() -> None:
    topic = "t" * 200
    msg = MessageExt(topic, b"b", born_host=("::1", 1), store_host=("fe80::1", 2), commitlog_offset=9)
    raw = encode_stored_message(msg)
    assert struct.unpack_from(">i", raw, 4)[0] == C.MESSAGE_MAGIC_CODE_V2
    decoded, _ = decode_stored_message(raw)
    assert decoded.topic == topic
    assert decoded.born_host == ("::1", 1) and decoded.store_host == ("fe80::1", 2)
    assert decoded.sys_flag & (C.BORNHOST_V6_FLAG | C.STOREHOSTADDRESS_V6_FLAG) == 0x30
    assert len(decoded.offset_msg_id) == 56


def test_compressed_body_is_inflated_and_flag_cleared() -> None:
    payload = b"x" * 5000
    msg = MessageExt("T", zlib.compress(payload), sys_flag=C.COMPRESSED_FLAG | C.COMPRESSION_ZLIB_TYPE)
    decoded, _ = decode_stored_message(encode_stored_message(msg))
    assert decoded.body == payload
    assert not decoded.sys_flag & C.COMPRESSED_FLAG


def test_decode_stops_at_bad_record_and_reports_errors() -> None:
    raw, _ = _hand_encoded_record()
    assert len(decode_stored_messages(raw + raw + b"\x00" * 10)) == 2
    with pytest.raises(MessageDecodeError, match="bad magic"):
        decode_stored_message(raw[:4] + b"\0\0\0\0" + raw[8:])
    with pytest.raises(MessageDecodeError, match="truncated"):
        decode_stored_message(raw[:20])
    with pytest.raises(MessageDecodeError, match="claims"):
        decode_stored_message(raw[:-1])


@given(
    topic=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=150),
    body=st.binary(max_size=300),
    tags=st.none() | st.text(st.characters(blacklist_characters="\x01\x02", blacklist_categories=("Cs",)), min_size=1, max_size=20),
    queue_offset=st.integers(0, 2**62),
    phys=st.integers(0, 2**62),
)
def test_stored_record_round_trip(topic: str, body: bytes, tags: str | None, queue_offset: int, phys: int) -> None:
    msg = MessageExt(topic, body, tags=tags, queue_offset=queue_offset, commitlog_offset=phys)
    decoded, size = decode_stored_message(encode_stored_message(msg))
    assert (decoded.topic, decoded.body, decoded.tags) == (topic, body, tags)
    assert (decoded.queue_offset, decoded.commitlog_offset, decoded.store_size) == (queue_offset, phys, size)


def test_batch_body_round_trip() -> None:
    msgs = [Message("T", b"a" * i, tags=f"Tag{i}", flag=i) for i in range(5)]
    body = encode_batch_body(msgs)
    # Section 4: first record is TOTALSIZE | MAGIC 0 | CRC 0 | FLAG | bodyLen | body | propLen | props.
    assert struct.unpack_from(">iiiii", body, 0) == (22 + 0 + len(b"TAGS\x01Tag0\x02"), 0, 0, 0, 0)
    assert decode_batch_body("T", body) == msgs
    with pytest.raises(MessageDecodeError):
        decode_batch_body("T", body[:-3])


def test_offset_message_id_round_trip_and_errors() -> None:
    mid = create_offset_message_id(("192.168.0.7", 10911), 123456789)
    assert mid == "C0A800070000 2A9F00000000075BCD15".replace(" ", "")
    assert decode_offset_message_id(mid) == (("192.168.0.7", 10911), 123456789)
    with pytest.raises(MessageIdError):
        decode_offset_message_id("ABC")
    with pytest.raises(MessageIdError):
        decode_offset_message_id("Z" * 32)


def test_uniq_keys_are_unique_and_shaped_like_java() -> None:
    gen = UniqKeyGenerator(ip=bytes([127, 0, 0, 1]), pid=0x1234, instance_hash=0x01020304)
    keys = [gen.next_id() for _ in range(10_000)]
    assert len(set(keys)) == len(keys)
    assert all(len(k) == 32 and k.startswith("7F000001" "1234" "01020304") for k in keys)


def test_message_queue_orders_like_rocketmq() -> None:
    queues = [MessageQueue("b", "x", 0), MessageQueue("a", "y", 2), MessageQueue("a", "y", 1), MessageQueue("a", "x", 9)]
    assert sorted(queues) == [
        MessageQueue("a", "x", 9),
        MessageQueue("a", "y", 1),
        MessageQueue("a", "y", 2),
        MessageQueue("b", "x", 0),
    ]
    assert MessageQueue.from_json(queues[0].to_json()) == queues[0]


_record_fields = st.fixed_dictionaries(
    {
        "topic": st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=140),
        "body": st.binary(max_size=200),
        "properties": st.dictionaries(
            st.text(st.characters(blacklist_characters="\x01\x02", blacklist_categories=("Cs",)), min_size=1, max_size=8),
            st.text(st.characters(blacklist_characters="\x01\x02", blacklist_categories=("Cs",)), min_size=1, max_size=12),
            max_size=4,
        ),
        "flag": st.integers(-(2**31), 2**31 - 1),
        "queue_id": st.integers(-(2**31), 2**31 - 1),
        "queue_offset": st.integers(-(2**63), 2**63 - 1),
        "commitlog_offset": st.integers(-(2**63), 2**63 - 1),
        "sys_flag": st.sampled_from([0, C.MULTI_TAGS_FLAG, C.TRANSACTION_PREPARED_TYPE, C.COMPRESSED_FLAG]),
        "born_timestamp": st.integers(0, 2**62),
        "born_host": st.sampled_from([("10.0.0.1", 5555), ("127.0.0.1", -1), ("::1", 7), ("255.255.255.255", 2**31 - 1)]),
        "store_host": st.sampled_from([("127.0.0.1", 10911), ("192.168.0.7", -(2**31)), ("fe80::1", 2)]),
        "reconsume_times": st.integers(-(2**31), 2**31 - 1),
        "prepared_transaction_offset": st.integers(-(2**63), 2**63 - 1),
    }
)


@given(records=st.lists(_record_fields, max_size=6), tail=st.sampled_from([b"", b"\x00" * 10, b"\x00" * 100, b"\xff" * 90]))
def test_decode_stored_messages_matches_the_record_by_record_decoder(records: list[dict], tail: bytes) -> None:
    """The inline fast path (V1, IPv4, uncompressed) decodes exactly what decode_stored_message does,
    every attribute, and stops at the same place."""
    raw = b""
    for fields in records:
        msg = MessageExt(**fields)
        if fields["sys_flag"] & C.COMPRESSED_FLAG:
            msg.body = zlib.compress(msg.body)
        raw += encode_stored_message(msg)
    raw += tail
    expected = []
    pos = 0
    while pos < len(raw):
        try:
            msg, size = decode_stored_message(raw, pos)
        except MessageDecodeError:
            break
        expected.append(msg)
        pos += size
    for buf in (raw, bytearray(raw), memoryview(raw)):
        decoded = decode_stored_messages(buf)
        assert len(decoded) == len(expected)
        for got, want in zip(decoded, expected):
            for name in [s.lstrip("_") for s in MessageExt.__slots__ + Message.__slots__]:
                assert getattr(got, name) == getattr(want, name), name
            assert type(got.body) is bytes
    assert decode_stored_messages(raw, decompress=False)[: len(records)] == [
        decode_stored_message(raw, p, decompress=False)[0] for p in _record_starts(raw, len(expected))
    ]


def _record_starts(raw: bytes, n: int) -> list[int]:
    starts, pos = [], 0
    for _ in range(n):
        starts.append(pos)
        pos += struct.unpack_from(">i", raw, pos)[0]
    return starts


def test_decode_stored_messages_stops_at_a_record_that_runs_past_its_length() -> None:
    raw, _ = _hand_encoded_record()
    broken = bytearray(raw)
    struct.pack_into(">i", broken, 84, 10_000)  # body length past the record
    assert len(decode_stored_messages(raw + bytes(broken) + raw)) == 1
    struct.pack_into(">i", broken, 84, 5)
    broken[-12] = 200  # property length byte: runs past the record
    assert len(decode_stored_messages(raw + bytes(broken))) == 1


def test_decoded_hosts_and_offset_id_read_like_plain_attributes() -> None:
    import copy
    import pickle

    raw, expected = _hand_encoded_record()
    (msg,) = decode_stored_messages(raw)
    clone = copy.copy(msg)
    assert pickle.loads(pickle.dumps(msg)) == msg == clone
    assert (msg.born_host, msg.store_host) == (("10.0.0.1", 5555), ("127.0.0.1", 10911))
    assert msg.offset_msg_id == create_offset_message_id(("127.0.0.1", 10911), 4096) == clone.offset_msg_id
    msg.store_host = ("10.1.1.1", 1)
    msg.offset_msg_id = None
    assert (msg.store_host, msg.offset_msg_id, msg.msg_id) == (("10.1.1.1", 1), None, None)
    assert clone.store_host == ("127.0.0.1", 10911)
    assert "offset_msg_id" not in MessageExt.__slots__ and MessageExt("T").offset_msg_id is None
