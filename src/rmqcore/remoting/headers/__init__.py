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

from collections.abc import Mapping
from typing import Any

from rmqcore.remoting.codes import RequestCode, ResponseCode
from rmqcore.remoting.errors import HeaderError
from rmqcore.remoting.headers._base import ExtHeader, JavaInt, JavaLong, ext_key
from rmqcore.remoting.headers.admin import CreateTopicRequestHeader
from rmqcore.remoting.headers.client import (
    IS_SUB_CHANGE,
    IS_SUPPORT_HEART_BEAT_V2,
    ConsumeMessageDirectlyResultRequestHeader,
    ConsumerSendMsgBackRequestHeader,
    GetConsumerListByGroupRequestHeader,
    GetConsumerRunningInfoRequestHeader,
    NotifyConsumerIdsChangedRequestHeader,
    ReplyMessageRequestHeader,
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
    ReplyMessageRequestHeader,
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



def decode_request_header(code: int, ext: Mapping[str, Any]) -> ExtHeader:
    """The typed header of request ``code``; send codes (10/310/320) all give the V1 shape.

    Raises ``HeaderError`` for a missing/unparsable field, or (key ``"code"``,
    REQUEST_CODE_NOT_SUPPORTED) for a code without a header class.

    >>> decode_request_header(14, {"consumerGroup": "CG", "topic": "T", "queueId": "0"})
    QueryConsumerOffsetRequestHeader(consumer_group='CG', topic='T', queue_id=0, set_zero_if_not_found=None)
    """
    if code in _SEND_CODES:
        return decode_send_request_header(code, ext)
    cls = REQUEST_HEADERS.get(code)
    if cls is None:
        raise HeaderError("code", f"request code {code} has no custom header", ResponseCode.REQUEST_CODE_NOT_SUPPORTED)
    return cls.from_ext(ext)


_SEND_CODES = frozenset(
    int(code)
    for code in (
        RequestCode.SEND_MESSAGE,
        RequestCode.SEND_MESSAGE_V2,
        RequestCode.SEND_BATCH_MESSAGE,
        RequestCode.SEND_REPLY_MESSAGE,
        RequestCode.SEND_REPLY_MESSAGE_V2,
    )
)

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
    "JavaInt",
    "JavaLong",
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
    "ReplyMessageRequestHeader",
    "SearchOffsetRequestHeader",
    "SearchOffsetResponseHeader",
    "SendMessageRequestHeader",
    "SendMessageRequestHeaderV2",
    "SendMessageResponseHeader",
    "UnregisterBrokerRequestHeader",
    "UnregisterClientRequestHeader",
    "UpdateConsumerOffsetRequestHeader",
    "ViewMessageRequestHeader",
    "decode_request_header",
    "decode_send_request_header",
    "encode_send_request_ext",
    "ext_key",
]
