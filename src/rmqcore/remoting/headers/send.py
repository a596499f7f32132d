"""SEND_MESSAGE (10), SEND_MESSAGE_V2 (310), SEND_BATCH_MESSAGE (320) and the send
response header (reference section 3). SEND_REPLY_MESSAGE (324) and _V2 (325) carry the
same headers as 10 and 310 (``MQClientAPIImpl.sendMessage`` picks the code by MSG_TYPE).

V1 uses long key names, V2 single letters ``a``..``n``; both classes have the
same attributes, so ``to_v1``/``from_v1`` are field copies. A broker calls
``decode_send_request_header(cmd.code, cmd.ext_fields)`` and gets the V1 shape
whatever the client sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from rmqcore.remoting._records import record
from rmqcore.remoting.codes import RequestCode
from rmqcore.remoting.errors import HeaderError
from rmqcore.remoting.headers._base import ExtHeader, JavaInt, JavaLong, ext_key, parse_ext, render_ext


@record
class SendMessageRequestHeader(ExtHeader):
    """SEND_MESSAGE (10), long keys. ``queue_id`` < 0 lets the broker pick a queue.

    >>> h = SendMessageRequestHeader.from_ext({"producerGroup": "PG", "topic": "T", "defaultTopic": "TBW102",
    ...     "defaultTopicQueueNums": 4, "queueId": "1", "sysFlag": "0", "bornTimestamp": "1700000000000", "flag": "0"})
    >>> (h.queue_id, h.default_topic_queue_nums, h.unit_mode)
    (1, 4, False)
    """

    REQUEST_CODES: ClassVar[tuple[int, ...]] = (RequestCode.SEND_MESSAGE, RequestCode.SEND_REPLY_MESSAGE)

    producer_group: str
    topic: str
    default_topic: str
    default_topic_queue_nums: JavaInt
    queue_id: JavaInt
    sys_flag: JavaInt
    born_timestamp: JavaLong
    flag: JavaInt
    properties: str | None = None
    reconsume_times: JavaInt | None = None
    unit_mode: bool = False
    batch: bool = False
    max_reconsume_times: JavaInt | None = None
    broker_name: str | None = ext_key("bname", None)

    def to_v2(self) -> SendMessageRequestHeaderV2:
        return SendMessageRequestHeaderV2(**{name: getattr(self, name) for name in _FIELDS})


@record
class SendMessageRequestHeaderV2(ExtHeader):
    """SEND_MESSAGE_V2 (310) and SEND_BATCH_MESSAGE (320), single-letter keys.

    >>> v2 = SendMessageRequestHeaderV2("PG", "T", "TBW102", 4, -1, 0, 1700000000000, 0, batch=True)
    >>> v2.to_ext()["m"], v2.to_v1().to_ext()["batch"]
    ('true', 'true')
    """

    REQUEST_CODES: ClassVar[tuple[int, ...]] = (
        RequestCode.SEND_MESSAGE_V2,
        RequestCode.SEND_BATCH_MESSAGE,
        RequestCode.SEND_REPLY_MESSAGE_V2,
    )

    producer_group: str = ext_key("a")
    topic: str = ext_key("b")
    default_topic: str = ext_key("c")
    default_topic_queue_nums: JavaInt = ext_key("d")
    queue_id: JavaInt = ext_key("e")
    sys_flag: JavaInt = ext_key("f")
    born_timestamp: JavaLong = ext_key("g")
    flag: JavaInt = ext_key("h")
    properties: str | None = ext_key("i", None)
    reconsume_times: JavaInt | None = ext_key("j", None)
    unit_mode: bool = ext_key("k", False)
    max_reconsume_times: JavaInt | None = ext_key("l", None)
    batch: bool = ext_key("m", False)
    broker_name: str | None = ext_key("n", None)

    def to_v1(self) -> SendMessageRequestHeader:
        return SendMessageRequestHeader(**{name: getattr(self, name) for name in _FIELDS})

    @classmethod
    def from_v1(cls, header: SendMessageRequestHeader) -> SendMessageRequestHeaderV2:
        return header.to_v2()


_FIELDS = (
    "producer_group", "topic", "default_topic", "default_topic_queue_nums", "queue_id", "sys_flag",
    "born_timestamp", "flag", "properties", "reconsume_times", "unit_mode", "batch",
    "max_reconsume_times", "broker_name",
)  # fmt: skip


def decode_send_request_header(code: int, ext: Mapping[str, Any]) -> SendMessageRequestHeader:
    """The send header of a 10, 310 or 320 request (or 324/325, a reply), always in the V1 shape.

    >>> h = decode_send_request_header(310, {"a": "PG", "b": "T", "c": "TBW102", "d": "4", "e": "0",
    ...     "f": "0", "g": "1", "h": "0", "m": "true"})
    >>> (h.producer_group, h.topic, h.batch)
    ('PG', 'T', True)
    """
    if code == RequestCode.SEND_MESSAGE_V2 or code == RequestCode.SEND_BATCH_MESSAGE or code == RequestCode.SEND_REPLY_MESSAGE_V2:
        # Read letter keys straight into the V1 class: one object on the hot path.
        return parse_ext(SendMessageRequestHeader, SendMessageRequestHeaderV2, ext)
    if code == RequestCode.SEND_MESSAGE or code == RequestCode.SEND_REPLY_MESSAGE:
        return SendMessageRequestHeader.from_ext(ext)
    raise HeaderError("code", f"request code {code} is not a send request")


def encode_send_request_ext(header: SendMessageRequestHeader, v2: bool = True) -> dict[str, str]:
    """extFields for a send request: letter keys (code 310/320) or long keys (code 10)."""
    return render_ext(header, SendMessageRequestHeaderV2) if v2 else header.to_ext()


@record
class SendMessageResponseHeader(ExtHeader):
    """Send response (reference section 3): ``msg_id`` is the offset message id (comma-joined for a
    batch), ``queue_offset`` the (first) queue offset, ``transaction_id`` the UNIQ_KEY."""

    msg_id: str
    queue_id: JavaInt
    queue_offset: JavaLong
    transaction_id: str | None = None
    batch_uniq_id: str | None = None
    recall_handle: str | None = None
