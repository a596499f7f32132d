"""QUERY_MESSAGE (12) and VIEW_MESSAGE_BY_ID (33): RocketMQ's ``QueryMessageProcessor``.

Both answer with stored records as they are on disk (reference section 3, "Other headers").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rmqcore.remoting import RemotingCommand, RequestCode, ResponseCode, make_response
from rmqcore.remoting.headers.query import QueryMessageRequestHeader, QueryMessageResponseHeader, ViewMessageRequestHeader

if TYPE_CHECKING:
    from rmqcore.server.broker.controller import BrokerController

UNIQUE_KEY_QUERY = "_UNIQUE_KEY_QUERY"
DEFAULT_QUERY_MAX_NUM = 32  # MessageStoreConfig.defaultQueryMaxNum


class QueryProcessor:
    def __init__(self, broker: BrokerController) -> None:
        self.broker = broker

    def handlers(self) -> dict[int, Any]:
        return {RequestCode.QUERY_MESSAGE: self.query_message, RequestCode.VIEW_MESSAGE_BY_ID: self.view_message_by_id}

    def query_message(self, channel: Any, cmd: RemotingCommand) -> RemotingCommand:
        header = QueryMessageRequestHeader.from_ext(cmd.ext_fields)
        max_num = header.max_num
        if cmd.ext_fields.get(UNIQUE_KEY_QUERY) == "true":
            max_num = DEFAULT_QUERY_MAX_NUM
        result = self.broker.store.query_by_key(header.topic, header.key, max_num, header.begin_timestamp, header.end_timestamp)
        ext = QueryMessageResponseHeader(result.index_last_update_timestamp, result.index_last_update_phy_offset)
        if not result.raw:
            return make_response(cmd, ResponseCode.QUERY_NOT_FOUND, "can not find message, maybe time range not correct", ext=ext)
        return make_response(cmd, ResponseCode.SUCCESS, ext=ext, body=result.raw)

    def view_message_by_id(self, channel: Any, cmd: RemotingCommand) -> RemotingCommand:
        header = ViewMessageRequestHeader.from_ext(cmd.ext_fields)
        raw = self.broker.stored_record(header.offset)
        if not raw:
            return make_response(cmd, ResponseCode.SYSTEM_ERROR, f"can not find message by the offset, {header.offset}")
        return make_response(cmd, ResponseCode.SUCCESS, body=raw)
