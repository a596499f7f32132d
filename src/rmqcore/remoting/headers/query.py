"""Message lookup (reference section 3): QUERY_MESSAGE (12) and VIEW_MESSAGE_BY_ID (33).
Bodies of both responses are concatenated stored messages (section 4)."""

from __future__ import annotations

from typing import ClassVar

from rmqcore.remoting._records import record
from rmqcore.remoting.codes import RequestCode
from rmqcore.remoting.headers._base import ExtHeader, JavaInt, JavaLong

#: extFields key a client adds to QUERY_MESSAGE for a UNIQ_KEY lookup ("true"); the
#: broker then uses its defaultQueryMaxNum (32) instead of ``max_num``.
UNIQUE_KEY_QUERY = "_UNIQUE_KEY_QUERY"


@record
class QueryMessageRequestHeader(ExtHeader):
    REQUEST_CODES: ClassVar[tuple[int, ...]] = (RequestCode.QUERY_MESSAGE,)

    topic: str
    key: str
    max_num: JavaInt
    begin_timestamp: JavaLong
    end_timestamp: JavaLong


@record
class QueryMessageResponseHeader(ExtHeader):
    index_last_update_timestamp: JavaLong
    index_last_update_phyoffset: JavaLong


@record
class ViewMessageRequestHeader(ExtHeader):
    """``offset`` is the commitlog offset (decoded from an offset message id)."""

    REQUEST_CODES: ClassVar[tuple[int, ...]] = (RequestCode.VIEW_MESSAGE_BY_ID,)

    offset: JavaLong
    topic: str | None = None
