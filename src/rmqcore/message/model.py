"""The message model every piece shares: Message, MessageExt, MessageQueue.

Tags, keys, delay and the other well-known attributes live in ``properties``
under RocketMQ's keys (reference section 4), exactly as the Java client keeps
them, so that encoding a message is encoding its property map.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, overload

from rmqcore.message import constants as C
from rmqcore.message.ids import Host


class MessageError(ValueError):
    """A message that breaks a rule a broker would enforce."""


class _OptionalIntProperty:
    """An integer stored as a string property; None when absent (and setting None removes it)."""

    def __init__(self, key: str, doc: str) -> None:
        self.key = key
        self.__doc__ = doc

    def __get__(self, obj: Message | None, owner: type | None = None) -> Any:
        if obj is None:
            return self
        raw = obj.properties.get(self.key)
        return int(raw) if raw else None

    def __set__(self, obj: Message, value: int | None) -> None:
        obj._set(self.key, None if value is None else str(value))


class Message:
    """A message to send: topic, body, and properties.

    >>> m = Message("TopicTest", b"hello", tags="TagA", keys=("order-1",))
    >>> m.delay_level = 3
    >>> m.properties == {"TAGS": "TagA", "KEYS": "order-1", "DELAY": "3"}
    True
    """

    __slots__ = ("topic", "body", "flag", "properties", "transaction_id")

    def __init__(
        self,
        topic: str,
        body: bytes = b"",
        tags: str | None = None,
        keys: Iterable[str] | str = (),
        flag: int = 0,
        properties: Mapping[str, str] | None = None,
    ) -> None:
        self.topic = topic
        self.body = bytes(body) if not isinstance(body, bytes) else body
        self.flag = flag
        self.properties: dict[str, str] = dict(properties) if properties else {}
        self.transaction_id: str | None = None
        if tags:
            self.properties[C.PROPERTY_TAGS] = tags
        if keys:
            self.keys = keys  # type: ignore[assignment]

    # -- well-known properties ----------------------------------------------------------
    @property
    def tags(self) -> str | None:
        return self.properties.get(C.PROPERTY_TAGS)

    @tags.setter
    def tags(self, value: str | None) -> None:
        self._set(C.PROPERTY_TAGS, value)

    @property
    def keys(self) -> list[str]:
        raw = self.properties.get(C.PROPERTY_KEYS)
        return [k for k in raw.split(C.KEY_SEPARATOR) if k] if raw else []

    @keys.setter
    def keys(self, value: Iterable[str] | str | None) -> None:
        if value is None:
            self.properties.pop(C.PROPERTY_KEYS, None)
            return
        if isinstance(value, str):
            value = [value]
        joined = C.KEY_SEPARATOR.join(k for k in value if k)
        self._set(C.PROPERTY_KEYS, joined or None)

    @property
    def delay_level(self) -> int:
        raw = self.properties.get(C.PROPERTY_DELAY_TIME_LEVEL)
        return int(raw) if raw else 0

    @delay_level.setter
    def delay_level(self, level: int) -> None:
        self._set(C.PROPERTY_DELAY_TIME_LEVEL, str(level) if level else None)

    delay_ms = _OptionalIntProperty(C.PROPERTY_TIMER_DELAY_MS, "5.x timer: deliver this many ms after the send")
    delay_sec = _OptionalIntProperty(C.PROPERTY_TIMER_DELAY_SEC, "5.x timer: deliver this many seconds after the send")
    deliver_time_ms = _OptionalIntProperty(C.PROPERTY_TIMER_DELIVER_MS, "5.x timer: deliver at this epoch ms")

    @property
    def wait_store_msg_ok(self) -> bool:
        return self.properties.get(C.PROPERTY_WAIT_STORE_MSG_OK, "true") != "false"

    @wait_store_msg_ok.setter
    def wait_store_msg_ok(self, value: bool) -> None:
        self._set(C.PROPERTY_WAIT_STORE_MSG_OK, None if value else "false")

    @property
    def uniq_key(self) -> str | None:
        return self.properties.get(C.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX)

    @uniq_key.setter
    def uniq_key(self, value: str | None) -> None:
        self._set(C.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX, value)

    @property
    def sharding_key(self) -> str | None:
        return self.properties.get(C.PROPERTY_SHARDING_KEY)

    # -- user properties -----------------------------------------------------------------
    def put_user_property(self, name: str, value: str) -> None:
        """Set a user property; system keys and empty names or values are refused.

        >>> m = Message("T", b"")
        >>> m.put_user_property("TAGS", "x")
        Traceback (most recent call last):
        ...
        rmqcore.message.model.MessageError: 'TAGS' is a reserved system property; use the Message attribute for it
        """
        if name in C.SYSTEM_PROPERTY_KEYS:
            raise MessageError(f"{name!r} is a reserved system property; use the Message attribute for it")
        if not name or value is None or value == "":
            raise MessageError("user property name and value must both be non-empty")
        self.properties[name] = str(value)

    def get_user_property(self, name: str) -> str | None:
        return self.properties.get(name)

    def get_property(self, name: str) -> str | None:
        return self.properties.get(name)

    def _set(self, key: str, value: str | None) -> None:
        if value is None or value == "":
            self.properties.pop(key, None)
        else:
            self.properties[key] = value

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(topic={self.topic!r}, body={self.body[:32]!r}"
            f"{'...' if len(self.body) > 32 else ''}, flag={self.flag}, properties={self.properties!r})"
        )

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, s) == getattr(other, s) for s in _all_slots(type(self)))

    __hash__ = None  # type: ignore[assignment]


def _all_slots(cls: type) -> list[str]:
    """The attribute names a message is compared by: its slots, a ``_name`` slot behind a
    ``name`` property read as ``name``."""
    out: list[str] = []
    for klass in reversed(cls.__mro__):
        out.extend(s[1:] if s.startswith("_") else s for s in getattr(klass, "__slots__", ()))
    return out


# Lazily derived attributes of decoded messages (``decode_stored_messages``): the decoder
# stores the raw form (an int for a host: its 8 ip+port bytes as one value; a (store host,
# commitlog offset) pair for the offset message id) and the first read converts it, once.
# A consumer that never reads them does not pay for them.
_HOST_CACHE: dict[int, Host] = {}


def host_of_key(key: int) -> Host:
    """``(ip, port)`` from the 64-bit value of an IPv4 record's 8 ip+port bytes (cached)."""
    host = _HOST_CACHE.get(key)
    if host is None:
        port = key & 0xFFFFFFFF
        ip = ".".join(str(b) for b in (key >> 32).to_bytes(4, "big"))
        host = (ip, port - 0x100000000 if port & 0x80000000 else port)
        if len(_HOST_CACHE) < 1024:
            _HOST_CACHE[key] = host
    return host


def _offset_msg_id_of(raw: tuple[int, int]) -> str:
    store, phys = raw
    return f"{store:016X}{phys & 0xFFFFFFFFFFFFFFFF:016X}"


class _LazyHost:
    __slots__ = ("slot",)

    def __init__(self, slot: Any) -> None:
        self.slot = slot

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> _LazyHost: ...
    @overload
    def __get__(self, obj: object, owner: type | None = None) -> Host: ...
    def __get__(self, obj: object, owner: type | None = None) -> Host | _LazyHost:
        if obj is None:
            return self
        value = self.slot.__get__(obj, owner)
        if value.__class__ is int:
            value = host_of_key(value)
            self.slot.__set__(obj, value)
        return value

    def __set__(self, obj: Any, value: Host) -> None:
        self.slot.__set__(obj, value)


class MessageExt(Message):
    """A stored message, as the store returns it and a consumer receives it."""

    __slots__ = (
        "queue_id",
        "queue_offset",
        "commitlog_offset",
        "sys_flag",
        "born_timestamp",
        "_born_host",
        "store_timestamp",
        "_store_host",
        "reconsume_times",
        "prepared_transaction_offset",
        "body_crc",
        "store_size",
        "_offset_msg_id",
        "broker_name",
    )
    # Declarations only (no values, so no conflict with the slots): the decoder may leave a
    # host as its raw 64-bit ip+port value and the offset message id as the raw (store host,
    # commitlog offset) pair; born_host and store_host are the _LazyHost descriptors set on
    # the class below, over the _born_host and _store_host slots, which convert on first read.
    _born_host: Host | int
    _store_host: Host | int
    _offset_msg_id: str | tuple[int, int] | None
    born_host: _LazyHost
    store_host: _LazyHost

    def __init__(
        self,
        topic: str,
        body: bytes = b"",
        tags: str | None = None,
        keys: Iterable[str] | str = (),
        flag: int = 0,
        properties: Mapping[str, str] | None = None,
        *,
        queue_id: int = 0,
        queue_offset: int = 0,
        commitlog_offset: int = 0,
        sys_flag: int = 0,
        born_timestamp: int = 0,
        born_host: Host = ("127.0.0.1", 0),
        store_timestamp: int = 0,
        store_host: Host = ("127.0.0.1", 0),
        reconsume_times: int = 0,
        prepared_transaction_offset: int = 0,
        body_crc: int = 0,
        store_size: int = 0,
        offset_msg_id: str | None = None,
        broker_name: str | None = None,
    ) -> None:
        super().__init__(topic, body, tags, keys, flag, properties)
        self.queue_id = queue_id
        self.queue_offset = queue_offset
        self.commitlog_offset = commitlog_offset
        self.sys_flag = sys_flag
        self.born_timestamp = born_timestamp
        self.born_host = born_host
        self.store_timestamp = store_timestamp
        self.store_host = store_host
        self.reconsume_times = reconsume_times
        self.prepared_transaction_offset = prepared_transaction_offset
        self.body_crc = body_crc
        self.store_size = store_size
        self.offset_msg_id = offset_msg_id
        self.broker_name = broker_name

    @property
    def offset_msg_id(self) -> str | None:
        """The broker's offset message id (hex of store host and commitlog offset); None if unknown."""
        # str or None, or the decoder's raw pair: ``__class__ is`` is the cheapest test on this
        # read path, and the checker does not narrow on it.
        value: Any = self._offset_msg_id
        if value.__class__ is tuple:
            value = self._offset_msg_id = _offset_msg_id_of(value)
        return value

    @offset_msg_id.setter
    def offset_msg_id(self, value: str | None) -> None:
        self._offset_msg_id = value

    @property
    def msg_id(self) -> str | None:
        """UNIQ_KEY when present, else the offset message id (``MessageClientExt.getMsgId``)."""
        return self.properties.get(C.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX) or self.offset_msg_id

    def __repr__(self) -> str:
        return (
            f"MessageExt(topic={self.topic!r}, queue_id={self.queue_id}, queue_offset={self.queue_offset}, "
            f"commitlog_offset={self.commitlog_offset}, msg_id={self.msg_id!r}, body={self.body[:32]!r}, "
            f"properties={self.properties!r})"
        )


# Reading a slot through the class gives its member descriptor, which _LazyHost wraps: a
# deliberate class-level access to a slot, which the checker reports as a conflict.
MessageExt.born_host = _LazyHost(MessageExt._born_host)  # type: ignore[misc]
MessageExt.store_host = _LazyHost(MessageExt._store_host)  # type: ignore[misc]


@dataclass(frozen=True, order=True, slots=True)
class MessageQueue:
    """One queue of a topic on one broker; orders as RocketMQ does (topic, broker, queue id).

    >>> str(MessageQueue("T", "broker-a", 1))
    'MessageQueue [topic=T, brokerName=broker-a, queueId=1]'
    """

    topic: str
    broker_name: str
    queue_id: int

    def __str__(self) -> str:
        return f"MessageQueue [topic={self.topic}, brokerName={self.broker_name}, queueId={self.queue_id}]"

    def to_json(self) -> dict[str, Any]:
        return {"topic": self.topic, "brokerName": self.broker_name, "queueId": self.queue_id}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MessageQueue:
        return cls(data["topic"], data["brokerName"], int(data["queueId"]))


def retry_topic(group: str) -> str:
    return C.RETRY_GROUP_TOPIC_PREFIX + group


def dlq_topic(group: str) -> str:
    return C.DLQ_GROUP_TOPIC_PREFIX + group


def reply_topic(cluster: str) -> str:
    """The topic replies of ``cluster`` go to (``MixAll.getReplyTopic``).

    >>> reply_topic("DefaultCluster")
    'DefaultCluster_REPLY_TOPIC'
    """
    return f"{cluster}_{C.REPLY_TOPIC_POSTFIX}"
