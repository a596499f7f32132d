"""SEND_REPLY_MESSAGE (324) and SEND_REPLY_MESSAGE_V2 (325): RocketMQ's ``ReplyMessageProcessor``.

Request-reply (``DefaultMQProducer.request``): the requester sends a message carrying
CORRELATION_ID, REPLY_TO_CLIENT (its client id) and TTL; a consumer answers it with a
reply to ``<cluster>_REPLY_TOPIC`` whose MSG_TYPE is ``reply``, which its client sends
with code 324/325 instead of 10/310. The broker does not hand the reply to consumers: it
pushes it at once, as PUSH_REPLY_MESSAGE_TO_CLIENT (326), to the connection the
requester heartbeats on (the producer table, looked up by REPLY_TO_CLIENT), and answers
the responder with the push's outcome: SUCCESS, or SYSTEM_ERROR with a remark when the
requester is not connected or does not take the reply. With ``storeReplyMessageEnable``
(default true) a master also stores the reply in the reply topic, as sent (without the
PUSH_REPLY_TIME the pushed copy gets); the answer then carries its offset message id and
queue offset, else ``msgId`` "0" and queue offset 0. The stored copy is a record, not what
the requester waits for, so its put does not wait for a SYNC_FLUSH flush.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog

from rmqcore.message import decode_properties, encode_properties
from rmqcore.message import constants as C
from rmqcore.remoting import RemotingCommand, RequestCode, ResponseCode, make_request, make_response
from rmqcore.remoting.headers.client import ReplyMessageRequestHeader
from rmqcore.remoting.headers.send import SendMessageRequestHeader, decode_send_request_header
from rmqcore.server.broker.processors.send import DEFAULT_REGION, SendProcessor, born_host_of, packed_born_host_of
from rmqcore.store import PutStatus

if TYPE_CHECKING:
    from rmqcore.server.broker.topics import TopicConfig

log = structlog.get_logger(__name__)

# Broker2Client.callClient's timeout for the push to the requester.
PUSH_REPLY_TIMEOUT_S = 10.0
# Put statuses after which the reply is in the store (handlePutMessageResult's "putOk").
_STORED = frozenset({PutStatus.PUT_OK, PutStatus.FLUSH_DISK_TIMEOUT, PutStatus.FLUSH_SLAVE_TIMEOUT, PutStatus.SLAVE_NOT_AVAILABLE})


def java_socket_address(host: tuple[str, int]) -> str:
    """``InetSocketAddress.toString()`` of an address given as an IP: ``/127.0.0.1:10911``.

    >>> java_socket_address(("127.0.0.1", 10911)), java_socket_address(("::1", 5))
    ('/127.0.0.1:10911', '/[::1]:5')
    """
    ip, port = host
    return f"/[{ip}]:{port}" if ":" in ip else f"/{ip}:{port}"


class ReplyProcessor(SendProcessor):
    """Shares the send processor's topic checks (``msgCheck``), queue choice and message ids."""

    def __init__(self, broker: Any) -> None:
        super().__init__(broker)
        self._store_reply = broker.config.store_reply_message_enable

    def handlers(self) -> dict[int, Any]:
        return {
            RequestCode.SEND_REPLY_MESSAGE: self.send_reply_message,
            RequestCode.SEND_REPLY_MESSAGE_V2: self.send_reply_message,
        }

    def send_reply_message(self, channel: Any, cmd: RemotingCommand) -> Any:
        self._created_topic_registration = None
        header = decode_send_request_header(cmd.code, cmd.ext_fields)
        checked = self._check_topic(cmd, header)
        if checked.__class__ is RemotingCommand:
            return checked
        config: TopicConfig = checked  # type: ignore[assignment]  # not the error response
        body = cmd.body or b""
        if len(body) > self._max_message_size:
            return self._body_too_large(cmd)
        answer = self._reply(channel, cmd, header, self._pick_queue(header, config), body)
        registering = self._created_topic_registration
        if registering is None:
            return answer
        return self._answer_after_registration(answer, registering)

    async def _reply(
        self, channel: Any, cmd: RemotingCommand, header: SendMessageRequestHeader, queue_id: int, body: bytes
    ) -> RemotingCommand:
        properties = decode_properties(header.properties) if header.properties else {}
        remark = await self._push(channel, header, properties, body)
        ext = {"msgId": "0", "queueId": str(queue_id), "queueOffset": "0"}
        if self._store_reply and not self.broker.is_slave:
            self._store(channel, header, queue_id, body, ext)
        ext[C.PROPERTY_MSG_REGION] = DEFAULT_REGION
        ext[C.PROPERTY_TRACE_SWITCH] = "true"
        if remark is not None:
            return make_response(cmd, ResponseCode.SYSTEM_ERROR, remark, ext=ext)
        return make_response(cmd, ResponseCode.SUCCESS, ext=ext)

    async def _push(
        self, channel: Any, header: SendMessageRequestHeader, properties: dict[str, str], body: bytes
    ) -> str | None:
        """Push the reply to its requester; None when it took it, else why not (the remark)."""
        requester = properties.get(C.PROPERTY_MESSAGE_REPLY_TO_CLIENT)
        if requester is None:
            log.warning("reply_without_requester", topic=header.topic, producer_group=header.producer_group)
            return f"reply message properties[{C.PROPERTY_MESSAGE_REPLY_TO_CLIENT}] is null"
        target: Any = self.broker.producers.find_channel(requester)
        if target is None:
            log.warning("reply_requester_not_connected", client_id=requester, topic=header.topic)
            return f"push reply message fail, channel of <{requester}> not found."
        now = self.broker.clock.now_ms()
        pushed = dict(properties)
        pushed[C.PROPERTY_PUSH_REPLY_TIME] = str(now)
        push_header = ReplyMessageRequestHeader(
            producer_group=header.producer_group,
            topic=header.topic,
            default_topic=header.default_topic,
            default_topic_queue_nums=header.default_topic_queue_nums,
            queue_id=header.queue_id,
            sys_flag=header.sys_flag,
            born_timestamp=header.born_timestamp,
            flag=header.flag,
            properties=encode_properties(pushed),
            reconsume_times=header.reconsume_times,
            unit_mode=header.unit_mode,
            born_host=java_socket_address(born_host_of(channel)),
            store_host=java_socket_address(self.broker.store_host),
            store_timestamp=now,
        )
        request = make_request(RequestCode.PUSH_REPLY_MESSAGE_TO_CLIENT, push_header.to_ext(), body)
        try:
            answer = await target.request(request, PUSH_REPLY_TIMEOUT_S)
        except Exception as exc:  # timed out, or the requester's connection went
            log.warning("reply_push_failed", client_id=requester, error=f"{type(exc).__name__}: {exc}")
            return f"push reply message to {requester} fail."
        if answer.code != ResponseCode.SUCCESS:
            log.warning("reply_push_refused", client_id=requester, code=answer.code, remark=answer.remark)
            return f"push reply message to {requester} fail."
        return None

    def _store(self, channel: Any, header: SendMessageRequestHeader, queue_id: int, body: bytes, ext: dict[str, str]) -> None:
        """Keep the reply in its topic, its property string as sent; a failed put is logged
        (the push decided the answer)."""
        try:
            result = self.broker.store.put_encoded(
                header.topic, queue_id, body, (header.properties or "").encode(), flag=header.flag,
                sys_flag=header.sys_flag, born_timestamp=header.born_timestamp,
                born_host=packed_born_host_of(channel), reconsume_times=header.reconsume_times or 0,
                wait_for_flush=False,
            )  # fmt: skip
        except Exception as exc:  # refused input or a closed store: the reply was still pushed
            log.warning("reply_store_failed", topic=header.topic, error=f"{type(exc).__name__}: {exc}")
            return
        if result.status not in _STORED:
            log.warning("reply_store_failed", topic=header.topic, status=result.status.name)
            return
        ext["msgId"] = self._msg_id(result.commitlog_offset)
        ext["queueOffset"] = str(result.queue_offset)
