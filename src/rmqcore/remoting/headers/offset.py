"""Consumer offsets and queue offsets (reference section 3): QUERY_CONSUMER_OFFSET (14),
UPDATE_CONSUMER_OFFSET (15), SEARCH_OFFSET_BY_TIMESTAMP (29), GET_MAX_OFFSET (30),
GET_MIN_OFFSET (31), GET_EARLIEST_MSG_STORETIME (32)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rmqcore.remoting.codes import RequestCode
from rmqcore.remoting.headers._base import ExtHeader, JavaInt, JavaLong


@dataclass(slots=True)
class QueryConsumerOffsetRequestHeader(ExtHeader):
    REQUEST_CODES: ClassVar[tuple[int, ...]] = (RequestCode.QUERY_CONSUMER_OFFSET,)

    consumer_group: str
    topic: str
    queue_id: JavaInt
    set_zero_if_not_found: bool | None = None


@dataclass(slots=True)
class QueryConsumerOffsetResponseHeader(ExtHeader):
    offset: JavaLong


@dataclass(slots=True)
class UpdateConsumerOffsetRequestHeader(ExtHeader):
    REQUEST_CODES: ClassVar[tuple[int, ...]] = (RequestCode.UPDATE_CONSUMER_OFFSET,)

    consumer_group: str
    topic: str
    queue_id: JavaInt
    commit_offset: JavaLong


@dataclass(slots=True)
class SearchOffsetRequestHeader(ExtHeader):
    """``boundary_type`` (5.x) is ``LOWER`` or ``UPPER``; absent means LOWER."""

    REQUEST_CODES: ClassVar[tuple[int, ...]] = (RequestCode.SEARCH_OFFSET_BY_TIMESTAMP,)

    topic: str
    queue_id: JavaInt
    timestamp: JavaLong
    boundary_type: str | None = None


@dataclass(slots=True)
class SearchOffsetResponseHeader(ExtHeader):
    offset: JavaLong


@dataclass(slots=True)
class GetMaxOffsetRequestHeader(ExtHeader):
    REQUEST_CODES: ClassVar[tuple[int, ...]] = (RequestCode.GET_MAX_OFFSET,)

    topic: str
    queue_id: JavaInt
    committed: bool = True


@dataclass(slots=True)
class GetMaxOffsetResponseHeader(ExtHeader):
    offset: JavaLong


@dataclass(slots=True)
class GetMinOffsetRequestHeader(ExtHeader):
    REQUEST_CODES: ClassVar[tuple[int, ...]] = (RequestCode.GET_MIN_OFFSET,)

    topic: str
    queue_id: JavaInt


@dataclass(slots=True)
class GetMinOffsetResponseHeader(ExtHeader):
    offset: JavaLong


@dataclass(slots=True)
class GetEarliestMsgStoretimeRequestHeader(ExtHeader):
    REQUEST_CODES: ClassVar[tuple[int, ...]] = (RequestCode.GET_EARLIEST_MSG_STORETIME,)

    topic: str
    queue_id: JavaInt


@dataclass(slots=True)
class GetEarliestMsgStoretimeResponseHeader(ExtHeader):
    timestamp: JavaLong
