"""Administration and offset look-ups (RocketMQ's ``AdminBrokerProcessor``, the parts clients use).

UPDATE_AND_CREATE_TOPIC (17), GET_ALL_TOPIC_CONFIG (21), SEARCH_OFFSET_BY_TIMESTAMP (29),
GET_MAX_OFFSET (30), GET_MIN_OFFSET (31), GET_EARLIEST_MSG_STORETIME (32),
GET_ALL_CONSUMER_OFFSET (43), GET_ALL_DELAY_OFFSET (45), GET_TIMER_CHECK_POINT (60), QUERY_BROKER_OFFSET (13),
UPDATE_AND_CREATE_SUBSCRIPTIONGROUP (200), and GET_CONSUMER_RUNNING_INFO (307) and
CONSUME_MESSAGE_DIRECTLY (309), both forwarded to the consumer's own channel (the latter
with the stored message as body, so that an admin can have one consumer consume one
message now: ``consumeMessageDirectly``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, cast

import anyio
import structlog

from rmqcore.message import constants as C
from rmqcore.message import decode_offset_message_id
from rmqcore.remoting import RemotingCommand, RequestCode, ResponseCode, make_response
from rmqcore.remoting.bodies.offset import DelayOffsetSerializeWrapper
from rmqcore.remoting.command import make_request
from rmqcore.remoting.headers.admin import CreateTopicRequestHeader
from rmqcore.remoting.headers.client import ConsumeMessageDirectlyResultRequestHeader, GetConsumerRunningInfoRequestHeader
from rmqcore.remoting.headers.offset import (
    GetEarliestMsgStoretimeRequestHeader,
    GetEarliestMsgStoretimeResponseHeader,
    GetMaxOffsetRequestHeader,
    GetMaxOffsetResponseHeader,
    GetMinOffsetRequestHeader,
    GetMinOffsetResponseHeader,
    SearchOffsetRequestHeader,
    SearchOffsetResponseHeader,
)
from rmqcore.server.broker.persistence import loads_tolerant
from rmqcore.server.broker.subscriptions import SubscriptionGroupConfig
from rmqcore.server.broker.topics import TopicConfig

REGISTER_ON_CREATE_TIMEOUT_S = 3.0

if TYPE_CHECKING:
    from rmqcore.server.broker.controller import BrokerController
    from rmqcore.transport import Channel, ProtocolChannel

log = structlog.get_logger(__name__)

# TopicValidator: only these characters; blank and over-long names are refused too.
_VALID_TOPIC = re.compile(C.VALID_NAME_PATTERN)
CONSUMER_RUNNING_INFO_TIMEOUT_S = 5.0
# Broker2Client.callClient: how long a consumer may take to consume the message it is given.
CONSUME_MESSAGE_DIRECTLY_TIMEOUT_S = 10.0


def validate_topic(topic: str) -> str | None:
    """``TopicValidator.validateTopic``: None when valid, else the remark."""
    if not topic or not topic.strip():
        return "The specified topic is blank."
    if not _VALID_TOPIC.match(topic):
        return f"The specified topic[{topic}] contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$"
    if len(topic.encode("utf-8")) > C.MAX_TOPIC_LENGTH:
        return "The specified topic is longer than topic max length."
    return None


def _parse_attributes(text: str | None) -> dict[str, str]:
    """``AttributeParser.parseToMap``: ``+key=value,+key2=value2`` (a ``-key`` removes; ignored here)."""
    out: dict[str, str] = {}
    for item in (text or "").split(","):
        item = item.strip()
        if item.startswith("+") and "=" in item:
            key, _, value = item[1:].partition("=")
            out[key] = value
    return out


class AdminProcessor:
    def __init__(self, broker: BrokerController) -> None:
        self.broker = broker

    def handlers(self) -> dict[int, Any]:
        return {
            RequestCode.UPDATE_AND_CREATE_TOPIC: self.update_and_create_topic,
            RequestCode.GET_ALL_TOPIC_CONFIG: self.get_all_topic_config,
            RequestCode.SEARCH_OFFSET_BY_TIMESTAMP: self.search_offset_by_timestamp,
            RequestCode.GET_MAX_OFFSET: self.get_max_offset,
            RequestCode.GET_MIN_OFFSET: self.get_min_offset,
            RequestCode.GET_EARLIEST_MSG_STORETIME: self.get_earliest_msg_storetime,
            RequestCode.GET_ALL_CONSUMER_OFFSET: self.get_all_consumer_offset,
            RequestCode.GET_ALL_DELAY_OFFSET: self.get_all_delay_offset,
            RequestCode.GET_TIMER_CHECK_POINT: self.get_timer_check_point,
            RequestCode.QUERY_BROKER_OFFSET: self.query_broker_offset,
            RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP: self.update_and_create_subscription_group,
            RequestCode.GET_CONSUMER_RUNNING_INFO: self.get_consumer_running_info,
            RequestCode.CONSUME_MESSAGE_DIRECTLY: self.consume_message_directly,
        }

    # -- topics ---------------------------------------------------------------------------
    def update_and_create_topic(self, channel: Any, cmd: RemotingCommand) -> RemotingCommand | Awaitable[RemotingCommand]:
        header = CreateTopicRequestHeader.from_ext(cmd.ext_fields)
        broker = self.broker
        remark = validate_topic(header.topic)
        if remark is not None:
            return make_response(cmd, ResponseCode.SYSTEM_ERROR, remark)
        if broker.topics.is_system_topic(header.topic):
            return make_response(cmd, ResponseCode.SYSTEM_ERROR, f"The topic[{header.topic}] is conflict with system topic.")
        config = TopicConfig(
            header.topic,
            header.read_queue_nums,
            header.write_queue_nums,
            header.perm,
            topic_filter_type=header.topic_filter_type or "SINGLE_TAG",
            topic_sys_flag=header.topic_sys_flag or 0,
            order=header.order,
            attributes=_parse_attributes(header.attributes),
        )
        broker.topics.update(config)
        if not broker.config.namesrv_addrs:
            return make_response(cmd, ResponseCode.SUCCESS)

        async def register_then_answer() -> RemotingCommand:
            # Like RocketMQ's registerIncrementBrokerData: the name servers know the new queues
            # before the creator hears SUCCESS, so a route fetched next includes this broker.
            with anyio.move_on_after(REGISTER_ON_CREATE_TIMEOUT_S):
                await broker.registrar.register_all()
            return make_response(cmd, ResponseCode.SUCCESS)

        return register_then_answer()

    def get_all_topic_config(self, channel: Any, cmd: RemotingCommand) -> RemotingCommand:
        body = json.dumps(self.broker.topics.to_json(), separators=(",", ":"), ensure_ascii=False).encode()
        return make_response(cmd, ResponseCode.SUCCESS, body=body)

    def update_and_create_subscription_group(self, channel: Any, cmd: RemotingCommand) -> RemotingCommand:
        try:
            config = SubscriptionGroupConfig.from_json(loads_tolerant((cmd.body or b"").decode("utf-8")))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return make_response(cmd, ResponseCode.SYSTEM_ERROR, f"bad subscription group config: {exc}")
        self.broker.groups.update(config)
        return make_response(cmd, ResponseCode.SUCCESS)

    # -- offsets ----------------------------------------------------------------------------
    def get_max_offset(self, channel: Any, cmd: RemotingCommand) -> RemotingCommand:
        header = GetMaxOffsetRequestHeader.from_ext(cmd.ext_fields)
        offset = self.broker.store.max_offset(header.topic, header.queue_id)
        return make_response(cmd, ResponseCode.SUCCESS, ext=GetMaxOffsetResponseHeader(offset))

    def get_min_offset(self, channel: Any, cmd: RemotingCommand) -> RemotingCommand:
        header = GetMinOffsetRequestHeader.from_ext(cmd.ext_fields)
        offset = self.broker.store.min_offset(header.topic, header.queue_id)
        return make_response(cmd, ResponseCode.SUCCESS, ext=GetMinOffsetResponseHeader(offset))

    def search_offset_by_timestamp(self, channel: Any, cmd: RemotingCommand) -> RemotingCommand:
        header = SearchOffsetRequestHeader.from_ext(cmd.ext_fields)
        offset = self.broker.store_offset_by_time(header.topic, header.queue_id, header.timestamp, header.boundary_type)
        return make_response(cmd, ResponseCode.SUCCESS, ext=SearchOffsetResponseHeader(offset))

    def get_earliest_msg_storetime(self, channel: Any, cmd: RemotingCommand) -> RemotingCommand:
        header = GetEarliestMsgStoretimeRequestHeader.from_ext(cmd.ext_fields)
        timestamp = self.broker.earliest_store_time(header.topic, header.queue_id)
        return make_response(cmd, ResponseCode.SUCCESS, ext=GetEarliestMsgStoretimeResponseHeader(timestamp))

    def get_all_consumer_offset(self, channel: Any, cmd: RemotingCommand) -> RemotingCommand:
        body = json.dumps(self.broker.offsets.to_json(), separators=(",", ":"), ensure_ascii=False).encode()
        return make_response(cmd, ResponseCode.SUCCESS, body=body)

    def get_all_delay_offset(self, channel: Any, cmd: RemotingCommand) -> RemotingCommand:
        delay = self.broker.delay_service
        offsets = delay.offsets() if delay is not None else None
        if not offsets:
            return make_response(cmd, ResponseCode.SYSTEM_ERROR, "No delay offset in this broker")
        return make_response(cmd, ResponseCode.SUCCESS, body=DelayOffsetSerializeWrapper(dict(offsets)).encode())

    def get_timer_check_point(self, channel: Any, cmd: RemotingCommand) -> RemotingCommand:
        """The timer's checkpoint, 56 bytes as ``TimerCheckpoint.encode`` writes them (reference section 7)."""
        delay = self.broker.delay_service
        record = delay.timer_checkpoint_record() if delay is not None else None
        if record is None:
            return make_response(cmd, ResponseCode.SYSTEM_ERROR, "The checkpoint is null")
        return make_response(cmd, ResponseCode.SUCCESS, body=record)

    def query_broker_offset(self, channel: Any, cmd: RemotingCommand) -> RemotingCommand:
        # The commit log's write position: what admin tools show as the broker offset.
        return make_response(cmd, ResponseCode.SUCCESS, ext={"offset": str(self.broker.commitlog_max_offset())})

    # -- pass-through to a consumer --------------------------------------------------------------
    async def get_consumer_running_info(self, channel: Any, cmd: RemotingCommand) -> RemotingCommand:
        header = GetConsumerRunningInfoRequestHeader.from_ext(cmd.ext_fields)
        return await self._call_consumer(
            cmd, header.consumer_group, header.client_id, dict(cmd.ext_fields), cmd.body, CONSUMER_RUNNING_INFO_TIMEOUT_S
        )

    async def consume_message_directly(self, channel: Any, cmd: RemotingCommand) -> RemotingCommand:
        """The message ``msgId`` (an offset message id of this broker) goes to consumer
        ``clientId`` of ``consumerGroup`` as stored, with ``brokerName`` added; the consumer's
        answer (a ConsumeMessageDirectlyResult) comes back as it is."""
        header = ConsumeMessageDirectlyResultRequestHeader.from_ext(cmd.ext_fields)
        record = None
        try:
            _host, commitlog_offset = decode_offset_message_id(header.msg_id or "")
        except ValueError:
            commitlog_offset = -1
        if commitlog_offset >= 0:
            record = self.broker.stored_record(commitlog_offset)
        if record is None:
            return make_response(cmd, ResponseCode.SYSTEM_ERROR, f"message <{header.msg_id}> not found in this broker")
        ext = dict(cmd.ext_fields)
        ext["brokerName"] = self.broker.broker_name
        return await self._call_consumer(
            cmd, header.consumer_group, header.client_id or "", ext, record, CONSUME_MESSAGE_DIRECTLY_TIMEOUT_S
        )

    async def _call_consumer(
        self, cmd: RemotingCommand, group: str, client_id: str, ext: dict[str, str], body: bytes | None, timeout: float
    ) -> RemotingCommand:
        """``callConsumer``: forward ``cmd``'s code to consumer ``client_id`` of ``group`` on its
        own connection and answer with what it answered."""
        target = None
        info = self.broker.consumers.group(group)
        if info is not None:
            for member in list(info.channels.values()):
                if member.client_id == client_id:
                    # The consumer's connection (the consumer table keeps its channels opaque).
                    target = cast("Channel | ProtocolChannel", member.channel)
        if target is None or getattr(target, "closed", False):
            return make_response(cmd, ResponseCode.SYSTEM_ERROR, f"The Consumer <{group}> <{client_id}> not online")
        forward = make_request(cmd.code, ext, body)
        try:
            answer = await target.request(forward, timeout)
        except Exception as exc:  # timeout or the consumer's connection dropped
            return make_response(cmd, ResponseCode.SYSTEM_ERROR, f"invoke consumer <{client_id}> failed: {exc}")
        return make_response(cmd, answer.code, answer.remark, ext=answer.ext_fields, body=answer.body)
