"""Byte codecs for messages: the stored-message record and the batch-send body.

The stored record (reference section 4, "Stored message") is at once the CommitLog
record, the per-message format of PULL/VIEW/QUERY bodies and of the
CHECK_TRANSACTION_STATE body. This is the pure-Python codec; the store's hot
path encodes the same bytes in C (csrc/commitlog.c) and is tested against this.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Iterable, Iterator

from rmqcore.message import constants as C
from rmqcore.message.ids import Host, pack_ip, unpack_ip
from rmqcore.message.model import Message, MessageExt
from rmqcore.message.properties import decode_properties, decode_properties_cached, encode_properties

# Fields 1-9 of section 4: total, magic, bodyCRC, queueId, flag, queueOffset,
# physicalOffset, sysFlag, bornTimestamp.
_HEAD = struct.Struct(">iiiiiqqiq")
# IPv4 fast path for fields 10-15: bornHost ip+port, storeTimestamp, storeHost ip+port,
# reconsumeTimes, preparedTransactionOffset, and the body length.
_HOSTS_V4_BODY_LEN = struct.Struct(">4siq4siiqi")
_new_message_ext = object.__new__
_I32 = struct.Struct(">i")
_I16 = struct.Struct(">h")
_U16 = struct.Struct(">H")
_Q = struct.Struct(">q")
_PORT_OFFSET = struct.Struct(">iq")

HEAD_SIZE = _HEAD.size  # 48
# Offsets of fields in an IPv4 record (reference section 4 lists the same positions).
POS_MAGIC = 4
POS_BODY_CRC = 8
POS_QUEUE_ID = 12
POS_FLAG = 16
POS_QUEUE_OFFSET = 20
POS_PHYSICAL_OFFSET = 28
POS_SYS_FLAG = 36
POS_BORN_TIMESTAMP = 40
POS_BORN_HOST = 48
POS_STORE_TIMESTAMP = 56


class MessageDecodeError(ValueError):
    """Bytes that are not a well-formed stored-message record."""


def body_crc32(body: bytes) -> int:
    """``UtilAll.crc32``: CRC32 of the body with the sign bit cleared."""
    return zlib.crc32(body) & 0x7FFFFFFF


def stored_size(topic_len: int, body_len: int, props_len: int, sys_flag: int = 0, v2: bool = False) -> int:
    """Record length for the given field sizes (91 bytes of overhead for V1 + IPv4)."""
    born = 20 if sys_flag & C.BORNHOST_V6_FLAG else 8
    store = 20 if sys_flag & C.STOREHOSTADDRESS_V6_FLAG else 8
    return 4 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + 8 + born + 8 + store + 4 + 8 + 4 + body_len + (2 if v2 else 1) + topic_len + 2 + props_len


def _host_bytes(host: Host) -> bytes:
    return pack_ip(host[0]) + _I32.pack(host[1])


def encode_stored_message(msg: MessageExt, *, v2: bool | None = None) -> bytes:
    """Encode ``msg`` as a stored record using the fields already on it.

    ``v2`` picks the 2-byte topic length (magic V2); by default it is used only
    for topics longer than 127 bytes (``autoMessageVersionOnTopicLen``).
    """
    topic = msg.topic.encode("utf-8")
    props = encode_properties(msg.properties).encode("utf-8")
    if v2 is None:
        v2 = len(topic) > C.MAX_V1_TOPIC_LENGTH
    sys_flag = msg.sys_flag
    born = _host_bytes(msg.born_host)
    store = _host_bytes(msg.store_host)
    if len(born) == 20:
        sys_flag |= C.BORNHOST_V6_FLAG
    if len(store) == 20:
        sys_flag |= C.STOREHOSTADDRESS_V6_FLAG
    body = msg.body
    total = stored_size(len(topic), len(body), len(props), sys_flag, v2)
    out = bytearray()
    out += _HEAD.pack(
        total,
        C.MESSAGE_MAGIC_CODE_V2 if v2 else C.MESSAGE_MAGIC_CODE_V1,
        body_crc32(body),
        msg.queue_id,
        msg.flag,
        msg.queue_offset,
        msg.commitlog_offset,
        sys_flag,
        msg.born_timestamp,
    )
    out += born
    out += _Q.pack(msg.store_timestamp)
    out += store
    out += _I32.pack(msg.reconsume_times)
    out += _Q.pack(msg.prepared_transaction_offset)
    out += _I32.pack(len(body))
    out += body
    out += _U16.pack(len(topic)) if v2 else bytes((len(topic),))
    out += topic
    out += _U16.pack(len(props))
    out += props
    assert len(out) == total
    return bytes(out)


def _decompress(body: bytes, sys_flag: int) -> bytes:
    kind = sys_flag & C.COMPRESSION_TYPE_MASK
    if kind in (0, C.COMPRESSION_ZLIB_TYPE):
        return zlib.decompress(body)
    name = {C.COMPRESSION_LZ4_TYPE: "LZ4", C.COMPRESSION_ZSTD_TYPE: "ZSTD"}.get(kind, hex(kind))
    raise MessageDecodeError(f"body compressed with {name}, which this decoder does not support (only ZLIB)")


def decode_stored_message(
    buf: bytes | bytearray | memoryview,
    pos: int = 0,
    *,
    decompress: bool = True,
    read_body: bool = True,
) -> tuple[MessageExt, int]:
    """Decode one stored record at ``pos``; returns the message and the record size.

    Raises :class:`MessageDecodeError` for a truncated record or a bad magic code. Topic and
    property bytes that are not UTF-8 decode with U+FFFD in their place, as Java's
    ``new String(bytes, UTF_8)`` does, so one such record does not stop a consumer.
    """
    end = len(buf)
    if end - pos < HEAD_SIZE:
        raise MessageDecodeError(f"truncated record at {pos}: {end - pos} bytes left, header needs {HEAD_SIZE}")
    (total, magic, crc, queue_id, flag, queue_offset, phys, sys_flag, born_ts) = _HEAD.unpack_from(buf, pos)
    if magic == C.MESSAGE_MAGIC_CODE_V1:
        v2 = False
    elif magic == C.MESSAGE_MAGIC_CODE_V2:
        v2 = True
    elif magic == C.BLANK_MAGIC_CODE:
        raise MessageDecodeError(f"blank end-of-file record at {pos}")
    else:
        raise MessageDecodeError(f"bad magic code {magic & 0xFFFFFFFF:#010x} at {pos}")
    if total < 91 or pos + total > end:
        raise MessageDecodeError(f"record at {pos} claims {total} bytes but {end - pos} remain")
    p = pos + HEAD_SIZE
    if not sys_flag & (C.BORNHOST_V6_FLAG | C.STOREHOSTADDRESS_V6_FLAG):
        born_ip, born_port, store_ts, store_ip, store_port, reconsume, prepared, body_len = _HOSTS_V4_BODY_LEN.unpack_from(buf, p)
        p += _HOSTS_V4_BODY_LEN.size
    else:
        n = 16 if sys_flag & C.BORNHOST_V6_FLAG else 4
        born_ip = bytes(buf[p : p + n])
        (born_port,) = _I32.unpack_from(buf, p + n)
        p += n + 4
        (store_ts,) = _Q.unpack_from(buf, p)
        p += 8
        n = 16 if sys_flag & C.STOREHOSTADDRESS_V6_FLAG else 4
        store_ip = bytes(buf[p : p + n])
        (store_port,) = _I32.unpack_from(buf, p + n)
        p += n + 4
        (reconsume,) = _I32.unpack_from(buf, p)
        (prepared,) = _Q.unpack_from(buf, p + 4)
        p += 12
        (body_len,) = _I32.unpack_from(buf, p)
        p += 4
    if body_len < 0 or p + body_len > pos + total:
        raise MessageDecodeError(f"record at {pos}: body length {body_len} runs past the record")
    body = bytes(buf[p : p + body_len]) if read_body else b""
    p += body_len
    if v2:
        (topic_len,) = _U16.unpack_from(buf, p)
        p += 2
    else:
        topic_len = buf[p]
        p += 1
    topic = bytes(buf[p : p + topic_len]).decode("utf-8", "replace")
    p += topic_len
    (props_len,) = _U16.unpack_from(buf, p)
    p += 2
    if p + props_len > pos + total:
        raise MessageDecodeError(f"record at {pos}: properties run past the record")
    properties = decode_properties_cached(bytes(buf[p : p + props_len]).decode("utf-8", "replace")) if props_len else {}
    if read_body and decompress and sys_flag & C.COMPRESSED_FLAG:
        try:
            body = _decompress(body, sys_flag)
        except zlib.error as exc:
            raise MessageDecodeError(f"record at {pos}: compressed body does not inflate: {exc}") from exc
        sys_flag &= ~C.COMPRESSED_FLAG
    # Attributes are set directly: MessageExt.__init__'s keyword handling costs more than
    # the whole decode, and a consumer decodes every message it receives.
    msg = _new_message_ext(MessageExt)
    msg.topic = topic
    msg.body = body
    msg.flag = flag
    msg.properties = properties
    msg.transaction_id = None
    msg.queue_id = queue_id
    msg.queue_offset = queue_offset
    msg.commitlog_offset = phys
    msg.sys_flag = sys_flag
    msg.born_timestamp = born_ts
    msg.born_host = (unpack_ip(born_ip), born_port)
    msg.store_timestamp = store_ts
    msg.store_host = (unpack_ip(store_ip), store_port)
    msg.reconsume_times = reconsume
    msg.prepared_transaction_offset = prepared
    msg.body_crc = crc
    msg.store_size = total
    # Built from the raw bytes: same value as create_offset_message_id, without re-packing the ip.
    msg.offset_msg_id = (bytes(store_ip) + _PORT_OFFSET.pack(store_port, phys)).hex().upper()
    msg.broker_name = None
    return msg, total


# The whole fixed part of a V1 IPv4 record in one unpack (fields 1-15 and the body length).
# The hosts come out as one 64-bit ip+port value each; MessageExt turns them (and the offset
# message id made from the store host) into text only when they are read.
_V4_FIXED = struct.Struct(">iiiiiqqiqQqQiqi")
_V4_FIXED_SIZE = _V4_FIXED.size  # 88
_NOT_FAST = C.BORNHOST_V6_FLAG | C.STOREHOSTADDRESS_V6_FLAG | C.COMPRESSED_FLAG

_decode_into: Callable[[bytes, int, type, list[MessageExt]], int] | None
try:
    from rmqcore.message._stored_decode import decode_into

    _decode_into = decode_into
except ImportError:  # a source tree without the built extension
    _decode_into = None


def iter_stored_messages(buf: bytes | bytearray | memoryview, *, decompress: bool = True) -> Iterator[MessageExt]:
    """Decode concatenated records (a PULL or QUERY body) until the buffer ends.

    Like ``MessageDecoder.decodesBatch``, a record that fails to decode stops the loop.
    """
    yield from decode_stored_messages(buf, decompress=decompress)


def decode_stored_messages(buf: bytes | bytearray | memoryview, *, decompress: bool = True) -> list[MessageExt]:
    """Every record of ``buf`` (a PULL or QUERY body), as :func:`iter_stored_messages`.

    The common record (V1, IPv4 hosts, not compressed) is decoded in C
    (``rmqcore.message._stored_decode``) when the extension is built, else by
    :func:`decode_stored_messages_py`; the two give the same messages. Its hosts and offset
    message id are left for MessageExt to convert when read (same values). Anything else
    (V2, IPv6, a compressed body, a record that does not add up) goes through
    :func:`decode_stored_message`, which also decides where decoding stops.
    """
    if _decode_into is None:
        return decode_stored_messages_py(buf, decompress=decompress)
    if buf.__class__ is not bytes:
        buf = bytes(buf)
    out: list[MessageExt] = []
    end = len(buf)
    pos = _decode_into(buf, 0, MessageExt, out)
    while pos < end:
        try:
            msg, size = decode_stored_message(buf, pos, decompress=decompress)
        except MessageDecodeError:
            break
        out.append(msg)
        pos = _decode_into(buf, pos + size, MessageExt, out)
    return out


def decode_stored_messages_py(buf: bytes | bytearray | memoryview, *, decompress: bool = True) -> list[MessageExt]:
    """:func:`decode_stored_messages` in the interpreter only: the reference the C decoder is
    tested against, and what runs where the extension is not built.

    The common record is decoded inline with one unpack of its fixed part.
    """
    if buf.__class__ is not bytes:
        buf = bytes(buf)  # one copy; every slice below is then a bytes object already
    out: list[MessageExt] = []
    append = out.append
    unpack = _V4_FIXED.unpack_from
    new = _new_message_ext
    v1 = C.MESSAGE_MAGIC_CODE_V1
    not_fast = _NOT_FAST
    decode_cached = decode_properties_cached
    fixed = _V4_FIXED_SIZE
    pos = 0
    end = len(buf)
    while pos < end:
        if end - pos >= fixed:
            (total, magic, crc, queue_id, flag, queue_offset, phys, sys_flag, born_ts,
             born, store_ts, store, reconsume, prepared, body_len) = unpack(buf, pos)  # fmt: skip
            rec_end = pos + total
            p = pos + fixed
            body_end = p + body_len
            if (
                magic == v1
                and not sys_flag & not_fast
                and total >= 91
                and rec_end <= end
                and body_len >= 0
                and body_end + 3 <= rec_end
            ):
                topic_end = body_end + 1 + buf[body_end]
                if topic_end + 2 <= rec_end:
                    props_end = topic_end + 2 + ((buf[topic_end] << 8) | buf[topic_end + 1])
                    if props_end <= rec_end:
                        msg = new(MessageExt)
                        msg.topic = buf[body_end + 1 : topic_end].decode("utf-8", "replace")
                        msg.body = buf[p:body_end]
                        msg.flag = flag
                        msg.properties = (
                            decode_cached(buf[topic_end + 2 : props_end].decode("utf-8", "replace")) if props_end > topic_end + 2 else {}
                        )
                        msg.transaction_id = None
                        msg.queue_id = queue_id
                        msg.queue_offset = queue_offset
                        msg.commitlog_offset = phys
                        msg.sys_flag = sys_flag
                        msg.born_timestamp = born_ts
                        msg._born_host = born  # converted to (ip, port) when first read
                        msg.store_timestamp = store_ts
                        msg._store_host = store
                        msg.reconsume_times = reconsume
                        msg.prepared_transaction_offset = prepared
                        msg.body_crc = crc
                        msg.store_size = total
                        msg._offset_msg_id = (store, phys)  # formatted when first read
                        msg.broker_name = None
                        append(msg)
                        pos = rec_end
                        continue
        try:
            msg, size = decode_stored_message(buf, pos, decompress=decompress)
        except MessageDecodeError:
            break
        append(msg)
        pos += size
    return out


# --- batch send body (reference section 4, "SEND_BATCH body") ---------------------------
_BATCH_HEAD = struct.Struct(">iiiii")


def encode_batch_body(messages: Iterable[Message]) -> bytes:
    """``MessageDecoder.encodeMessages``: one record per message with its own properties."""
    out = bytearray()
    for msg in messages:
        props = encode_properties(msg.properties).encode("utf-8")
        body = msg.body
        total = 4 + 4 + 4 + 4 + 4 + len(body) + 2 + len(props)
        out += _BATCH_HEAD.pack(total, 0, 0, msg.flag, len(body))
        out += body
        out += _U16.pack(len(props))
        out += props
    return bytes(out)


def decode_batch_body(topic: str, data: bytes | bytearray | memoryview) -> list[Message]:
    """Split a SEND_BATCH body into messages of ``topic``."""
    out: list[Message] = []
    pos = 0
    end = len(data)
    while pos < end:
        if end - pos < _BATCH_HEAD.size + 2:
            raise MessageDecodeError(f"truncated batch record at {pos}")
        total, _magic, _crc, flag, body_len = _BATCH_HEAD.unpack_from(data, pos)
        p = pos + _BATCH_HEAD.size
        if total < 22 or pos + total > end or body_len < 0 or p + body_len + 2 > pos + total:
            raise MessageDecodeError(f"batch record at {pos} has inconsistent lengths (total={total}, body={body_len})")
        body = bytes(data[p : p + body_len])
        p += body_len
        (props_len,) = _U16.unpack_from(data, p)
        p += 2
        if p + props_len > pos + total:
            raise MessageDecodeError(f"batch record at {pos}: properties run past the record")
        props = decode_properties(bytes(data[p : p + props_len]).decode("utf-8")) if props_len else {}
        out.append(Message(topic, body, flag=flag, properties=props))
        pos += total
    return out
