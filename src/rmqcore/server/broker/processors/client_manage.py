"""HEART_BEAT (34), UNREGISTER_CLIENT (35), CHECK_CLIENT_CONFIG (46): RocketMQ's ``ClientManageProcessor``.

A heartbeat registers the client's channel in each producer and consumer group it
names, with the consumer's subscriptions (enums arrive as names or ints, reference
section 13; the remoting body normalises them). Each consumer group is auto-created
(when allowed) and gets its retry topic ``%RETRY%group`` with ``retryQueueNums``
queues (reference section 10).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rmqcore.message import retry_topic
from rmqcore.remoting import RemotingCommand, RequestCode, ResponseCode, make_response
from rmqcore.remoting.bodies.heartbeat import CheckClientRequestBody, HeartbeatData
from rmqcore.remoting.headers.client import UnregisterClientRequestHeader
from rmqcore.server.broker.consumers import ClientChannelInfo
from rmqcore.server.broker.filtering import FilterParseError, SubscriptionFilter, is_tag_type
from rmqcore.server.broker.topics import PERM_RW

if TYPE_CHECKING:
    from rmqcore.server.broker.controller import BrokerController

TOPIC_SYS_FLAG_UNIT_SUB = 0x2


class ClientManageProcessor:
    def __init__(self, broker: BrokerController) -> None:
        self.broker = broker

    def handlers(self) -> dict[int, Any]:
        return {
            RequestCode.HEART_BEAT: self.heartbeat,
            RequestCode.UNREGISTER_CLIENT: self.unregister_client,
            RequestCode.CHECK_CLIENT_CONFIG: self.check_client_config,
        }

    def heartbeat(self, channel: Any, cmd: RemotingCommand) -> RemotingCommand:
        broker = self.broker
        data = HeartbeatData.decode(cmd.body)
        now = broker.clock.now_ms()
        language = getattr(cmd.language, "name", str(cmd.language))
        channel.attributes["client_id"] = data.client_id
        for consumer in data.consumer_data_set:
            group = consumer.group_name
            group_config = broker.groups.find_or_create(group)
            notify = True
            if group_config is not None:
                notify = group_config.notify_consumer_ids_changed_enable
                sys_flag = TOPIC_SYS_FLAG_UNIT_SUB if consumer.unit_mode else 0
                broker.topics.create_in_send_back(retry_topic(group), group_config.retry_queue_nums, PERM_RW, sys_flag)
            subscriptions = [
                SubscriptionFilter.from_subscription_data(sd, broker.filter_factory)
                for sd in consumer.subscription_data_set
            ]
            broker.consumers.register(
                group,
                ClientChannelInfo(channel, data.client_id, language, cmd.version, now),
                consume_type=consumer.consume_type.name,
                message_model=consumer.message_model.name,
                consume_from_where=consumer.consume_from_where.name,
                subscriptions=subscriptions,
                notify=notify,
            )
        for producer in data.producer_data_set:
            broker.producers.register(
                producer.group_name, ClientChannelInfo(channel, data.client_id, language, cmd.version, now)
            )
        return make_response(cmd, ResponseCode.SUCCESS)

    def unregister_client(self, channel: Any, cmd: RemotingCommand) -> RemotingCommand:
        header = UnregisterClientRequestHeader.from_ext(cmd.ext_fields)
        broker = self.broker
        if header.producer_group:
            broker.producers.unregister(header.producer_group, channel)
        if header.consumer_group:
            group_config = broker.groups.get(header.consumer_group)
            notify = group_config.notify_consumer_ids_changed_enable if group_config else True
            broker.consumers.unregister(header.consumer_group, channel, notify=notify)
        return make_response(cmd, ResponseCode.SUCCESS)

    def check_client_config(self, channel: Any, cmd: RemotingCommand) -> RemotingCommand:
        body = CheckClientRequestBody.decode(cmd.body)
        sd = body.subscription_data
        if sd is None or is_tag_type(sd.expression_type):
            return make_response(cmd, ResponseCode.SUCCESS)
        if not self.broker.config.enable_property_filter:
            return make_response(
                cmd,
                ResponseCode.SYSTEM_ERROR,
                f"The broker does not support consumer to filter message by {sd.expression_type}",
            )
        try:
            SubscriptionFilter.build(sd.topic, sd.sub_string, sd.expression_type, sd.sub_version, self.broker.filter_factory)
        except FilterParseError as exc:
            return make_response(cmd, exc.response_code, f"Parse the filter expression failed: {exc}")
        return make_response(cmd, ResponseCode.SUCCESS)
