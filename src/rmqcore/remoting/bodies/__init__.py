"""JSON bodies (reference sections 3 and 10). Every class has ``encode() -> bytes``,
``decode(data)`` (raises ``BodyError``), ``to_json()`` and ``from_json(obj)``.

>>> TopicList.decode(TopicList(["A", "B"]).encode()).topic_list
['A', 'B']
"""

from rmqcore.remoting.bodies._base import JsonBody
from rmqcore.remoting.bodies._json import loads_lenient, rectify_int_keys
from rmqcore.remoting.bodies.client import ConsumeMessageDirectlyResult, ConsumerListBody, KVTable, decode_json_body
from rmqcore.remoting.bodies.data_version import DataVersion
from rmqcore.remoting.bodies.heartbeat import (
    SUB_ALL,
    CheckClientRequestBody,
    ConsumeFromWhere,
    ConsumerData,
    ConsumeType,
    HeartbeatData,
    MessageModel,
    ProducerData,
    SubscriptionData,
    parse_enum,
)
from rmqcore.remoting.bodies.lock import LockBatchRequestBody, LockBatchResponseBody, UnlockBatchRequestBody
from rmqcore.remoting.bodies.offset import (
    TOPIC_GROUP_SEPARATOR,
    ConsumerOffsetSerializeWrapper,
    DelayOffsetSerializeWrapper,
)
from rmqcore.remoting.bodies.route import MASTER_ID, BrokerData, ClusterInfo, QueueData, TopicRouteData
from rmqcore.remoting.bodies.topic import RegisterBrokerBody, TopicConfig, TopicConfigSerializeWrapper, TopicList

__all__ = [
    "MASTER_ID",
    "SUB_ALL",
    "TOPIC_GROUP_SEPARATOR",
    "BrokerData",
    "CheckClientRequestBody",
    "ClusterInfo",
    "ConsumeFromWhere",
    "ConsumeMessageDirectlyResult",
    "ConsumeType",
    "ConsumerData",
    "ConsumerListBody",
    "ConsumerOffsetSerializeWrapper",
    "DataVersion",
    "DelayOffsetSerializeWrapper",
    "HeartbeatData",
    "JsonBody",
    "KVTable",
    "LockBatchRequestBody",
    "LockBatchResponseBody",
    "MessageModel",
    "ProducerData",
    "QueueData",
    "RegisterBrokerBody",
    "SubscriptionData",
    "TopicConfig",
    "TopicConfigSerializeWrapper",
    "TopicList",
    "TopicRouteData",
    "UnlockBatchRequestBody",
    "decode_json_body",
    "loads_lenient",
    "parse_enum",
    "rectify_int_keys",
]
