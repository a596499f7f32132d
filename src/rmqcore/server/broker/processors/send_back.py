"""CONSUMER_SEND_MSG_BACK (36): a consumer returns a message it failed to consume.

``AbstractSendMessageProcessor.consumerSendMsgBack`` (reference section 10): the
message at ``offset`` is re-stored in ``%RETRY%group`` with reconsumeTimes + 1 and delay
level ``3 + reconsumeTimes`` (or the header's level), so it travels through
SCHEDULE_TOPIC_XXXX and comes back later; once its reconsume times reach the max
(header value for clients ≥ V3_4_9, else the group's ``retryMaxTimes``, default 16), or
for a negative delay level, it goes to ``%DLQ%group`` instead.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

import structlog

from rmqcore.message import MessageExt, dlq_topic, retry_topic
from rmqcore.message import constants as C
from rmqcore.remoting import RemotingCommand, RequestCode, ResponseCode, Version, make_response
from rmqcore.remoting.headers.client import ConsumerSendMsgBackRequestHeader
from rmqcore.server.broker.store_adapter import put_error_response
from rmqcore.server.broker.topics import PERM_RW

if TYPE_CHECKING:
    from rmqcore.server.broker.controller import BrokerController

log = structlog.get_logger(__name__)

DLQ_NUMS_PER_GROUP = 1
TOPIC_SYS_FLAG_UNIT_SUB = 0x2


class SendBackProcessor:
    def __init__(self, broker: BrokerController) -> None:
        self.broker = broker
        self._random = random.Random()

    def handlers(self) -> dict[int, Any]:
        return {RequestCode.CONSUMER_SEND_MSG_BACK: self.consumer_send_msg_back}

    def consumer_send_msg_back(self, channel: Any, cmd: RemotingCommand) -> RemotingCommand:
        header = ConsumerSendMsgBackRequestHeader.from_ext(cmd.ext_fields)
        broker = self.broker
        group = header.group
        group_config = broker.groups.find_or_create(group)
        if group_config is None:
            return make_response(cmd, ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST, f"subscription group not exist, {group}")
        if group_config.retry_queue_nums <= 0:
            return make_response(cmd, ResponseCode.SUCCESS)  # retry disabled for the group: drop
        sys_flag = TOPIC_SYS_FLAG_UNIT_SUB if header.unit_mode else 0
        new_topic = retry_topic(group)
        queue_id = self._random.randrange(group_config.retry_queue_nums)
        topic_config = broker.topics.create_in_send_back(new_topic, group_config.retry_queue_nums, PERM_RW, sys_flag)
        if not topic_config.perm & C.PERM_WRITE:
            return make_response(cmd, ResponseCode.NO_PERMISSION, f"the topic[{new_topic}] sending message is forbidden")
        original = broker.store.look_message(header.offset)
        if original is None:
            return make_response(cmd, ResponseCode.SYSTEM_ERROR, f"look message by offset failed, {header.offset}")
        properties = dict(original.properties)
        properties.setdefault(C.PROPERTY_RETRY_TOPIC, original.topic)
        properties[C.PROPERTY_WAIT_STORE_MSG_OK] = "false"
        max_times = group_config.retry_max_times
        if cmd.version >= Version.V3_4_9 and header.max_reconsume_times is not None:
            max_times = header.max_reconsume_times
        delay_level = header.delay_level
        original_id = original.offset_msg_id or ""
        if original.reconsume_times >= max_times or delay_level < 0:
            new_topic = dlq_topic(group)
            queue_id = self._random.randrange(DLQ_NUMS_PER_GROUP)
            broker.topics.create_in_send_back(new_topic, DLQ_NUMS_PER_GROUP, PERM_RW, 0)
            properties.pop(C.PROPERTY_DELAY_TIME_LEVEL, None)
            properties[C.PROPERTY_DLQ_ORIGIN_TOPIC] = original.topic
            properties[C.PROPERTY_DLQ_ORIGIN_MESSAGE_ID] = original_id
            log.info("message_to_dlq", group=group, topic=original.topic, msg_id=original_id, reconsume_times=original.reconsume_times)
        else:
            if delay_level == 0:
                delay_level = 3 + original.reconsume_times
            properties[C.PROPERTY_DELAY_TIME_LEVEL] = str(delay_level)
        properties.setdefault(C.PROPERTY_ORIGIN_MESSAGE_ID, original_id)
        retry = MessageExt(
            new_topic,
            original.body,
            flag=original.flag,
            properties=properties,
            queue_id=queue_id,
            sys_flag=original.sys_flag,
            born_timestamp=original.born_timestamp,
            born_host=original.born_host,
            store_host=broker.store_host,
            reconsume_times=original.reconsume_times + 1,
        )
        result = None
        if broker.delay_service is not None and C.PROPERTY_DELAY_TIME_LEVEL in properties:
            result = broker.delay_service.maybe_put(retry, queue_id)
        if result is None:
            result = broker.store.put(retry, queue_id)
        error = put_error_response(cmd, result)
        return error if error is not None else make_response(cmd, ResponseCode.SUCCESS)
