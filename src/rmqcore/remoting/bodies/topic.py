"""Topic tables (reference section 3): ``TopicConfig``, the GET_ALL_TOPIC_CONFIG (21) body
``TopicConfigSerializeWrapper``, the REGISTER_BROKER (103) body ``RegisterBrokerBody``
(plain JSON or the ``compressed=true`` Deflater form), and ``TopicList``
(GET_ALL_TOPIC_LIST_FROM_NAMESERVER 206, GET_TOPICS_BY_CLUSTER 224)."""

from __future__ import annotations

import struct
import zlib
from dataclasses import field
from typing import Any, Self

from rmqcore.remoting._javanum import parse_java_int
from rmqcore.remoting._records import record
from rmqcore.remoting.bodies._base import JsonBody, as_bool, as_dict, as_int32, as_list, as_str, opt_str
from rmqcore.remoting.bodies._json import dumps, drop_none, loads_lenient
from rmqcore.remoting.bodies.data_version import DataVersion
from rmqcore.remoting.errors import BodyError

_INT = struct.Struct(">i")
#: Default cap on the inflated size of a ``compressed=true`` REGISTER_BROKER body. A broker's whole
#: topic table is a few MB; past this the body is refused (a 16 MiB frame of zlib could otherwise
#: inflate to ~16 GiB).
MAX_INFLATED_REGISTER_BODY = 64 * 1024 * 1024
_INFLATE_CHUNK = 64 * 1024
#: Keys of ``TopicConfigAndMappingSerializeWrapper`` (5.x static topics) carried through unparsed.
_MAPPING_KEYS = ("topicQueueMappingInfoMap", "topicQueueMappingDetailMap", "mappingDataVersion")


@record
class TopicConfig(JsonBody):
    """Defaults as Java's ``TopicConfig``: 16/16 queues, perm READ|WRITE (6), SINGLE_TAG."""

    topic_name: str
    read_queue_nums: int = 16
    write_queue_nums: int = 16
    perm: int = 6
    topic_filter_type: str = "SINGLE_TAG"
    topic_sys_flag: int = 0
    order: bool = False
    attributes: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "attributes": dict(self.attributes),
            "order": self.order,
            "perm": self.perm,
            "readQueueNums": self.read_queue_nums,
            "topicFilterType": self.topic_filter_type,
            "topicName": self.topic_name,
            "topicSysFlag": self.topic_sys_flag,
            "writeQueueNums": self.write_queue_nums,
        }

    @classmethod
    def from_json(cls, obj: Any) -> Self:  # the broker's TopicConfig subclass gets its own type
        obj = as_dict(obj)
        return cls(
            as_str(obj["topicName"]),
            as_int32(obj.get("readQueueNums", 16)),
            as_int32(obj.get("writeQueueNums", 16)),
            as_int32(obj.get("perm", 6)),
            as_str(obj.get("topicFilterType", "SINGLE_TAG")),
            as_int32(obj.get("topicSysFlag", 0)),
            as_bool(obj.get("order", False)),
            {as_str(k): as_str(v) for k, v in as_dict(obj.get("attributes")).items()},
        )

    def encode_text(self) -> str:
        """Java 5.x ``TopicConfig.encode()``: ``name read write perm filterType attributesJson``
        (the attributes map is never null there, so ``{}`` when empty), used inside the
        compressed register body. 4.x wrote only the first five fields; ``decode_text`` reads both.

        >>> TopicConfig("T", 8, 8, 6).encode_text()
        'T 8 8 6 SINGLE_TAG {}'
        """
        return (
            f"{self.topic_name} {self.read_queue_nums} {self.write_queue_nums} {self.perm} {self.topic_filter_type} "
            + dumps(self.attributes).decode("utf-8")
        )

    @classmethod
    def decode_text(cls, text: str) -> TopicConfig:
        """
        >>> TopicConfig.decode_text('T 8 8 6 SINGLE_TAG {"+message.type":"NORMAL"}')
        TopicConfig(topic_name='T', read_queue_nums=8, write_queue_nums=8, perm=6, topic_filter_type='SINGLE_TAG', topic_sys_flag=0, order=False, attributes={'+message.type': 'NORMAL'})
        """
        parts = text.split(" ", 5)
        if len(parts) < 5:
            raise BodyError(f"topic config text has {len(parts)} fields, expected at least 5: {text!r}")
        try:
            attributes: dict[str, str] = {}
            if len(parts) == 6 and parts[5].strip():
                attributes = {as_str(k): as_str(v) for k, v in as_dict(loads_lenient(parts[5], "topic attributes")).items()}
            # Java: Integer.parseInt of each number.
            read, write, perm = (parse_java_int(p, 32) for p in parts[1:4])
            return cls(parts[0], read, write, perm, parts[4], attributes=attributes)
        except (ValueError, TypeError) as exc:
            raise BodyError(f"bad topic config text {text!r}: {exc}") from None


@record
class TopicConfigSerializeWrapper(JsonBody):
    """``{"topicConfigTable":{name:TopicConfig},"dataVersion":{...}}``; 5.x mapping fields are
    kept verbatim in ``mapping`` (static topics are not interpreted)."""

    topic_config_table: dict[str, TopicConfig] = field(default_factory=dict)
    data_version: DataVersion = field(default_factory=DataVersion)
    mapping: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "dataVersion": self.data_version.to_json(),
            "topicConfigTable": {name: tc.to_json() for name, tc in self.topic_config_table.items()},
        }
        out.update(self.mapping)
        return out

    @classmethod
    def from_json(cls, obj: Any) -> TopicConfigSerializeWrapper:
        obj = as_dict(obj)
        return cls(
            {as_str(k): TopicConfig.from_json(v) for k, v in as_dict(obj.get("topicConfigTable")).items()},
            DataVersion.from_json(obj.get("dataVersion")),
            {k: obj[k] for k in _MAPPING_KEYS if obj.get(k) is not None},
        )


@record
class RegisterBrokerBody(JsonBody):
    """REGISTER_BROKER body.

    >>> body = RegisterBrokerBody(TopicConfigSerializeWrapper({"T": TopicConfig("T", 4, 4)}, DataVersion(0, 5, 1)))
    >>> RegisterBrokerBody.decode(body.encode(compressed=True), compressed=True) == body
    True
    """

    topic_config_serialize_wrapper: TopicConfigSerializeWrapper = field(default_factory=TopicConfigSerializeWrapper)
    filter_server_list: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "filterServerList": list(self.filter_server_list),
            "topicConfigSerializeWrapper": self.topic_config_serialize_wrapper.to_json(),
        }

    @classmethod
    def from_json(cls, obj: Any) -> RegisterBrokerBody:
        obj = as_dict(obj)
        return cls(
            TopicConfigSerializeWrapper.from_json(obj.get("topicConfigSerializeWrapper")),
            [as_str(s) for s in as_list(obj.get("filterServerList"))],
        )

    def encode(self, compressed: bool = False) -> bytes:  # type: ignore[override]
        if not compressed:
            return super(RegisterBrokerBody, self).encode()
        # Java RegisterBrokerBody.encode(true): a Deflater (zlib, best compression) stream of
        # int-length-prefixed parts: dataVersion JSON, topic count, each TopicConfig.encode()
        # text, filterServerList JSON, mapping-info count and each mapping-info JSON.
        wrapper = self.topic_config_serialize_wrapper
        parts: list[bytes] = []

        def put(chunk: bytes) -> None:
            parts.append(_INT.pack(len(chunk)))
            parts.append(chunk)

        put(wrapper.data_version.encode())
        parts.append(_INT.pack(len(wrapper.topic_config_table)))
        for tc in wrapper.topic_config_table.values():
            put(tc.encode_text().encode("utf-8"))
        put(dumps(list(self.filter_server_list)))
        infos = as_dict(wrapper.mapping.get("topicQueueMappingInfoMap"))
        parts.append(_INT.pack(len(infos)))
        for info in infos.values():
            put(dumps(info))
        return zlib.compress(b"".join(parts), 9)

    @classmethod
    def decode(  # type: ignore[override]
        cls,
        data: bytes | bytearray | memoryview | None,
        compressed: bool = False,
        max_inflated: int = MAX_INFLATED_REGISTER_BODY,
    ) -> RegisterBrokerBody:
        """The plain JSON body, or (``compressed``) the Deflater form, inflated as it is read, as
        Java's ``RegisterBrokerBody.decode`` reads its InflaterInputStream: the first bad length
        or truncation stops it, and ``BodyError`` once more than ``max_inflated`` bytes would be
        inflated or a length could not fit in that.

        >>> bomb = zlib.compress(bytes(64 * 1024 * 1024))  # 64 KB; the first length reads 0
        >>> RegisterBrokerBody.decode(bomb, compressed=True)
        Traceback (most recent call last):
        ...
        rmqcore.remoting.errors.BodyError: dataVersion is not JSON: Expecting value: line 1 column 1 (char 0)
        """
        if not compressed:
            return super(RegisterBrokerBody, cls).decode(data)
        if not data:
            raise BodyError("RegisterBrokerBody: request has no body")
        reader = _InflatingReader(data, max_inflated)
        try:
            data_version = DataVersion.from_json(loads_lenient(reader.chunk(), "dataVersion"))
            table: dict[str, TopicConfig] = {}
            for _ in range(reader.count()):
                tc = TopicConfig.decode_text(reader.chunk().decode("utf-8"))
                table[tc.topic_name] = tc
            filter_servers = [as_str(s) for s in as_list(loads_lenient(reader.chunk(), "filterServerList"))]
            mapping: dict[str, Any] = {}
            if reader.more():  # absent before static topics (4.x brokers)
                infos = {}
                for _ in range(reader.count()):
                    info = as_dict(loads_lenient(reader.chunk(), "topicQueueMappingInfo"))
                    infos[as_str(info.get("topic", ""))] = info
                if infos:
                    mapping["topicQueueMappingInfoMap"] = infos
        except zlib.error as exc:
            raise BodyError(f"RegisterBrokerBody: bad Deflater stream: {exc}") from None
        except (TypeError, ValueError, UnicodeDecodeError) as exc:
            raise BodyError(f"RegisterBrokerBody: malformed compressed body: {exc}") from None
        return cls(TopicConfigSerializeWrapper(table, data_version, mapping), filter_servers)


class _InflatingReader:
    """Big-endian ints and length-prefixed chunks read from a zlib stream, inflated on demand in
    bounded steps (input fed in ``_INFLATE_CHUNK`` slices, output asked for with ``max_length``),
    never more than ``limit`` bytes in all."""

    __slots__ = ("_buf", "_consumed", "_inflated", "_input", "_in_pos", "_limit", "_pos", "_z")

    def __init__(self, data: bytes | bytearray | memoryview, limit: int) -> None:
        self._z = zlib.decompressobj()
        self._input = memoryview(data).cast("B")
        self._in_pos = 0
        self._buf = bytearray()
        self._pos = 0  # read position in _buf
        self._consumed = 0  # bytes handed out so far
        self._inflated = 0
        self._limit = limit

    def _inflate(self, want: int) -> bytes:
        """Up to ``want`` more inflated bytes; b"" at the end of the stream or of the input."""
        z = self._z
        while not z.eof:
            src: bytes | memoryview = z.unconsumed_tail
            if not src:
                if self._in_pos >= len(self._input):
                    return z.decompress(b"", want)  # what zlib still holds; b"" = truncated
                src = self._input[self._in_pos : self._in_pos + _INFLATE_CHUNK]
                self._in_pos += len(src)
            out = z.decompress(src, want)
            if out:
                return out
        return b""

    def _fill(self, need: int) -> bool:
        """At least ``need`` unread bytes buffered; False if the stream ends first."""
        buf = self._buf
        while len(buf) - self._pos < need:
            if self._pos:
                del buf[: self._pos]
                self._pos = 0
            out = self._inflate(max(need - len(buf), _INFLATE_CHUNK))
            if not out:
                return False
            self._inflated += len(out)
            if self._inflated > self._limit:
                raise BodyError(f"RegisterBrokerBody: compressed body inflates past {self._limit} bytes")
            buf += out
        return True

    def _take(self, n: int) -> bytes:
        if not self._fill(n):
            raise BodyError("RegisterBrokerBody: compressed body truncated")
        start = self._pos
        self._pos += n
        self._consumed += n
        return bytes(self._buf[start : self._pos])

    def more(self) -> bool:
        return self._fill(1)

    def count(self, unit: int = 4) -> int:
        """An int count (or, ``unit=1``, a byte length); refused if negative or if that many
        ``unit``-byte items could not fit under the limit."""
        (n,) = _INT.unpack(self._take(4))
        if n < 0 or n * unit > self._limit - self._consumed:
            raise BodyError(f"RegisterBrokerBody: bad length {n} in compressed body")
        return n

    def chunk(self) -> bytes:
        return self._take(self.count(unit=1))


@record
class TopicList(JsonBody):
    topic_list: list[str] = field(default_factory=list)
    broker_addr: str | None = None

    def to_json(self) -> dict[str, Any]:
        return drop_none({"brokerAddr": self.broker_addr, "topicList": list(self.topic_list)})

    @classmethod
    def from_json(cls, obj: Any) -> TopicList:
        obj = as_dict(obj)
        return cls([as_str(t) for t in as_list(obj.get("topicList"))], opt_str(obj.get("brokerAddr")))
