"""Consumer offsets and queue offsets (reference section 3): QUERY_CONSUMER_OFFSET (14),
UPDATE_CONSUMER_OFFSET (15), SEARCH_OFFSET_BY_TIMESTAMP (29), GET_MAX_OFFSET (30),
GET_MIN_OFFSET (31), GET_EARLIEST_MSG_STORETIME (32)."""

from __future__ import annotations

from typing import ClassVar

from rmqcore.remoting._records import record
from rmqcore.remoting.codes import RequestCode
from rmqcore.remoting.headers._base import ExtHeader, JavaInt, JavaLong


@record
class QueryConsumerOffsetRequestHeader(ExtHeader):
    REQUEST_CODES: ClassVar[tuple[int, ...]] = (RequestCode.QUERY_CONSUMER_OFFSET,)

    consumer_group: str
    topic: str
    queue_id: JavaInt
    set_zero_if_not_found: bool | None = None


@record
class QueryConsumerOffsetResponseHeader(ExtHeader):
    offset: JavaLong


@record
class UpdateConsumerOffsetRequestHeader(ExtHeader):
    REQUEST_CODES: ClassVar[tuple[int, ...]] = (RequestCode.UPDATE_CONSUMER_OFFSET,)

    consumer_group: str
    topic: str
    queue_id: JavaInt
    commit_offset: JavaLong


@record
class SearchOffsetRequestHeader(ExtHeader):
    """``boundary_type`` (5.x) is ``LOWER`` or ``UPPER``; absent means LOWER."""

    REQUEST_CODES: ClassVar[tuple[int, ...]] = (RequestCode.SEARCH_OFFSET_BY_TIMESTAMP,)

    topic: str
    queue_id: JavaInt
    timestamp: JavaLong
    boundary_type: str | None = None


@record
class SearchOffsetResponseHeader(ExtHeader):
    offset: JavaLong


@record
class GetMaxOffsetRequestHeader(ExtHeader):
    REQUEST_CODES: ClassVar[tuple[int, ...]] = (RequestCode.GET_MAX_OFFSET,)

    topic: str
    queue_id: JavaInt
    committed: bool = True


@record
class GetMaxOffsetResponseHeader(ExtHeader):
    offset: JavaLong


@record
class GetMinOffsetRequestHeader(ExtHeader):
    REQUEST_CODES: ClassVar[tuple[int, ...]] = (RequestCode.GET_MIN_OFFSET,)

    topic: str
    queue_id: JavaInt


@record
class GetMinOffsetResponseHeader(ExtHeader):
    offset: JavaLong


@record
class GetEarliestMsgStoretimeRequestHeader(ExtHeader):
    REQUEST_CODES: ClassVar[tuple[int, ...]] = (RequestCode.GET_EARLIEST_MSG_STORETIME,)

    topic: str
    queue_id: JavaInt


@record
class GetEarliestMsgStoretimeResponseHeader(ExtHeader):
    timestamp: JavaLong
