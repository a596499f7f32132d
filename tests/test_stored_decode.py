"""The C decoder of stored records (csrc/stored_decode.c) against the pure-Python one.

``decode_stored_messages`` uses the C extension; ``decode_stored_messages_py`` is the
interpreter's reference. Both must give the same messages, attribute for attribute (the
property order included), stop at the same record, and raise the same errors, on any
buffer: well-formed records of every kind, and records with odd property strings, invalid
UTF-8, wrong lengths, truncation and random damage.
"""

from __future__ import annotations

import gc
import struct
import tracemalloc
import zlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rmqcore.message import MessageExt, codec, decode_stored_messages, encode_stored_message
from rmqcore.message import constants as C
from rmqcore.message.codec import decode_stored_messages_py

pytestmark = pytest.mark.skipif(codec._decode_into is None, reason="the C decoder is not built")

_FIELDS = (
    "topic", "body", "flag", "transaction_id", "queue_id", "queue_offset", "commitlog_offset", "sys_flag",
    "born_timestamp", "born_host", "store_timestamp", "store_host", "reconsume_times",
    "prepared_transaction_offset", "body_crc", "store_size", "offset_msg_id", "broker_name",
)  # fmt: skip


def fields(msg: MessageExt) -> tuple[Any, ...]:
    return (*(getattr(msg, name) for name in _FIELDS), list(msg.properties.items()), type(msg))


def outcome(decode: Any, buf: bytes) -> tuple[str, Any]:
    try:
        return "ok", [fields(m) for m in decode(buf)]
    except Exception as exc:  # the same exception type is what must match
        return "raised", type(exc)


def assert_same(buf: bytes) -> None:
    assert outcome(decode_stored_messages, buf) == outcome(decode_stored_messages_py, buf)


def raw_record(
    *,
    body: bytes,
    topic: bytes,
    props: bytes,
    magic: int = C.MESSAGE_MAGIC_CODE_V1,
    sys_flag: int = 0,
    ints: tuple[int, ...] = (0, 0, 0, 0, 0, 0, 0),
    longs: tuple[int, ...] = (0, 0, 0, 0, 0),
    hosts: tuple[int, int] = (0x7F00000100001234, 0x0A00000100002A9F),
    total_delta: int = 0,
) -> bytes:
    """A record laid out as section 4 (IPv4 hosts), from raw parts; lengths may be made wrong."""
    crc, queue_id, flag, reconsume, *_ = ints
    queue_offset, phys, born_ts, store_ts, prepared = longs
    v2 = magic == C.MESSAGE_MAGIC_CODE_V2
    head = struct.pack(">iiiiiqqiqQqQiqi", 0, magic, crc, queue_id, flag, queue_offset, phys, sys_flag, born_ts,
                       hosts[0], store_ts, hosts[1], reconsume, prepared, len(body))  # fmt: skip
    topic_len = struct.pack(">H", len(topic)) if v2 else bytes((len(topic) & 0xFF,))
    rec = head + body + topic_len + topic + struct.pack(">H", len(props) & 0xFFFF) + props
    return struct.pack(">i", len(rec) + total_delta) + rec[4:]


prop_text = st.lists(
    st.tuples(st.text(min_size=0, max_size=10), st.sampled_from(["\x01", "", "\x01\x01"]), st.text(max_size=40),
              st.sampled_from(["\x02", "", "\x02\x02"])),  # fmt: skip
    max_size=6,
).map(lambda items: "".join(k + s + v + e for k, s, v, e in items))
# Mostly the shapes real producers send, so that the caches and their hits are exercised.
common_props = st.builds(
    lambda tag, uniq, extra: f"TAGS\x01{tag}\x02UNIQ_KEY\x01{uniq}\x02WAIT\x01true\x02{extra}",
    st.sampled_from(["TagA", "TagB", "标签"]),
    st.text(alphabet="0123456789ABCDEF", min_size=0, max_size=32),
    st.sampled_from(["", "KEYS\x01k1 k2\x02", "CLUSTER\x01DefaultCluster\x02", "UNIQ_KEY\x01again\x02", "a\x01b"]),
)
props_bytes = st.one_of(
    common_props.map(str.encode),
    prop_text.map(str.encode),
    st.binary(max_size=40),  # invalid UTF-8 included
)
topic_bytes = st.one_of(
    st.sampled_from([b"TopicTest", b"%RETRY%group", "主题".encode()]),
    st.text(max_size=20).map(str.encode),
    st.binary(max_size=20),
)
i32 = st.integers(-(2**31), 2**31 - 1)
i64 = st.integers(-(2**63), 2**63 - 1)
u64 = st.integers(0, 2**64 - 1)


@st.composite
def records(draw: Any) -> bytes:
    kind = draw(st.sampled_from(["raw", "raw", "raw", "encoded"]))
    if kind == "encoded":  # the codec's own encoder: V2, IPv6, compressed bodies
        msg = MessageExt(
            draw(st.sampled_from(["T", "x" * 130])),
            draw(st.binary(max_size=64)),
            properties=draw(st.dictionaries(st.sampled_from(["TAGS", "KEYS", "UNIQ_KEY", "a"]), st.text(min_size=1, max_size=8), max_size=3)),
            queue_id=draw(st.integers(0, 7)),
            queue_offset=draw(st.integers(0, 2**40)),
            born_host=draw(st.sampled_from([("127.0.0.1", 1), ("::1", 2), ("10.1.2.3", 65535)])),
            store_host=draw(st.sampled_from([("127.0.0.1", 10911), ("fe80::1", 9)])),
        )
        if draw(st.booleans()):
            msg.body = zlib.compress(msg.body)
            msg.sys_flag |= C.COMPRESSED_FLAG
        return encode_stored_message(msg)
    return raw_record(
        body=draw(st.binary(max_size=64)),
        topic=draw(topic_bytes),
        props=draw(props_bytes),
        magic=draw(st.sampled_from([C.MESSAGE_MAGIC_CODE_V1] * 6 + [C.MESSAGE_MAGIC_CODE_V2, C.BLANK_MAGIC_CODE, 12345])),
        sys_flag=draw(st.sampled_from([0, 0, 0, C.COMPRESSED_FLAG, C.BORNHOST_V6_FLAG, 0x8, 0x4 | 0x8]) | i32),
        ints=tuple(draw(st.lists(i32, min_size=7, max_size=7))),
        longs=tuple(draw(st.lists(i64, min_size=5, max_size=5))),
        hosts=(draw(u64), draw(u64)),
        total_delta=draw(st.sampled_from([0] * 8 + [-1, 1, -40, 7])),
    )


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(records(), max_size=6), st.data())
def test_c_and_python_decoders_agree(recs: list[bytes], data: st.DataObject) -> None:
    buf = b"".join(recs)
    assert_same(buf)
    if buf:  # and on the same buffer cut short or damaged
        assert_same(buf[: data.draw(st.integers(0, len(buf) - 1))])
        pos = data.draw(st.integers(0, len(buf) - 1))
        damaged = bytearray(buf)
        damaged[pos] = data.draw(st.integers(0, 255))
        assert_same(bytes(damaged))


def test_agree_on_a_producers_pull_body() -> None:
    """The common case, end to end: 32 records of one producer, one UNIQ_KEY each."""
    recs = []
    for i in range(32):
        m = MessageExt("PullT", b"x" * 128, properties={"TAGS": "TagA", "UNIQ_KEY": "%032X" % i, "WAIT": "true"},
                       queue_id=1, queue_offset=i, commitlog_offset=309 * i, born_host=("127.0.0.1", 5555),
                       store_host=("10.0.0.7", 10911))  # fmt: skip
        recs.append(encode_stored_message(m))
    buf = b"".join(recs)
    msgs = decode_stored_messages(buf)
    assert [m.queue_offset for m in msgs] == list(range(32))
    assert msgs[5].properties == {"TAGS": "TagA", "UNIQ_KEY": "%032X" % 5, "WAIT": "true"}
    assert msgs[5].store_host == ("10.0.0.7", 10911) and msgs[5].born_host == ("127.0.0.1", 5555)
    assert outcome(decode_stored_messages, buf) == outcome(decode_stored_messages_py, buf)
    # decoded messages are ordinary objects: writable, collectable
    msgs[0].properties["X"] = "1"
    msgs[0].topic = "other"
    assert gc.is_tracked(msgs[0])


def test_decoding_does_not_leak() -> None:
    buf = b"".join(
        raw_record(body=b"b" * 100, topic=b"LeakT", props=f"TAGS\x01A\x02UNIQ_KEY\x01{i:032X}\x02".encode(), longs=(i, 0, 0, 0, 0))
        for i in range(32)
    ) + raw_record(body=b"", topic=b"LeakT", props=b"\xff\xfe", magic=C.MESSAGE_MAGIC_CODE_V1)  # fmt: skip
    for _ in range(200):  # caches and free lists settle
        decode_stored_messages(buf)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(2000):
            decode_stored_messages(buf)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 64 * 1024, f"{grown} bytes still held after decoding 64,000 records"


def test_only_slotted_message_classes_are_filled() -> None:
    class WithDict(MessageExt):
        pass  # no __slots__: instances have a __dict__

    with pytest.raises(TypeError, match="__slots__"):
        codec._decode_into(b"", 0, WithDict, [])  # type: ignore[misc]


def test_a_record_that_is_not_utf8_does_not_stop_the_rest() -> None:
    """Topic or property bytes that are not UTF-8 decode with U+FFFD (Java's new String),
    and the records after it are still delivered."""
    good = raw_record(body=b"ok", topic=b"T", props=b"TAGS\x01A\x02")
    bad = raw_record(body=b"bad", topic=b"T\xff", props=b"TAGS\x01\xc3(\x02UNIQ_KEY\x01u1\x02")
    for decode in (decode_stored_messages, decode_stored_messages_py):
        msgs = decode(good + bad + good)
        assert [m.body for m in msgs] == [b"ok", b"bad", b"ok"]
        assert msgs[1].topic == "T\ufffd"
        assert msgs[1].properties == {"TAGS": "\ufffd(", "UNIQ_KEY": "u1"}


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(common_props, prop_text), min_size=1, max_size=8))
def test_shape_cached_property_decode_matches_the_plain_one(texts: list[str]) -> None:
    from rmqcore.message.properties import decode_properties, decode_properties_cached

    for text in texts + texts:  # the second pass hits the shapes the first one cached
        assert list(decode_properties_cached(text).items()) == list(decode_properties(text).items())


@pytest.mark.usefixtures("collector_at_threshold_one")
def test_collections_during_decoding_do_not_disturb_it() -> None:
    """A garbage collection started by an allocation mid-decode may run finalizers that
    decode too; every call keeps its own class and slot layout."""
    body = b"".join(
        raw_record(body=b"x" * 20, topic=b"GcT", props=f"TAGS\x01A\x02UNIQ_KEY\x01{i:032X}\x02".encode(), longs=(i, 0, 0, 0, 0))
        for i in range(64)
    )
    expected = [fields(m) for m in decode_stored_messages_py(body)]
    seen: list[Any] = []

    class Cycle:
        def __del__(self) -> None:
            seen.append([fields(m) for m in decode_stored_messages(body[:1000])])

    for _ in range(100):
        cycle = Cycle()
        cycle.me = cycle  # type: ignore[attr-defined]
        del cycle
        assert [fields(m) for m in decode_stored_messages(body)] == expected
    gc.collect()
    assert seen and all(got == [fields(m) for m in decode_stored_messages_py(body[:1000])] for got in seen)
