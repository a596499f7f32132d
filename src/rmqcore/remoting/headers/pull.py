"""PULL_MESSAGE (11) / LITE_PULL_MESSAGE (361) request and the pull response header
(reference section 3). ``sys_flag`` carries PullSysFlag bits (COMMIT_OFFSET 0x1,
SUSPEND 0x2, SUBSCRIPTION 0x4, CLASS_FILTER 0x8, LITE_PULL 0x10)."""

from __future__ import annotations

from typing import ClassVar

from rmqcore.remoting._records import record
from rmqcore.remoting.codes import RequestCode
from rmqcore.remoting.headers._base import ExtHeader, JavaInt, JavaLong, ext_key


@record
class PullMessageRequestHeader(ExtHeader):
    """
    >>> h = PullMessageRequestHeader("CG", "T", 0, 5, 32, 0x2, 0, 15000, 0, subscription="*")
    >>> PullMessageRequestHeader.from_ext(h.to_ext()) == h
    True
    """

    REQUEST_CODES: ClassVar[tuple[int, ...]] = (RequestCode.PULL_MESSAGE, RequestCode.LITE_PULL_MESSAGE)

    consumer_group: str
    topic: str
    queue_id: JavaInt
    queue_offset: JavaLong
    max_msg_nums: JavaInt
    sys_flag: JavaInt
    commit_offset: JavaLong
    suspend_timeout_millis: JavaLong
    sub_version: JavaLong
    subscription: str | None = None
    expression_type: str | None = None
    max_msg_bytes: JavaInt | None = None
    request_source: JavaInt | None = None
    # "Froward" is Java's spelling of the key.
    proxy_forward_client_id: str | None = ext_key("proxyFrowardClientId", None)
    broker_name: str | None = ext_key("bname", None)


@record
class PullMessageResponseHeader(ExtHeader):
    """Required four as in 4.9.x; the rest are 5.x additions."""

    suggest_which_broker_id: JavaLong
    next_begin_offset: JavaLong
    min_offset: JavaLong
    max_offset: JavaLong
    offset_delta: JavaLong | None = None
    topic_sys_flag: JavaInt | None = None
    group_sys_flag: JavaInt | None = None
    forbidden_type: JavaInt | None = None
