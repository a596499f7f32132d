"""QUERY_CONSUMER_OFFSET (14), UPDATE_CONSUMER_OFFSET (15), GET_CONSUMER_LIST_BY_GROUP (38):
RocketMQ's ``ConsumerManageProcessor`` (reference section 3, "Other headers")."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rmqcore.remoting import RemotingCommand, RequestCode, ResponseCode, make_response
from rmqcore.remoting.bodies.client import ConsumerListBody
from rmqcore.remoting.headers.client import GetConsumerListByGroupRequestHeader
from rmqcore.remoting.headers.offset import (
    QueryConsumerOffsetRequestHeader,
    QueryConsumerOffsetResponseHeader,
    UpdateConsumerOffsetRequestHeader,
)

if TYPE_CHECKING:
    from rmqcore.server.broker.controller import BrokerController


class ConsumerManageProcessor:
    def __init__(self, broker: BrokerController) -> None:
        self.broker = broker

    def handlers(self) -> dict[int, Any]:
        return {
            RequestCode.QUERY_CONSUMER_OFFSET: self.query_consumer_offset,
            RequestCode.UPDATE_CONSUMER_OFFSET: self.update_consumer_offset,
            RequestCode.GET_CONSUMER_LIST_BY_GROUP: self.get_consumer_list,
        }

    def get_consumer_list(self, channel: Any, cmd: RemotingCommand) -> RemotingCommand:
        header = GetConsumerListByGroupRequestHeader.from_ext(cmd.ext_fields)
        ids = self.broker.consumers.consumer_ids(header.consumer_group)
        if ids:
            return make_response(cmd, ResponseCode.SUCCESS, body=ConsumerListBody(ids).encode())
        return make_response(cmd, ResponseCode.SYSTEM_ERROR, f"no consumer for this group, {header.consumer_group}")

    def update_consumer_offset(self, channel: Any, cmd: RemotingCommand) -> RemotingCommand:
        header = UpdateConsumerOffsetRequestHeader.from_ext(cmd.ext_fields)
        broker = self.broker
        if header.topic not in broker.topics:
            return make_response(cmd, ResponseCode.TOPIC_NOT_EXIST, f"Topic {header.topic} not exist!")
        if broker.groups.find_or_create(header.consumer_group) is None:
            return make_response(
                cmd, ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST, f"Group {header.consumer_group} not exist!"
            )
        broker.offsets.commit(header.consumer_group, header.topic, header.queue_id, header.commit_offset)
        return make_response(cmd, ResponseCode.SUCCESS)

    def query_consumer_offset(self, channel: Any, cmd: RemotingCommand) -> RemotingCommand:
        header = QueryConsumerOffsetRequestHeader.from_ext(cmd.ext_fields)
        broker = self.broker
        offset = broker.offsets.query(header.consumer_group, header.topic, header.queue_id)
        if offset >= 0:
            return make_response(cmd, ResponseCode.SUCCESS, ext=QueryConsumerOffsetResponseHeader(offset))
        if header.set_zero_if_not_found is False:
            return make_response(cmd, ResponseCode.QUERY_NOT_FOUND, "Not found, do not set to zero, maybe this group boot first")
        # No commit yet: a queue whose first message (offset 0) is still there starts at 0
        # (``checkInMemByConsumeOffset(topic, queueId, 0, 1)``), else the client decides.
        store = broker.store
        if store.min_offset(header.topic, header.queue_id) <= 0 and store.max_offset(header.topic, header.queue_id) > 0:
            return make_response(cmd, ResponseCode.SUCCESS, ext=QueryConsumerOffsetResponseHeader(0))
        return make_response(cmd, ResponseCode.QUERY_NOT_FOUND, "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first")
