"""Topic tables (reference section 3): ``TopicConfig``, the GET_ALL_TOPIC_CONFIG (21) body
``TopicConfigSerializeWrapper``, the REGISTER_BROKER (103) body ``RegisterBrokerBody``
(plain JSON or the ``compressed=true`` Deflater form), and ``TopicList``
(GET_ALL_TOPIC_LIST_FROM_NAMESERVER 206, GET_TOPICS_BY_CLUSTER 224)."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

from rmqcore.remoting.bodies._base import JsonBody, as_bool, as_dict, as_int, as_list, as_str, opt_str
from rmqcore.remoting.bodies._json import dumps, drop_none, loads_lenient
from rmqcore.remoting.bodies.data_version import DataVersion
from rmqcore.remoting.errors import BodyError

_INT = struct.Struct(">i")
#: Keys of ``TopicConfigAndMappingSerializeWrapper`` (5.x static topics) carried through unparsed.
_MAPPING_KEYS = ("topicQueueMappingInfoMap", "topicQueueMappingDetailMap", "mappingDataVersion")


@dataclass(slots=True)
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
    def from_json(cls, obj: Any) -> TopicConfig:
        obj = as_dict(obj)
        return cls(
            as_str(obj["topicName"]),
            as_int(obj.get("readQueueNums", 16)),
            as_int(obj.get("writeQueueNums", 16)),
            as_int(obj.get("perm", 6)),
            as_str(obj.get("topicFilterType", "SINGLE_TAG")),
            as_int(obj.get("topicSysFlag", 0)),
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
            return cls(parts[0], int(parts[1]), int(parts[2]), int(parts[3]), parts[4], attributes=attributes)
        except (ValueError, TypeError) as exc:
            raise BodyError(f"bad topic config text {text!r}: {exc}") from None


@dataclass(slots=True)
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


@dataclass(slots=True)
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
    def decode(cls, data: bytes | bytearray | memoryview | None, compressed: bool = False) -> RegisterBrokerBody:  # type: ignore[override]
        if not compressed:
            return super(RegisterBrokerBody, cls).decode(data)
        if not data:
            raise BodyError("RegisterBrokerBody: request has no body")
        try:
            raw = zlib.decompress(bytes(data))
        except zlib.error as exc:
            raise BodyError(f"RegisterBrokerBody: bad Deflater stream: {exc}") from None
        reader = _Reader(raw)
        try:
            data_version = DataVersion.from_json(loads_lenient(reader.chunk(), "dataVersion"))
            table: dict[str, TopicConfig] = {}
            for _ in range(reader.count()):
                tc = TopicConfig.decode_text(reader.chunk().decode("utf-8"))
                table[tc.topic_name] = tc
            filter_servers = [as_str(s) for s in as_list(loads_lenient(reader.chunk(), "filterServerList"))]
            mapping: dict[str, Any] = {}
            if reader.remaining():  # absent before static topics (4.x brokers)
                infos = {}
                for _ in range(reader.count()):
                    info = as_dict(loads_lenient(reader.chunk(), "topicQueueMappingInfo"))
                    infos[as_str(info.get("topic", ""))] = info
                if infos:
                    mapping["topicQueueMappingInfoMap"] = infos
        except (TypeError, ValueError, UnicodeDecodeError) as exc:
            raise BodyError(f"RegisterBrokerBody: malformed compressed body: {exc}") from None
        return cls(TopicConfigSerializeWrapper(table, data_version, mapping), filter_servers)


class _Reader:
    __slots__ = ("_data", "_pos")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def remaining(self) -> int:
        return len(self._data) - self._pos

    def count(self) -> int:
        if self.remaining() < 4:
            raise BodyError("RegisterBrokerBody: compressed body truncated")
        (n,) = _INT.unpack_from(self._data, self._pos)
        self._pos += 4
        if n < 0 or n > self.remaining():
            raise BodyError(f"RegisterBrokerBody: bad length {n} in compressed body")
        return n

    def chunk(self) -> bytes:
        n = self.count()
        start = self._pos
        self._pos += n
        return self._data[start : self._pos]


@dataclass(slots=True)
class TopicList(JsonBody):
    topic_list: list[str] = field(default_factory=list)
    broker_addr: str | None = None

    def to_json(self) -> dict[str, Any]:
        return drop_none({"brokerAddr": self.broker_addr, "topicList": list(self.topic_list)})

    @classmethod
    def from_json(cls, obj: Any) -> TopicList:
        obj = as_dict(obj)
        return cls([as_str(t) for t in as_list(obj.get("topicList"))], opt_str(obj.get("brokerAddr")))
