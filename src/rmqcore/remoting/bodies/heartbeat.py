"""HEART_BEAT (34) body ``HeartbeatData`` and CHECK_CLIENT_CONFIG (46) body (reference sections 3, 13).

The enums are emitted by name (as Java does) and accepted as names or as the
ordinals the C++ clients send.
"""

from __future__ import annotations

from dataclasses import field
from enum import IntEnum
from typing import Any, TypeVar

from rmqcore.remoting._records import record
from rmqcore.remoting.bodies._base import JsonBody, as_bool, as_dict, as_int, as_int32, as_list, as_str, opt_str
from rmqcore.remoting.bodies._json import drop_none

E = TypeVar("E", bound=IntEnum)


class ConsumeType(IntEnum):
    CONSUME_ACTIVELY = 0  # pull
    CONSUME_PASSIVELY = 1  # push
    CONSUME_POP = 2


class MessageModel(IntEnum):
    BROADCASTING = 0
    CLUSTERING = 1


class ConsumeFromWhere(IntEnum):
    CONSUME_FROM_LAST_OFFSET = 0
    CONSUME_FROM_LAST_OFFSET_AND_FROM_MIN_WHEN_BOOT_FIRST = 1
    CONSUME_FROM_MIN_OFFSET = 2
    CONSUME_FROM_MAX_OFFSET = 3
    CONSUME_FROM_FIRST_OFFSET = 4
    CONSUME_FROM_TIMESTAMP = 5


def parse_enum(enum_cls: type[E], value: Any) -> E:
    """A name (Java clients) or an ordinal (C++ clients).

    >>> parse_enum(MessageModel, "CLUSTERING"), parse_enum(MessageModel, 1), parse_enum(MessageModel, "1")
    (<MessageModel.CLUSTERING: 1>, <MessageModel.CLUSTERING: 1>, <MessageModel.CLUSTERING: 1>)
    """
    if isinstance(value, str):
        member = enum_cls.__members__.get(value)
        if member is not None:
            return member
        if value.lstrip("-").isdigit():
            return enum_cls(int(value))
        raise ValueError(f"{value!r} is not a {enum_cls.__name__}")
    if isinstance(value, int) and not isinstance(value, bool):
        return enum_cls(value)
    raise ValueError(f"{value!r} is not a {enum_cls.__name__}")


def _str_or(value: Any, default: str) -> str:
    return default if value is None else as_str(value)


#: ``SubscriptionData.SUB_ALL``.
SUB_ALL = "*"


@record
class SubscriptionData(JsonBody):
    """``code_set`` holds Java ``hashCode()`` of each tag (reference section 3, FilterAPI)."""

    topic: str
    sub_string: str = SUB_ALL
    tags_set: list[str] = field(default_factory=list)
    code_set: list[int] = field(default_factory=list)
    sub_version: int = 0
    expression_type: str = "TAG"
    class_filter_mode: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "classFilterMode": self.class_filter_mode,
            "codeSet": list(self.code_set),
            "expressionType": self.expression_type,
            "subString": self.sub_string,
            "subVersion": self.sub_version,
            "tagsSet": list(self.tags_set),
            "topic": self.topic,
        }

    @classmethod
    def from_json(cls, obj: Any) -> SubscriptionData:
        obj = as_dict(obj)
        return cls(
            as_str(obj["topic"]),
            _str_or(obj.get("subString"), SUB_ALL),
            [as_str(t) for t in as_list(obj.get("tagsSet"))],
            [as_int32(c) for c in as_list(obj.get("codeSet"))],
            as_int(obj.get("subVersion", 0)),
            _str_or(obj.get("expressionType"), "TAG"),
            as_bool(obj.get("classFilterMode", False)),
        )


@record
class ProducerData(JsonBody):
    group_name: str

    def to_json(self) -> dict[str, Any]:
        return {"groupName": self.group_name}

    @classmethod
    def from_json(cls, obj: Any) -> ProducerData:
        return cls(as_str(as_dict(obj)["groupName"]))


@record
class ConsumerData(JsonBody):
    group_name: str
    consume_type: ConsumeType = ConsumeType.CONSUME_PASSIVELY
    message_model: MessageModel = MessageModel.CLUSTERING
    consume_from_where: ConsumeFromWhere = ConsumeFromWhere.CONSUME_FROM_LAST_OFFSET
    subscription_data_set: list[SubscriptionData] = field(default_factory=list)
    unit_mode: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "consumeFromWhere": self.consume_from_where.name,
            "consumeType": self.consume_type.name,
            "groupName": self.group_name,
            "messageModel": self.message_model.name,
            "subscriptionDataSet": [s.to_json() for s in self.subscription_data_set],
            "unitMode": self.unit_mode,
        }

    @classmethod
    def from_json(cls, obj: Any) -> ConsumerData:
        obj = as_dict(obj)
        return cls(
            as_str(obj["groupName"]),
            parse_enum(ConsumeType, obj.get("consumeType", "CONSUME_PASSIVELY")),
            parse_enum(MessageModel, obj.get("messageModel", "CLUSTERING")),
            parse_enum(ConsumeFromWhere, obj.get("consumeFromWhere", "CONSUME_FROM_LAST_OFFSET")),
            [SubscriptionData.from_json(s) for s in as_list(obj.get("subscriptionDataSet"))],
            as_bool(obj.get("unitMode", False)),
        )


@record
class HeartbeatData(JsonBody):
    """
    >>> hb = HeartbeatData.decode(b'{"clientID":"10.0.0.1@1","producerDataSet":[],"consumerDataSet":[{"groupName":"CG",'
    ...     b'"consumeType":1,"messageModel":1,"consumeFromWhere":4,"subscriptionDataSet":[{"topic":"T","subString":"*"}]}]}')
    >>> c = hb.consumer_data_set[0]
    >>> (c.consume_type.name, c.message_model.name, c.consume_from_where.name)
    ('CONSUME_PASSIVELY', 'CLUSTERING', 'CONSUME_FROM_FIRST_OFFSET')
    """

    client_id: str
    producer_data_set: list[ProducerData] = field(default_factory=list)
    consumer_data_set: list[ConsumerData] = field(default_factory=list)
    heartbeat_fingerprint: int = 0
    without_sub: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "clientID": self.client_id,
            "consumerDataSet": [c.to_json() for c in self.consumer_data_set],
            "heartbeatFingerprint": self.heartbeat_fingerprint,
            "producerDataSet": [p.to_json() for p in self.producer_data_set],
            "withoutSub": self.without_sub,
        }

    @classmethod
    def from_json(cls, obj: Any) -> HeartbeatData:
        obj = as_dict(obj)
        return cls(
            as_str(obj["clientID"]),
            [ProducerData.from_json(p) for p in as_list(obj.get("producerDataSet"))],
            [ConsumerData.from_json(c) for c in as_list(obj.get("consumerDataSet"))],
            as_int32(obj.get("heartbeatFingerprint", 0)),
            as_bool(obj.get("withoutSub", False)),
        )


@record
class CheckClientRequestBody(JsonBody):
    """CHECK_CLIENT_CONFIG (46): the broker validates ``subscription_data`` (SQL92 parse)."""

    client_id: str
    group: str
    subscription_data: SubscriptionData | None = None
    namespace: str | None = None

    def to_json(self) -> dict[str, Any]:
        return drop_none(
            {
                "clientId": self.client_id,
                "group": self.group,
                "namespace": self.namespace,
                "subscriptionData": self.subscription_data.to_json() if self.subscription_data else None,
            }
        )

    @classmethod
    def from_json(cls, obj: Any) -> CheckClientRequestBody:
        obj = as_dict(obj)
        sub = obj.get("subscriptionData")
        return cls(
            as_str(obj.get("clientId", "")),
            as_str(obj.get("group", "")),
            SubscriptionData.from_json(sub) if sub is not None else None,
            opt_str(obj.get("namespace")),
        )
