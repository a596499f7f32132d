"""SEND_MESSAGE (10), SEND_MESSAGE_V2 (310), SEND_BATCH_MESSAGE (320): RocketMQ's ``SendMessageProcessor``.

The hot path is: typed header decode (one compiled reader for V1/V2 keys) → topic
look-up → one store call → response header. Broker-side additions follow reference
section 4 ("Broker side on SEND"): bornHost = the connection's remote address,
storeHost = brokerIP1:port, ``CLUSTER`` property added, ``UNIQ_KEY`` added when the
client sent none, MULTI_TAGS sysFlag for MULTI_TAG topics. TRAN_MSG=true goes to the
transaction service as a half message (section 8); DELAY/TIMER_* to the delay service
(section 7); a ``%RETRY%`` send past its max reconsume times to ``%DLQ%`` (section 10).

Under ASYNC_FLUSH the handler answers inline (the store put is a fast C call). Under
SYNC_FLUSH the put runs inline too, without waiting for its flush, and the handler returns
a coroutine that awaits the broker's FlushWaiter (flush_waiter.py): concurrent sends share
one disk flush (group commit) and none costs a worker thread. Half and delayed messages
go through services whose puts wait for their flush themselves; those puts, and every
put on an event loop other than asyncio's, run in a worker thread.

A plain single send (the common case: UNIQ_KEY set by the client, no DELAY/TIMER_*/TRAN_MSG
property, no ``%RETRY%`` topic) is stored without building a ``MessageExt``: the property
string from the request header, with ``CLUSTER`` appended, goes to ``MessageStore.put_encoded``
(reference section 4, "Properties string"), which writes the same record bytes as ``put``
of the decoded message would. The connection's born host is packed once and kept on the
connection.
"""

from __future__ import annotations

import inspect
import random
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
import structlog

from rmqcore.message import MessageExt, create_offset_message_id, decode_batch_body, decode_properties, decode_properties_cached, dlq_topic
from rmqcore.message import constants as C
from rmqcore.message.ids import UniqKeyGenerator
from rmqcore.remoting import RESPONSE_FLAG, RemotingCommand, RequestCode, ResponseCode, Version, make_response
from rmqcore.remoting.headers.send import SendMessageRequestHeader, decode_send_request_header
from rmqcore.server.broker.processors.admin import validate_topic
from rmqcore.server.broker.store_adapter import put_error_response
from rmqcore.server.broker.topics import MULTI_TAG, PERM_RW, TopicConfig
from rmqcore.store import MissingUniqKeyError, PutStatus

_PUT_OK = PutStatus.PUT_OK
_SUCCESS = int(ResponseCode.SUCCESS)
_UNIQ = C.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX
_CLUSTER = C.PROPERTY_CLUSTER
_TRAN_MSG = C.PROPERTY_TRANSACTION_PREPARED
_RETRY_PREFIX = C.RETRY_GROUP_TOPIC_PREFIX
_PERM_WRITE = C.PERM_WRITE
_TX_MASK = C.TRANSACTION_TYPE_MASK
_REGION = C.PROPERTY_MSG_REGION
_WAIT = C.PROPERTY_WAIT_STORE_MSG_OK
_FLUSH_DISK_TIMEOUT = PutStatus.FLUSH_DISK_TIMEOUT
_TRACE = C.PROPERTY_TRACE_SWITCH

if TYPE_CHECKING:
    from rmqcore.server.broker.controller import BrokerController

log = structlog.get_logger(__name__)

_DELAY_KEYS = (C.PROPERTY_DELAY_TIME_LEVEL, C.PROPERTY_TIMER_DELIVER_MS, C.PROPERTY_TIMER_DELAY_SEC, C.PROPERTY_TIMER_DELAY_MS)
# Properties that send a message anywhere but a plain put (delay service, half message).
_NOT_PLAIN_KEYS = frozenset((*_DELAY_KEYS, _TRAN_MSG))
NOT_ALLOWED_SEND_TOPICS = C.NOT_ALLOWED_SEND_TOPICS  # module-level alias: read on every send
APPLY_TOPIC_HINT = "\nSee http://rocketmq.apache.org/docs/faq/ for further details."
DEFAULT_REGION = "DefaultRegion"
# A send that created its topic waits at most this long for the name servers to learn it
# (each register call has its own timeout; this bounds the send's answer).
REGISTRATION_WAIT_S = 3.0


def packed_born_host_of(channel: Any) -> bytes:
    """The client's ``host:port`` packed as a stored record holds it (ip + port, reference
    section 4), packed once per connection."""
    attributes = getattr(channel, "attributes", None)
    if attributes is not None:
        packed = attributes.get("born_host_bytes")
        if packed is not None:
            return packed
    from rmqcore.store.commitlog import host_bytes  # once per connection

    packed = host_bytes(born_host_of(channel))
    if attributes is not None:
        attributes["born_host_bytes"] = packed
    return packed


def born_host_of(channel: Any) -> tuple[str, int]:
    """The client's ``host:port`` as (ip, port), cached on the connection."""
    attributes = getattr(channel, "attributes", None)
    if attributes is not None:
        host = attributes.get("born_host")
        if host is not None:
            return host
    addr = getattr(channel, "remote_addr", "") or ""
    ip, _, port = addr.rpartition(":")
    try:
        host = (ip.strip("[]") or "127.0.0.1", int(port))
    except ValueError:
        host = ("127.0.0.1", 0)
    if attributes is not None:
        attributes["born_host"] = host
    return host


class SendProcessor:
    def __init__(self, broker: BrokerController) -> None:
        self.broker = broker
        config = broker.config
        self._cluster = config.broker_cluster_name
        self._max_message_size = config.max_message_size
        self._sync_flush = config.flush_disk_type == "SYNC_FLUSH"
        self._reject_transactions = config.reject_transaction_message
        self._uniq_keys = UniqKeyGenerator()
        self._random = random.Random()
        self._cluster_property = f"{_CLUSTER}\x01{self._cluster}\x02"
        # Offset message ids: the store host's hex is the same for every send (see _msg_id).
        self._msg_id_host: tuple[str, int] | None = None
        self._msg_id_prefix = ""
        # The registration the send being handled asked for by creating its topic. Handlers
        # run on the event loop one at a time and _check_topic runs before any await, so the
        # entry point that clears it, then calls _check_topic, reads it before another send can.
        self._created_topic_registration: Any = None

    def handlers(self) -> dict[int, Any]:
        return {
            RequestCode.SEND_MESSAGE: self.send_message,
            RequestCode.SEND_MESSAGE_V2: self.send_message,
            RequestCode.SEND_BATCH_MESSAGE: self.send_batch_message,
        }

    # -- checks shared by single and batch sends -------------------------------------------------
    def _check_topic(self, cmd: RemotingCommand, header: SendMessageRequestHeader) -> TopicConfig | RemotingCommand:
        """``msgCheck``: the topic config to write to, or the error response."""
        topic = header.topic
        topics = self.broker.topics
        config = topics.select(topic)
        if config is None:
            remark = validate_topic(topic)
            if remark is not None:
                return make_response(cmd, ResponseCode.SYSTEM_ERROR, remark)
            if topic in NOT_ALLOWED_SEND_TOPICS:
                return make_response(cmd, ResponseCode.NO_PERMISSION, f"Sending message to topic[{topic}] is forbidden.")
            sys_flag = 0x1 if header.unit_mode else 0  # TopicSysFlag UNIT
            config = topics.create_in_send(topic, header.default_topic, header.default_topic_queue_nums, sys_flag)
            if config is None and topic.startswith(C.RETRY_GROUP_TOPIC_PREFIX):
                config = topics.create_in_send_back(topic, 1, PERM_RW, sys_flag)
            if config is None:
                return make_response(
                    cmd, ResponseCode.TOPIC_NOT_EXIST, f"topic[{topic}] not exist, apply first please!{APPLY_TOPIC_HINT}"
                )
            self._created_topic_registration = self.broker.registration_in_flight
        elif topic in NOT_ALLOWED_SEND_TOPICS:
            return make_response(cmd, ResponseCode.NO_PERMISSION, f"Sending message to topic[{topic}] is forbidden.")
        if not config.perm & C.PERM_WRITE:
            return make_response(
                cmd, ResponseCode.NO_PERMISSION, f"the topic[{topic}] sending message is forbidden"
            )
        queue_id = header.queue_id
        if queue_id >= max(config.write_queue_nums, config.read_queue_nums):
            return make_response(
                cmd,
                ResponseCode.SYSTEM_ERROR,
                f"request queueId[{queue_id}] is illegal, topic[{topic}] writeQueueNums {config.write_queue_nums} "
                f"Producer: {header.producer_group}",
            )
        return config

    def _pick_queue(self, header: SendMessageRequestHeader, config: TopicConfig) -> int:
        queue_id = header.queue_id
        if queue_id < 0:
            queue_id = self._random.randrange(config.write_queue_nums)
        return queue_id

    def _retry_to_dlq(
        self, cmd: RemotingCommand, header: SendMessageRequestHeader, msg: MessageExt
    ) -> RemotingCommand | None:
        """``handleRetryAndDLQ``: a ``%RETRY%`` message past its max reconsume times goes to the DLQ."""
        group = header.topic[len(C.RETRY_GROUP_TOPIC_PREFIX):]
        group_config = self.broker.groups.find_or_create(group)
        if group_config is None:
            return make_response(
                cmd, ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST, f"subscription group not exist, {group}{APPLY_TOPIC_HINT}"
            )
        max_times = group_config.retry_max_times
        if cmd.version >= Version.V3_4_9 and header.max_reconsume_times is not None:
            max_times = header.max_reconsume_times
        if msg.reconsume_times > max_times:
            dlq = dlq_topic(group)
            self.broker.topics.create_in_send_back(dlq, 1, PERM_RW)
            msg.topic = dlq
            msg.queue_id = 0
            msg.properties[C.PROPERTY_DELAY_TIME_LEVEL] = "-1"
            log.info("retry_message_to_dlq", group=group, reconsume_times=msg.reconsume_times, max=max_times)
        return None

    def _body_too_large(self, cmd: RemotingCommand) -> RemotingCommand:
        return make_response(
            cmd,
            ResponseCode.MESSAGE_ILLEGAL,
            f"the message is illegal, maybe msg body or properties length not matched. "
            f"msg body length limit {self._max_message_size}B, msg properties length limit 32KB.",
        )

    # -- single message -----------------------------------------------------------------------------
    def send_message(self, channel: Any, cmd: RemotingCommand) -> Any:
        self._created_topic_registration = None  # (also drops one left by a send that raised)
        response = self._send_message(channel, cmd)
        registering = self._created_topic_registration
        if registering is None:
            return response
        return self._answer_after_registration(response, registering)

    async def _answer_after_registration(self, response: Any, registering: Any) -> RemotingCommand:
        """Answer once the name servers know the topic this send created. Only that send
        waits: the others go on while the registration is in flight (a slow or unreachable
        name server must not stall every producer)."""
        if inspect.isawaitable(response):
            response = await response
        with anyio.move_on_after(REGISTRATION_WAIT_S):
            await registering.wait()
        return response

    def _send_message(self, channel: Any, cmd: RemotingCommand) -> Any:
        header = decode_send_request_header(cmd.code, cmd.ext_fields)
        if header.batch:
            return self._send_batch(channel, cmd, header)
        topic = header.topic
        queue_id = header.queue_id
        config = self.broker.topics.select(topic)
        # msgCheck's common outcome inline; anything else (a topic to create, a forbidden
        # topic, no write permission, a bad queue id) gets _check_topic's answer.
        if (
            config is None
            or not config.perm & _PERM_WRITE
            or topic in NOT_ALLOWED_SEND_TOPICS
            or (queue_id >= config.write_queue_nums and queue_id >= config.read_queue_nums)
        ):
            checked = self._check_topic(cmd, header)
            if checked.__class__ is RemotingCommand:
                return checked
            config = checked  # type: ignore[assignment]  # not the error response: a TopicConfig
        body = cmd.body or b""
        if len(body) > self._max_message_size:
            return self._body_too_large(cmd)
        if queue_id < 0:
            queue_id = self._random.randrange(config.write_queue_nums)  # type: ignore[union-attr]
        text = header.properties
        properties = decode_properties_cached(text) if text else {}
        sys_flag = header.sys_flag
        if config.topic_filter_type == MULTI_TAG:  # type: ignore[union-attr]
            sys_flag |= C.MULTI_TAGS_FLAG
        uniq = properties.get(_UNIQ)
        if (
            uniq is not None
            and _CLUSTER not in properties
            and _NOT_PLAIN_KEYS.isdisjoint(properties)
            and not header.reconsume_times
            and not sys_flag & _TX_MASK
            and not topic.startswith(_RETRY_PREFIX)
            # The property string decodes to exactly its own pairs (no empty, malformed or
            # repeated entry), so the decoded map would encode back to the same bytes.
            and text[-1] == "\x02"  # type: ignore[index]
            and len(properties) == text.count("\x02")  # type: ignore[union-attr]
        ):
            encoded = (text + self._cluster_property).encode()  # type: ignore[operator]
            born = packed_born_host_of(channel)
            if self._sync_flush:
                waiter = self.broker.flush_waiter()
                if waiter is None:
                    return self._put_encoded_single_in_thread(cmd, topic, queue_id, body, encoded, header, sys_flag, born, uniq)
                try:
                    result = self.broker.store.put_encoded(
                        topic, queue_id, body, encoded, flag=header.flag, sys_flag=sys_flag,
                        born_timestamp=header.born_timestamp, born_host=born, wait_for_flush=False,
                    )  # fmt: skip
                except Exception as exc:
                    return self._put_exception(cmd, exc)
                return self._answer_when_flushed(
                    cmd, waiter, result, queue_id, uniq, properties.get(_WAIT) != "false", False
                )
            try:
                result = self.broker.store.put_encoded(
                    topic, queue_id, body, encoded, flag=header.flag, sys_flag=sys_flag,
                    born_timestamp=header.born_timestamp, born_host=born,
                )  # fmt: skip
            except Exception as exc:
                return self._put_exception(cmd, exc)
            return self._response(cmd, result, queue_id, uniq)
        properties[_CLUSTER] = self._cluster
        if uniq is None:
            uniq = properties[_UNIQ] = self._uniq_keys.next_id()
        msg = MessageExt(
            topic,
            body,
            flag=header.flag,
            properties=properties,
            queue_id=queue_id,
            sys_flag=sys_flag,
            born_timestamp=header.born_timestamp,
            born_host=born_host_of(channel),
            store_host=self.broker.store_host,
            reconsume_times=header.reconsume_times or 0,
        )
        if topic.startswith(_RETRY_PREFIX):
            refused = self._retry_to_dlq(cmd, header, msg)
            if refused is not None:
                return refused
        if self._reject_transactions and _is_prepared(properties):
            host, port = self.broker.store_host
            return make_response(cmd, ResponseCode.NO_PERMISSION, f"the broker[{host}:{port}] sending transaction message is forbidden")
        if self._sync_flush:
            waiter = self.broker.flush_waiter()
            if waiter is None or self._store_call(msg) != self.broker.store.put:
                return self._put_in_thread(cmd, msg, msg.queue_id, uniq)
            try:
                result = self.broker.store.put(msg, msg.queue_id, wait_for_flush=False)
            except Exception as exc:
                return self._put_exception(cmd, exc)
            return self._answer_when_flushed(
                cmd, waiter, result, msg.queue_id, uniq, msg.properties.get(_WAIT) != "false", False
            )
        return self._put(cmd, msg, msg.queue_id, uniq)

    async def _answer_when_flushed(
        self,
        cmd: RemotingCommand,
        waiter: Any,
        result: Any,
        queue_id: int,
        uniq: str | None,
        timeout_answers: bool,
        batch: bool,
    ) -> RemotingCommand:
        """SYNC_FLUSH: the answer to a put made with ``wait_for_flush=False``, once a sync
        covered it. Not durable in time answers FLUSH_DISK_TIMEOUT (the message is stored).
        A single message saying WAIT=false is answered at once, its flush only requested,
        as RocketMQ's handleDiskFlush wakes the group commit without waiting for it."""
        if result.status is _PUT_OK and not timeout_answers and not batch:
            _request_flush(waiter, result.end_offset)
            return self._response(cmd, result, queue_id, uniq)  # type: ignore[arg-type]
        if result.status is _PUT_OK:
            try:
                durable = await waiter.wait(result.end_offset)
            except Exception as exc:  # the msync failed: what the waiting put would have raised
                return self._put_exception(cmd, exc)
            if not durable and timeout_answers:
                result = result._replace(status=_FLUSH_DISK_TIMEOUT)
        if batch:
            return self._batch_response(cmd, result, queue_id, uniq)
        return self._response(cmd, result, queue_id, uniq)  # type: ignore[arg-type]

    async def _put_encoded_single_in_thread(
        self,
        cmd: RemotingCommand,
        topic: str,
        queue_id: int,
        body: bytes,
        encoded: bytes,
        header: SendMessageRequestHeader,
        sys_flag: int,
        born: bytes,
        uniq: str,
    ) -> RemotingCommand:
        """SYNC_FLUSH: put_encoded waits for its group commit in a worker thread, as put does."""
        store = self.broker.store
        flag = header.flag
        born_timestamp = header.born_timestamp
        try:
            result = await anyio.to_thread.run_sync(
                lambda: store.put_encoded(
                    topic, queue_id, body, encoded, flag=flag, sys_flag=sys_flag, born_timestamp=born_timestamp, born_host=born
                )
            )
        except Exception as exc:
            return self._put_exception(cmd, exc)
        return self._response(cmd, result, queue_id, uniq)

    def _store_call(self, msg: MessageExt) -> Any:
        """The one store call for ``msg``: half message, delayed message, or plain put."""
        broker = self.broker
        properties = msg.properties
        if _is_prepared(properties):
            return broker.transactions.prepare
        if broker.delay_service is not None:
            for key in _DELAY_KEYS:
                if key in properties:
                    return self._delayed_put
        return broker.store.put

    def _delayed_put(self, msg: MessageExt, queue_id: int) -> Any:
        result = self.broker.delay_service.maybe_put(msg, queue_id)
        if result is None:  # DELAY <= 0 or a timer already due: a plain put (section 7)
            result = self.broker.store.put(msg, queue_id)
        return result

    def _put(self, cmd: RemotingCommand, msg: MessageExt, queue_id: int, uniq: str) -> RemotingCommand:
        try:
            result = self._store_call(msg)(msg, queue_id)
        except Exception as exc:
            return self._put_exception(cmd, exc)
        return self._response(cmd, result, queue_id, uniq)

    async def _put_in_thread(self, cmd: RemotingCommand, msg: MessageExt, queue_id: int, uniq: str) -> RemotingCommand:
        call = self._store_call(msg)
        try:
            result = await anyio.to_thread.run_sync(call, msg, queue_id)
        except Exception as exc:
            return self._put_exception(cmd, exc)
        return self._response(cmd, result, queue_id, uniq)

    def _put_exception(self, cmd: RemotingCommand, exc: Exception) -> RemotingCommand:
        from rmqcore.timer.errors import DelayTooLongError, InvalidDelayPropertyError

        if isinstance(exc, DelayTooLongError):
            # WHEEL_TIMER_MSG_ILLEGAL → MESSAGE_ILLEGAL (handlePutMessageResult)
            return make_response(
                cmd,
                ResponseCode.MESSAGE_ILLEGAL,
                f"timer message illegal, the delay time should not be bigger than the max delay "
                f"{self.broker.config.timer_max_delay_sec * 1000}ms; or if set del msg, the delay time should be "
                f"bigger than the current time ({exc})",
            )
        if isinstance(exc, InvalidDelayPropertyError):
            return make_response(cmd, ResponseCode.MESSAGE_ILLEGAL, f"the message is illegal: {exc}")
        response = put_error_response(cmd, exc)
        if response is None:
            raise exc
        return response

    def _msg_id_prefix_of(self, host: tuple[str, int]) -> str:
        """The store-host part of an offset message id (its last 16 hex digits are the offset)."""
        if host is not self._msg_id_host:
            self._msg_id_prefix = create_offset_message_id(host, 0)[:-16]
            self._msg_id_host = host
        return self._msg_id_prefix

    def _msg_id(self, commitlog_offset: int) -> str:
        """``create_offset_message_id(store_host, commitlog_offset)``, the host part hexed once."""
        host = self.broker.store_host
        if commitlog_offset < 0:
            return create_offset_message_id(host, commitlog_offset)
        return f"{self._msg_id_prefix_of(host)}{commitlog_offset:016X}"

    @staticmethod
    def _answer_code(cmd: RemotingCommand, result: Any) -> int | RemotingCommand:
        """The response code of a put's status, or the whole error answer for a refused put."""
        if result.status is _PUT_OK:
            return _SUCCESS
        error = put_error_response(cmd, result)
        return error if error is not None else int(result_code(result))

    def _response(self, cmd: RemotingCommand, result: Any, queue_id: int, uniq: str) -> RemotingCommand:
        code = self._answer_code(cmd, result)
        if code.__class__ is not int:
            return code  # type: ignore[return-value]
        ext = {
            "msgId": self._msg_id(result.commitlog_offset),
            "queueId": str(queue_id),
            "queueOffset": str(result.queue_offset),
            "transactionId": uniq,
            _REGION: DEFAULT_REGION,
            _TRACE: "true",
        }
        # Built directly (make_response would copy ext): this is the hot path of every send.
        return RemotingCommand(code=code, opaque=cmd.opaque, flag=RESPONSE_FLAG, ext_fields=ext)

    # -- batch ----------------------------------------------------------------------------------
    def send_batch_message(self, channel: Any, cmd: RemotingCommand) -> Any:
        self._created_topic_registration = None
        response = self._send_batch(channel, cmd, decode_send_request_header(cmd.code, cmd.ext_fields))
        registering = self._created_topic_registration
        if registering is None:
            return response
        return self._answer_after_registration(response, registering)

    def _send_batch(self, channel: Any, cmd: RemotingCommand, header: SendMessageRequestHeader) -> Any:
        if len(header.topic.encode("utf-8")) > C.MAX_V1_TOPIC_LENGTH:
            return make_response(cmd, ResponseCode.MESSAGE_ILLEGAL, f"message topic length too long {len(header.topic)}")
        if header.topic.startswith(C.RETRY_GROUP_TOPIC_PREFIX):
            return make_response(cmd, ResponseCode.MESSAGE_ILLEGAL, "batch request does not support retry group")
        config = self._check_topic(cmd, header)
        if config.__class__ is RemotingCommand:
            return config
        body = cmd.body or b""
        if len(body) > self._max_message_size:
            return self._body_too_large(cmd)
        queue_id = self._pick_queue(header, config)  # type: ignore[arg-type]
        sys_flag = header.sys_flag
        if config.topic_filter_type == MULTI_TAG:  # type: ignore[union-attr]
            sys_flag |= C.MULTI_TAGS_FLAG
        batch_uniq = (decode_properties(header.properties) if header.properties else {}).get(
            C.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX
        )
        if body:
            # Fast path: the wire form goes to the store in one C call, not decoded here.
            # Clients set UNIQ_KEY on every inner message; a batch without them takes the
            # decoding path below, which adds the missing keys.
            born_host = born_host_of(channel)
            waiter = self.broker.flush_waiter() if self._sync_flush else None
            if self._sync_flush and waiter is None:
                return self._put_encoded_in_thread(cmd, header, body, queue_id, sys_flag, born_host, batch_uniq)
            try:
                result = self.broker.store.put_batch_encoded(
                    header.topic, body, queue_id, born_timestamp=header.born_timestamp, born_host=born_host,
                    sys_flag=sys_flag, wait_for_flush=waiter is None,
                )  # fmt: skip
            except MissingUniqKeyError:
                pass
            except Exception as exc:
                return self._put_exception(cmd, exc)
            else:
                if waiter is not None:
                    return self._answer_when_flushed(cmd, waiter, result, queue_id, batch_uniq, True, True)
                return self._batch_response(cmd, result, queue_id, batch_uniq)
        return self._send_decoded_batch(channel, cmd, header, body, queue_id, sys_flag, batch_uniq)

    async def _put_encoded_in_thread(
        self,
        cmd: RemotingCommand,
        header: SendMessageRequestHeader,
        body: bytes,
        queue_id: int,
        sys_flag: int,
        born_host: Any,
        batch_uniq: str | None,
    ) -> RemotingCommand:
        store = self.broker.store
        try:
            result = await anyio.to_thread.run_sync(
                lambda: store.put_batch_encoded(
                    header.topic, body, queue_id, born_timestamp=header.born_timestamp, born_host=born_host, sys_flag=sys_flag
                )
            )
        except MissingUniqKeyError:
            fallback = self._send_decoded_batch(None, cmd, header, body, queue_id, sys_flag, batch_uniq, born_host=born_host)
            return await fallback if inspect.isawaitable(fallback) else fallback
        except Exception as exc:
            return self._put_exception(cmd, exc)
        return self._batch_response(cmd, result, queue_id, batch_uniq)

    def _send_decoded_batch(
        self,
        channel: Any,
        cmd: RemotingCommand,
        header: SendMessageRequestHeader,
        body: bytes,
        queue_id: int,
        sys_flag: int,
        batch_uniq: str | None,
        *,
        born_host: Any = None,
    ) -> Any:
        try:
            inner = decode_batch_body(header.topic, body)
        except ValueError as exc:
            return make_response(cmd, ResponseCode.MESSAGE_ILLEGAL, f"malformed batch body: {exc}")
        if not inner:
            return make_response(cmd, ResponseCode.MESSAGE_ILLEGAL, "empty batch")
        # Stored records keep each inner message's own body, flag and properties (reference
        # section 4); born time/host and sysFlag come from the first record, so only it needs
        # to be a MessageExt (MessageStore.put_batch).
        first = inner[0]
        inner[0] = MessageExt(
            header.topic,
            first.body,
            flag=first.flag,
            properties=first.properties,
            queue_id=queue_id,
            sys_flag=sys_flag,
            born_timestamp=header.born_timestamp,
            born_host=born_host if born_host is not None else born_host_of(channel),
            store_host=self.broker.store_host,
            reconsume_times=header.reconsume_times or 0,
        )
        messages = inner
        uniq_key = C.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX
        for m in messages:
            if uniq_key not in m.properties:
                m.properties[uniq_key] = self._uniq_keys.next_id()
        if self._sync_flush:
            waiter = self.broker.flush_waiter()
            if waiter is None:
                return self._put_batch_in_thread(cmd, messages, queue_id, batch_uniq)
            try:
                result = self.broker.store.put_batch(messages, queue_id, wait_for_flush=False)
            except Exception as exc:
                return self._put_exception(cmd, exc)
            return self._answer_when_flushed(cmd, waiter, result, queue_id, batch_uniq, True, True)
        return self._put_batch(cmd, messages, queue_id, batch_uniq)

    def _put_batch(self, cmd: RemotingCommand, messages: list[Any], queue_id: int, uniq: str | None) -> RemotingCommand:
        try:
            result = self.broker.store.put_batch(messages, queue_id)
        except Exception as exc:
            return self._put_exception(cmd, exc)
        return self._batch_response(cmd, result, queue_id, uniq)

    async def _put_batch_in_thread(
        self, cmd: RemotingCommand, messages: list[Any], queue_id: int, uniq: str | None
    ) -> RemotingCommand:
        try:
            result = await anyio.to_thread.run_sync(self.broker.store.put_batch, messages, queue_id)
        except Exception as exc:
            return self._put_exception(cmd, exc)
        return self._batch_response(cmd, result, queue_id, uniq)

    def _batch_response(self, cmd: RemotingCommand, result: Any, queue_id: int, uniq: str | None) -> RemotingCommand:
        code = self._answer_code(cmd, result)
        if code.__class__ is not int:
            return code  # type: ignore[return-value]
        store_host = self.broker.store_host
        offsets = batch_commitlog_offsets(result)
        if offsets and min(offsets) >= 0:
            prefix = self._msg_id_prefix_of(store_host)
            msg_ids = ",".join([f"{prefix}{off:016X}" for off in offsets])
        else:
            msg_ids = ",".join(create_offset_message_id(store_host, off) for off in offsets)
        ext = {
            "msgId": msg_ids,
            "queueId": str(queue_id),
            "queueOffset": str(result.queue_offset),
            _REGION: DEFAULT_REGION,
            _TRACE: "true",
        }
        if uniq:
            ext["transactionId"] = uniq
        return RemotingCommand(code=code, opaque=cmd.opaque, flag=RESPONSE_FLAG, ext_fields=ext)


def _request_flush(waiter: Any, end: int) -> None:
    """Have the group commit cover ``end`` without anyone awaiting it; a failed msync is
    logged by the waiter's thread, so the future's error is taken here to keep it quiet."""
    waiter.wait(end).add_done_callback(_take_outcome)


def _take_outcome(future: Any) -> None:
    if not future.cancelled():
        future.exception()


def result_code(result: Any) -> int:
    """SUCCESS, or the flush/slave code a successful-but-late put carries (reference section 2)."""
    status = result.status
    if status is _PUT_OK:
        return _SUCCESS
    name = getattr(status, "name", None)
    if name == "FLUSH_DISK_TIMEOUT":
        return ResponseCode.FLUSH_DISK_TIMEOUT
    if name == "FLUSH_SLAVE_TIMEOUT":
        return ResponseCode.FLUSH_SLAVE_TIMEOUT
    if name == "SLAVE_NOT_AVAILABLE":
        return ResponseCode.SLAVE_NOT_AVAILABLE
    return ResponseCode.SUCCESS


def batch_commitlog_offsets(result: Any) -> list[int]:
    """Commit-log offset of every message of a batch put."""
    offsets = getattr(result, "commitlog_offsets", None)
    if offsets is not None:
        return list(offsets)
    return [result.commitlog_offset]


def _is_prepared(properties: dict[str, str]) -> bool:
    """A half (prepared) transaction message: TRAN_MSG parses as true (``Boolean.parseBoolean``)."""
    prepared = properties.get(C.PROPERTY_TRANSACTION_PREPARED)
    return prepared is not None and prepared.lower() == "true"
