"""Client management (reference section 3): UNREGISTER_CLIENT (35), CONSUMER_SEND_MSG_BACK (36),
GET_CONSUMER_LIST_BY_GROUP (38), NOTIFY_CONSUMER_IDS_CHANGED (40), GET_CONSUMER_RUNNING_INFO (307),
CONSUME_MESSAGE_DIRECTLY (309), PUSH_REPLY_MESSAGE_TO_CLIENT (326) and HEART_BEAT (34) response keys."""

from __future__ import annotations

from typing import ClassVar, Final

from rmqcore.remoting._records import record
from rmqcore.remoting.codes import RequestCode
from rmqcore.remoting.headers._base import ExtHeader, JavaInt, JavaLong, ext_key

#: HEART_BEAT (34) response extFields (5.x heartbeat V2, reference section 3).
IS_SUPPORT_HEART_BEAT_V2: Final = "IS_SUPPORT_HEART_BEAT_V2"
IS_SUB_CHANGE: Final = "IS_SUB_CHANGE"


@record
class UnregisterClientRequestHeader(ExtHeader):
    REQUEST_CODES: ClassVar[tuple[int, ...]] = (RequestCode.UNREGISTER_CLIENT,)

    client_id: str = ext_key("clientID")
    producer_group: str | None = None
    consumer_group: str | None = None


@record
class ConsumerSendMsgBackRequestHeader(ExtHeader):
    """``offset`` is the commitlog offset of the failed message (section 10)."""

    REQUEST_CODES: ClassVar[tuple[int, ...]] = (RequestCode.CONSUMER_SEND_MSG_BACK,)

    offset: JavaLong
    group: str
    delay_level: JavaInt
    origin_msg_id: str | None = None
    origin_topic: str | None = None
    unit_mode: bool = False
    max_reconsume_times: JavaInt | None = None
    broker_name: str | None = ext_key("bname", None)


@record
class GetConsumerListByGroupRequestHeader(ExtHeader):
    REQUEST_CODES: ClassVar[tuple[int, ...]] = (RequestCode.GET_CONSUMER_LIST_BY_GROUP,)

    consumer_group: str


@record
class NotifyConsumerIdsChangedRequestHeader(ExtHeader):
    REQUEST_CODES: ClassVar[tuple[int, ...]] = (RequestCode.NOTIFY_CONSUMER_IDS_CHANGED,)

    consumer_group: str


@record
class GetConsumerRunningInfoRequestHeader(ExtHeader):
    REQUEST_CODES: ClassVar[tuple[int, ...]] = (RequestCode.GET_CONSUMER_RUNNING_INFO,)

    consumer_group: str
    client_id: str
    jstack_enable: bool = False


@record
class ConsumeMessageDirectlyResultRequestHeader(ExtHeader):
    """CONSUME_MESSAGE_DIRECTLY (309); the body is the encoded message."""

    REQUEST_CODES: ClassVar[tuple[int, ...]] = (RequestCode.CONSUME_MESSAGE_DIRECTLY,)

    consumer_group: str
    client_id: str | None = None
    msg_id: str | None = None
    broker_name: str | None = None
    topic: str | None = None
    topic_sys_flag: JavaInt | None = None
    group_sys_flag: JavaInt | None = None


@record
class ReplyMessageRequestHeader(ExtHeader):
    """PUSH_REPLY_MESSAGE_TO_CLIENT (326): a reply pushed by the broker to the client that sent
    the request (``ReplyMessageRequestHeader``); the body is the reply's body.

    The send header's fields in long keys, plus where the reply came from: ``born_host`` and
    ``store_host`` as Java's ``InetSocketAddress.toString()`` renders them (``/127.0.0.1:10911``)
    and the broker's clock at the push.

    >>> h = ReplyMessageRequestHeader("PG", "C_REPLY_TOPIC", "TBW102", 4, 0, 0, 1700000000000, 0,
    ...     born_host="/127.0.0.1:50000", store_host="/127.0.0.1:10911", store_timestamp=1700000000005)
    >>> h.to_ext()["storeHost"], ReplyMessageRequestHeader.from_ext(h.to_ext()) == h
    ('/127.0.0.1:10911', True)
    """

    REQUEST_CODES: ClassVar[tuple[int, ...]] = (RequestCode.PUSH_REPLY_MESSAGE_TO_CLIENT,)

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
    born_host: str = ""
    store_host: str = ""
    store_timestamp: JavaLong = 0
