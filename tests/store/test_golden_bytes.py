"""The C store writes exactly the bytes of reference section 4, checked field by field."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from rmqcore.clock import FakeClock
from rmqcore.message import Message, encode_stored_message, tags_code
from rmqcore.store import MessageStore, StoreConfig


def test_record_bytes_match_hand_encoding(tmp_path: Path) -> None:
    clock = FakeClock(start_ms=1_700_000_000_123)
    config = StoreConfig(mapped_file_size_commit_log=1 << 16, store_host=("10.0.0.7", 10911))
    body = b"hello rocketmq"
    msg = Message("TopicTest", body, tags="TagA", keys="k1", flag=3)
    with MessageStore.open(tmp_path / "s", config, clock=clock) as store:
        store.put(Message("TopicTest", b"first"), 1)  # so the golden record has non-zero offsets
        result = store.put(msg, 1)

    props = "TAGS\x01TagA\x02KEYS\x01k1\x02".encode()
    topic = b"TopicTest"
    ts = 1_700_000_000_123
    host = bytes([10, 0, 0, 7]) + struct.pack(">i", 10911)
    phys = result.commitlog_offset
    # Reference section 4, "Stored message", fields 1-17, one by one:
    fields = [
        struct.pack(">i", 91 + len(body) + len(topic) + len(props)),  # 1 TOTALSIZE
        struct.pack(">I", 0xDAA320A7),  # 2 MAGICCODE V1
        struct.pack(">i", zlib.crc32(body) & 0x7FFFFFFF),  # 3 BODYCRC
        struct.pack(">i", 1),  # 4 QUEUEID
        struct.pack(">i", 3),  # 5 FLAG
        struct.pack(">q", 1),  # 6 QUEUEOFFSET (second message of queue 1)
        struct.pack(">q", phys),  # 7 PHYSICALOFFSET
        struct.pack(">i", 0),  # 8 SYSFLAG
        struct.pack(">q", ts),  # 9 BORNTIMESTAMP (plain Message: now)
        host,  # 10 BORNHOST (plain Message: the store host)
        struct.pack(">q", ts),  # 11 STORETIMESTAMP
        host,  # 12 STOREHOSTADDRESS
        struct.pack(">i", 0),  # 13 RECONSUMETIMES
        struct.pack(">q", 0),  # 14 PreparedTransactionOffset
        struct.pack(">i", len(body)) + body,  # 15 BODY
        bytes([len(topic)]) + topic,  # 16 TOPIC (V1: 1-byte length)
        struct.pack(">h", len(props)) + props,  # 17 PROPERTIES
    ]
    expected = b"".join(fields)
    assert phys == 91 + 5 + len(topic) + 0  # the first record: no properties
    on_disk = (tmp_path / "s" / "commitlog" / ("%020d" % 0)).read_bytes()[phys : phys + len(expected)]
    assert on_disk == expected
    assert result.wrote_bytes == len(expected)
    assert result.msg_id == (bytes([10, 0, 0, 7]) + struct.pack(">iq", 10911, phys)).hex().upper()

    # ConsumeQueue entry 1 (reference section 5): long offset | int size | long tag code
    cq = (tmp_path / "s" / "consumequeue" / "TopicTest" / "1" / ("%020d" % 0)).read_bytes()
    assert cq[20:40] == struct.pack(">qiq", phys, len(expected), tags_code("TagA"))


def test_v2_magic_for_long_topic_and_blank_at_file_end(tmp_path: Path) -> None:
    clock = FakeClock(start_ms=1_000)
    config = StoreConfig(mapped_file_size_commit_log=4096)
    topic = "T" * 200  # over 127 bytes: V2, 2-byte topic length
    with MessageStore.open(tmp_path / "s", config, clock=clock) as store:
        offsets = [store.put(Message(topic, b"x" * 900), 0).commitlog_offset for _ in range(6)]
        look = store.look_message(offsets[-1])
    first = (tmp_path / "s" / "commitlog" / ("%020d" % 0)).read_bytes()
    size = 91 + 1 + 900 + 200
    assert struct.unpack_from(">iI", first, 0) == (size, 0xDAA320AB)
    assert struct.unpack_from(">H", first, 84 + 4 + 900)[0] == 200
    # three records fit (3 * 1192 + 8 <= 4096); the fourth goes to the next file
    assert offsets[:4] == [0, size, 2 * size, 4096]
    remaining = 4096 - 3 * size
    assert struct.unpack_from(">iI", first, 3 * size) == (remaining, 0xCBD43194)
    # the record the C store wrote equals the reference codec's encoding
    second = (tmp_path / "s" / "commitlog" / ("%020d" % 4096)).read_bytes()
    at = offsets[-1] - 4096
    assert encode_stored_message(look) == second[at : at + size]
    assert sorted(p.name for p in (tmp_path / "s" / "commitlog").iterdir())[:2] == ["%020d" % 0, "%020d" % 4096]
