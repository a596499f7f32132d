"""Typed custom headers (extFields) of every request the broker and name server serve
(reference section 3). Each class has ``from_ext(ext)`` (raises ``HeaderError``) and
``to_ext() -> dict[str, str]``; ``REQUEST_HEADERS`` maps a request code to its class.

>>> h = REQUEST_HEADERS[105].from_ext({"topic": "TopicTest", "ns": "x"})
>>> h
GetRouteInfoRequestHeader(topic='TopicTest', accept_standard_json_only=None)
>>> h.to_ext()
{'topic': 'TopicTest'}
"""

from __future__ import annotations

from rmqcore.remoting.headers._base import ExtHeader, ext_key
from rmqcore.remoting.headers.admin import CreateTopicRequestHeader
from rmqcore.remoting.headers.client import (
    IS_SUB_CHANGE,
    IS_SUPPORT_HEART_BEAT_V2,
    ConsumeMessageDirectlyResultRequestHeader,
    ConsumerSendMsgBackRequestHeader,
    GetConsumerListByGroupRequestHeader,
    GetConsumerRunningInfoRequestHeader,
    NotifyConsumerIdsChangedRequestHeader,
    UnregisterClientRequestHeader,
)
from rmqcore.remoting.headers.namesrv import (
    BrokerHeartbeatRequestHeader,
    DeleteKVConfigRequestHeader,
    GetKVConfigRequestHeader,
    GetKVConfigResponseHeader,
    GetRouteInfoRequestHeader,
    GetTopicsByClusterRequestHeader,
    PutKVConfigRequestHeader,
    QueryDataVersionRequestHeader,
    QueryDataVersionResponseHeader,
    RegisterBrokerRequestHeader,
    RegisterBrokerResponseHeader,
    UnregisterBrokerRequestHeader,
)
from rmqcore.remoting.headers.offset import (
    GetEarliestMsgStoretimeRequestHeader,
    GetEarliestMsgStoretimeResponseHeader,
    GetMaxOffsetRequestHeader,
    GetMaxOffsetResponseHeader,
    GetMinOffsetRequestHeader,
    GetMinOffsetResponseHeader,
    QueryConsumerOffsetRequestHeader,
    QueryConsumerOffsetResponseHeader,
    SearchOffsetRequestHeader,
    SearchOffsetResponseHeader,
    UpdateConsumerOffsetRequestHeader,
)
from rmqcore.remoting.headers.pull import PullMessageRequestHeader, PullMessageResponseHeader
from rmqcore.remoting.headers.query import (
    UNIQUE_KEY_QUERY,
    QueryMessageRequestHeader,
    QueryMessageResponseHeader,
    ViewMessageRequestHeader,
)
from rmqcore.remoting.headers.send import (
    SendMessageRequestHeader,
    SendMessageRequestHeaderV2,
    SendMessageResponseHeader,
    decode_send_request_header,
    encode_send_request_ext,
)
from rmqcore.remoting.headers.transaction import (
    CheckTransactionStateRequestHeader,
    CommitOrRollback,
    EndTransactionRequestHeader,
)

REQUEST_HEADER_CLASSES: tuple[type[ExtHeader], ...] = (
    SendMessageRequestHeader,
    SendMessageRequestHeaderV2,
    PullMessageRequestHeader,
    QueryMessageRequestHeader,
    ViewMessageRequestHeader,
    QueryConsumerOffsetRequestHeader,
    UpdateConsumerOffsetRequestHeader,
    CreateTopicRequestHeader,
    SearchOffsetRequestHeader,
    GetMaxOffsetRequestHeader,
    GetMinOffsetRequestHeader,
    GetEarliestMsgStoretimeRequestHeader,
    UnregisterClientRequestHeader,
    ConsumerSendMsgBackRequestHeader,
    EndTransactionRequestHeader,
    GetConsumerListByGroupRequestHeader,
    CheckTransactionStateRequestHeader,
    NotifyConsumerIdsChangedRequestHeader,
    PutKVConfigRequestHeader,
    GetKVConfigRequestHeader,
    DeleteKVConfigRequestHeader,
    RegisterBrokerRequestHeader,
    UnregisterBrokerRequestHeader,
    GetRouteInfoRequestHeader,
    GetTopicsByClusterRequestHeader,
    GetConsumerRunningInfoRequestHeader,
    ConsumeMessageDirectlyResultRequestHeader,
    QueryDataVersionRequestHeader,
    BrokerHeartbeatRequestHeader,
)

RESPONSE_HEADER_CLASSES: tuple[type[ExtHeader], ...] = (
    SendMessageResponseHeader,
    PullMessageResponseHeader,
    QueryMessageResponseHeader,
    QueryConsumerOffsetResponseHeader,
    SearchOffsetResponseHeader,
    GetMaxOffsetResponseHeader,
    GetMinOffsetResponseHeader,
    GetEarliestMsgStoretimeResponseHeader,
    GetKVConfigResponseHeader,
    RegisterBrokerResponseHeader,
    QueryDataVersionResponseHeader,
)

#: Request code → header class (codes with no header, e.g. 21, 34, 106, 206, are absent).
REQUEST_HEADERS: dict[int, type[ExtHeader]] = {
    int(code): cls for cls in REQUEST_HEADER_CLASSES for code in cls.REQUEST_CODES
}

__all__ = [
    "IS_SUB_CHANGE",
    "IS_SUPPORT_HEART_BEAT_V2",
    "REQUEST_HEADERS",
    "REQUEST_HEADER_CLASSES",
    "RESPONSE_HEADER_CLASSES",
    "UNIQUE_KEY_QUERY",
    "BrokerHeartbeatRequestHeader",
    "CheckTransactionStateRequestHeader",
    "CommitOrRollback",
    "ConsumeMessageDirectlyResultRequestHeader",
    "ConsumerSendMsgBackRequestHeader",
    "CreateTopicRequestHeader",
    "DeleteKVConfigRequestHeader",
    "EndTransactionRequestHeader",
    "ExtHeader",
    "GetConsumerListByGroupRequestHeader",
    "GetConsumerRunningInfoRequestHeader",
    "GetEarliestMsgStoretimeRequestHeader",
    "GetEarliestMsgStoretimeResponseHeader",
    "GetKVConfigRequestHeader",
    "GetKVConfigResponseHeader",
    "GetMaxOffsetRequestHeader",
    "GetMaxOffsetResponseHeader",
    "GetMinOffsetRequestHeader",
    "GetMinOffsetResponseHeader",
    "GetRouteInfoRequestHeader",
    "GetTopicsByClusterRequestHeader",
    "NotifyConsumerIdsChangedRequestHeader",
    "PullMessageRequestHeader",
    "PullMessageResponseHeader",
    "PutKVConfigRequestHeader",
    "QueryConsumerOffsetRequestHeader",
    "QueryConsumerOffsetResponseHeader",
    "QueryDataVersionRequestHeader",
    "QueryDataVersionResponseHeader",
    "QueryMessageRequestHeader",
    "QueryMessageResponseHeader",
    "RegisterBrokerRequestHeader",
    "RegisterBrokerResponseHeader",
    "SearchOffsetRequestHeader",
    "SearchOffsetResponseHeader",
    "SendMessageRequestHeader",
    "SendMessageRequestHeaderV2",
    "SendMessageResponseHeader",
    "UnregisterBrokerRequestHeader",
    "UnregisterClientRequestHeader",
    "UpdateConsumerOffsetRequestHeader",
    "ViewMessageRequestHeader",
    "decode_send_request_header",
    "encode_send_request_ext",
    "ext_key",
]
