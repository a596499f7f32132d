"""Integer header fields and body numbers follow Java's Integer.parseInt / Long.parseLong, and the
compressed REGISTER_BROKER body is inflated under a cap (fuzz findings, tests/fuzz/test_fuzz_findings.py)."""

from __future__ import annotations

import dataclasses
import json
import struct
import tracemalloc
import unicodedata
import zlib

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from rmqcore.remoting import BodyError, HeaderError, ResponseCode
from rmqcore.remoting._javanum import parse_java_int
from rmqcore.remoting.bodies import DataVersion, RegisterBrokerBody, TopicConfig, TopicConfigSerializeWrapper
from rmqcore.remoting.bodies._base import as_int, as_int32
from rmqcore.remoting.bodies.topic import MAX_INFLATED_REGISTER_BODY
from rmqcore.remoting.headers import (
    REQUEST_HEADER_CLASSES,
    RESPONSE_HEADER_CLASSES,
    CreateTopicRequestHeader,
    ExtHeader,
    RegisterBrokerRequestHeader,
    SendMessageRequestHeader,
    SendMessageRequestHeaderV2,
    UpdateConsumerOffsetRequestHeader,
    decode_request_header,
    decode_send_request_header,
)
from rmqcore.remoting.headers._base import _slow_parse

RANGE = {32: (-(2**31), 2**31 - 1), 64: (-(2**63), 2**63 - 1)}

# -- the Java rules themselves ---------------------------------------------------------------------------------
#: Decimal digits (Unicode Nd) of a few BMP scripts: Java's Character.digit(ch, 10) reads them all.
ND_ZEROS = ["0", "\u0660", "\u06f0", "\u0966", "\u09e6", "\u0e50", "\uff10", "\ua9f0"]
java_digit = st.sampled_from(ND_ZEROS).flatmap(lambda zero: st.integers(0, 9).map(lambda d: chr(ord(zero) + d)))
java_digits = st.lists(java_digit, min_size=1, max_size=25).map("".join)
java_numbers = st.tuples(st.sampled_from(["", "+", "-"]), java_digits).map("".join)


def java_value(text: str) -> int:
    """The model: sign, then the decimal value of each Nd digit."""
    sign = -1 if text[0] == "-" else 1
    body = text[1:] if text[0] in "+-" else text
    value = 0
    for ch in body:
        value = value * 10 + unicodedata.decimal(ch)
    return sign * value


@settings(max_examples=500, deadline=None)
@given(text=java_numbers, bits=st.sampled_from([32, 64]))
def test_any_string_java_accepts_parses_to_the_same_value(text: str, bits: int) -> None:
    value = java_value(text)
    lo, hi = RANGE[bits]
    if lo <= value <= hi:
        assert parse_java_int(text, bits) == value
    else:
        with pytest.raises(ValueError, match="outside the range"):
            parse_java_int(text, bits)


@settings(max_examples=300, deadline=None)
@given(
    text=java_numbers,
    junk=st.sampled_from([" ", "\t", "\n", "\u3000", "\u00a0", "_", ".", "e", "+", "-", "\u00b2", "x", "\U0001d7cf", "\udc00"]),
    where=st.integers(0, 30),
    bits=st.sampled_from([32, 64]),
)
def test_malformed_strings_are_refused(text: str, junk: str, where: int, bits: int) -> None:
    where = min(where, len(text))
    bad = text[:where] + junk + text[where:]
    # A sign is only bad where it is not the single leading sign.
    assume(not (junk in "+-" and where == 0 and text[0] not in "+-"))
    with pytest.raises(ValueError):
        parse_java_int(bad, bits)


# Computed with OpenJDK 17 (Integer.parseInt / Long.parseLong): None = NumberFormatException.
JAVA_GOLDEN: list[tuple[str, int | None, int | None]] = [
    ("0", 0, 0),
    ("-0", 0, 0),
    ("+7", 7, 7),
    ("007", 7, 7),
    ("2147483647", 2147483647, 2147483647),
    ("2147483648", None, 2147483648),
    ("-2147483648", -2147483648, -2147483648),
    ("-2147483649", None, -2147483649),
    ("9223372036854775807", None, 9223372036854775807),
    ("9223372036854775808", None, None),
    ("-9223372036854775808", None, -9223372036854775808),
    ("00000000000000000000000000001", 1, 1),
    ("99999999999999999999999", None, None),
    ("\u0661\u0662", 12, 12),
    ("\uff11\uff10", 10, 10),
    ("", None, None),
    ("-", None, None),
    ("+", None, None),
    ("+-1", None, None),
    ("--1", None, None),
    (" 1", None, None),
    ("1 ", None, None),
    ("1\n", None, None),
    ("1_000", None, None),
    ("1e3", None, None),
    ("1.0", None, None),
    ("0x10", None, None),
    ("\u00b2", None, None),
    ("\U0001d7cf", None, None),
]


@pytest.mark.parametrize(("text", "as_int_", "as_long"), JAVA_GOLDEN)
def test_java_golden_values(text: str, as_int_: int | None, as_long: int | None) -> None:
    for bits, expected in ((32, as_int_), (64, as_long)):
        if expected is None:
            with pytest.raises(ValueError):
                parse_java_int(text, bits)
        else:
            assert parse_java_int(text, bits) == expected


def test_huge_inputs_are_refused_cheaply() -> None:
    with pytest.raises(ValueError, match="outside the range"):
        parse_java_int("9" * 1_000_000, 64)
    assert parse_java_int("0" * 1_000_000 + "5", 32) == 5
    assert parse_java_int("\u0660" * 100_000 + "\u0665", 32) == 5


# -- typed headers --------------------------------------------------------------------------------------------
ALL_HEADERS = REQUEST_HEADER_CLASSES + RESPONSE_HEADER_CLASSES


def _sample(cls: type[ExtHeader]) -> dict[str, str]:
    widths = cls.int_widths()
    values = {}
    for f in dataclasses.fields(cls):
        if f.name in widths:
            values[f.name] = 1
        elif f.default is dataclasses.MISSING:
            values[f.name] = "s"
    return cls(**values).to_ext()  # type: ignore[arg-type]


def _int_keys(cls: type[ExtHeader]) -> list[tuple[str, str, int]]:
    keys = cls.ext_keys()
    return [(name, keys[name], bits) for name, bits in cls.int_widths().items()]


@pytest.mark.parametrize("cls", ALL_HEADERS, ids=lambda c: c.__name__)
def test_every_integer_field_has_its_java_range(cls: type[ExtHeader]) -> None:
    base = _sample(cls)
    for name, key, bits in _int_keys(cls):
        lo, hi = RANGE[bits]
        for good in (lo, hi, 0, -1):
            for value in (str(good), good, float(good) if abs(good) < 2**53 else good):
                assert getattr(cls.from_ext({**base, key: value}), name) == good
        for bad in (str(hi + 1), str(lo - 1), "99999999999999999999999", " 1", "1 ", "1_0", "", "0x1", hi + 1, 1.5, True):
            with pytest.raises(HeaderError) as info:
                cls.from_ext({**base, key: bad})
            assert info.value.key == key
            assert info.value.response_code == ResponseCode.SYSTEM_ERROR
            assert key in info.value.remark
            assert (str(bad) if not isinstance(bad, str) or bad else "''") in info.value.remark or repr(bad) in info.value.remark


def test_widths_follow_the_java_header_classes() -> None:
    v2 = SendMessageRequestHeaderV2.int_widths()
    assert v2 == {"default_topic_queue_nums": 32, "queue_id": 32, "sys_flag": 32, "born_timestamp": 64, "flag": 32,
                  "reconsume_times": 32, "max_reconsume_times": 32}  # fmt: skip
    assert SendMessageRequestHeader.int_widths() == v2
    assert UpdateConsumerOffsetRequestHeader.int_widths() == {"queue_id": 32, "commit_offset": 64}
    assert RegisterBrokerRequestHeader.int_widths() == {"broker_id": 64, "heartbeat_timeout_millis": 64, "body_crc32": 32}
    assert CreateTopicRequestHeader.int_widths() == {"read_queue_nums": 32, "write_queue_nums": 32, "perm": 32, "topic_sys_flag": 32}


def test_a_bare_int_field_is_refused() -> None:
    @dataclasses.dataclass(slots=True)
    class Bare(ExtHeader):
        count: int

    with pytest.raises(TypeError, match="JavaInt or JavaLong"):
        Bare.from_ext({"count": "1"})


def test_the_findings_are_header_errors() -> None:
    beyond = "99999999999999999999999"
    with pytest.raises(HeaderError, match="commitOffset"):
        decode_request_header(15, {"consumerGroup": "G", "topic": "T", "queueId": "0", "commitOffset": beyond})
    with pytest.raises(HeaderError, match="readQueueNums"):
        CreateTopicRequestHeader.from_ext({**CreateTopicRequestHeader("T", "TBW102", 8, 8, 6, "SINGLE_TAG").to_ext(),
                                           "readQueueNums": str(10**23)})  # fmt: skip
    ext = RegisterBrokerRequestHeader("b", "a:1", "c", "a:2", 0).to_ext()
    with pytest.raises(HeaderError, match="brokerId"):
        RegisterBrokerRequestHeader.from_ext({**ext, "brokerId": str(10**20)})
    send = SendMessageRequestHeaderV2("PG", "T", "TBW102", 4, 0, 0, 1700000000000, 0).to_ext()
    for key, value in (("g", beyond), ("f", str(2**63 - 1)), ("h", str(2**31)), ("e", " 1"), ("d", "1_0")):
        with pytest.raises(HeaderError) as info:
            decode_send_request_header(310, {**send, key: value})
        assert info.value.key == key and value in info.value.remark


send_field_values = st.one_of(
    java_numbers,
    st.integers(-(2**64), 2**64).map(str),
    st.text(st.sampled_from("0123456789+-_ \t\u0661\uff11\U0001d7cf"), max_size=22),
    st.integers(-(2**64), 2**64),
)


@settings(max_examples=400, deadline=None)
@given(key=st.sampled_from("defghjl"), value=send_field_values)
def test_generated_reader_agrees_with_the_reference(key: str, value: object) -> None:
    """The compiled fast reader and ``_slow_parse`` give the same header or both raise."""
    ext = {**SendMessageRequestHeaderV2("PG", "T", "TBW102", 4, 0, 0, 1700000000000, 0).to_ext(), key: value}
    try:
        expected: object = _slow_parse(SendMessageRequestHeader, SendMessageRequestHeaderV2, ext)
    except HeaderError as exc:
        expected = ("error", exc.key)
    try:
        got: object = decode_send_request_header(310, ext)
    except HeaderError as exc:
        got = ("error", exc.key)
    assert got == expected


# -- JSON bodies ----------------------------------------------------------------------------------------------
def test_body_numbers_are_range_checked() -> None:
    assert as_int(2**63 - 1) == 2**63 - 1 and as_int32("-2147483648") == -(2**31)
    for bad in (2**63, "1 ", "1_0", True, 1.5, None, [1]):
        with pytest.raises(ValueError):
            as_int(bad)
    with pytest.raises(ValueError):
        as_int32(2**31)
    good = TopicConfig("T", 4, 4).to_json()
    with pytest.raises(BodyError, match="readQueueNums|outside"):
        TopicConfig.decode(json.dumps({**good, "readQueueNums": 10**23}).encode())
    with pytest.raises(BodyError):
        DataVersion.decode(b'{"stateVersion":0,"timestamp":99999999999999999999999,"counter":1}')
    with pytest.raises(BodyError):
        TopicConfig.decode_text("T 99999999999 8 6 SINGLE_TAG {}")
    with pytest.raises(BodyError):
        TopicConfig.decode_text("T 8_0 8 6 SINGLE_TAG {}")


# -- the compressed REGISTER_BROKER body ----------------------------------------------------------------------
def _parts(*chunks: bytes | int) -> bytes:
    out = b""
    for c in chunks:
        out += struct.pack(">i", c) if isinstance(c, int) else struct.pack(">i", len(c)) + c
    return out


DV = DataVersion(0, 1, 1).encode()


def test_a_zlib_bomb_is_not_inflated_whole() -> None:
    bomb = zlib.compress(bytes(64 * 1024 * 1024), 9)
    tracemalloc.start()
    try:
        with pytest.raises(BodyError):
            RegisterBrokerBody.decode(bomb, compressed=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * 1024 * 1024, peak


def test_inflating_past_the_cap_is_refused() -> None:
    topics = [f"T{i} 8 8 6 SINGLE_TAG {{}}".encode() for i in range(20_000)]
    raw = _parts(DV, len(topics), *topics, b"[]", 0)
    body = zlib.compress(raw, 9)
    assert len(RegisterBrokerBody.decode(body, compressed=True).topic_config_serialize_wrapper.topic_config_table) == 20_000
    assert len(raw) < MAX_INFLATED_REGISTER_BODY
    with pytest.raises(BodyError, match="inflates past"):
        RegisterBrokerBody.decode(body, compressed=True, max_inflated=len(raw) - 100)
    assert RegisterBrokerBody.decode(body, compressed=True, max_inflated=len(raw)) == RegisterBrokerBody.decode(body, compressed=True)


def test_an_impossible_length_stops_the_read() -> None:
    # A topic text length of 2 GiB - 1 after a valid data version: refused at once, nothing inflated past it.
    body = zlib.compress(_parts(DV, 1, 0x7FFFFFFF) + bytes(32 * 1024 * 1024), 9)
    tracemalloc.start()
    try:
        with pytest.raises(BodyError, match="bad length 2147483647"):
            RegisterBrokerBody.decode(body, compressed=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * 1024 * 1024, peak
    for raw in (_parts(DV, -1), _parts(DV, 1) + struct.pack(">i", -5), _parts(DV, 0x7FFFFFFF)):
        with pytest.raises(BodyError, match="bad length"):
            RegisterBrokerBody.decode(zlib.compress(raw), compressed=True)


def test_truncated_and_corrupt_streams() -> None:
    good = RegisterBrokerBody(TopicConfigSerializeWrapper({"T": TopicConfig("T", 4, 4)}, DataVersion(0, 5, 1)))
    body = good.encode(compressed=True)
    assert RegisterBrokerBody.decode(body, compressed=True) == good
    assert RegisterBrokerBody.decode(memoryview(body), compressed=True) == good
    with pytest.raises(BodyError):
        RegisterBrokerBody.decode(body[: len(body) // 2], compressed=True)
    with pytest.raises(BodyError, match="truncated"):
        RegisterBrokerBody.decode(zlib.compress(_parts(DV, 2, b"T 8 8 6 SINGLE_TAG {}")), compressed=True)
    with pytest.raises(BodyError, match="Deflater"):
        RegisterBrokerBody.decode(b"\x78\x9c" + bytes(range(200)), compressed=True)
    # 4.x bodies end after the filter server list; 5.x add the mapping count.
    assert RegisterBrokerBody.decode(zlib.compress(_parts(DV, 0, b"[]")), compressed=True).filter_server_list == []
