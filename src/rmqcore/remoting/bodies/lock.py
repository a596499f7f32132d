"""LOCK_BATCH_MQ (41) / UNLOCK_BATCH_MQ (42) bodies (reference section 3)."""

from __future__ import annotations

from dataclasses import field
from typing import Any

from rmqcore.message import MessageQueue
from rmqcore.remoting._records import record
from rmqcore.remoting.bodies._base import JsonBody, as_bool, as_dict, as_int32, as_list, as_str


def _mq_to_json(mq: MessageQueue) -> dict[str, Any]:
    return {"brokerName": mq.broker_name, "queueId": mq.queue_id, "topic": mq.topic}


def _mq_from_json(obj: Any) -> MessageQueue:
    obj = as_dict(obj)
    return MessageQueue(as_str(obj["topic"]), as_str(obj["brokerName"]), as_int32(obj["queueId"]))


@record
class LockBatchRequestBody(JsonBody):
    """
    >>> body = LockBatchRequestBody("CG", "cid", [MessageQueue("T", "broker-a", 0)])
    >>> LockBatchRequestBody.decode(body.encode()) == body
    True
    """

    consumer_group: str
    client_id: str
    mq_set: list[MessageQueue] = field(default_factory=list)
    only_this_broker: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "clientId": self.client_id,
            "consumerGroup": self.consumer_group,
            "mqSet": [_mq_to_json(mq) for mq in self.mq_set],
            "onlyThisBroker": self.only_this_broker,
        }

    @classmethod
    def from_json(cls, obj: Any) -> LockBatchRequestBody:
        obj = as_dict(obj)
        return cls(
            as_str(obj.get("consumerGroup", "")),
            as_str(obj.get("clientId", "")),
            [_mq_from_json(mq) for mq in as_list(obj.get("mqSet"))],
            as_bool(obj.get("onlyThisBroker", False)),
        )


@record
class UnlockBatchRequestBody(LockBatchRequestBody):
    """Same shape as the lock request."""

    @classmethod
    def from_json(cls, obj: Any) -> UnlockBatchRequestBody:
        base = LockBatchRequestBody.from_json(obj)
        return cls(base.consumer_group, base.client_id, base.mq_set, base.only_this_broker)


@record
class LockBatchResponseBody(JsonBody):
    lock_ok_mq_set: list[MessageQueue] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"lockOKMQSet": [_mq_to_json(mq) for mq in self.lock_ok_mq_set]}

    @classmethod
    def from_json(cls, obj: Any) -> LockBatchResponseBody:
        return cls([_mq_from_json(mq) for mq in as_list(as_dict(obj).get("lockOKMQSet"))])
