"""``Producer``: sync, async, one-way, ordered and batch sends (``DefaultMQProducer``).

A send picks a queue of the topic (round-robin, steering around a broker that just
failed), sends SEND_MESSAGE_V2 to that broker's master and maps the answer to a
:class:`SendResult`. On a transport failure or a broker error worth retrying
(``RETRY_RESPONSE_CODES``) it tries again on another broker, up to
``retry_times_when_send_failed`` more times within the one ``timeout``, and refreshes
the topic's route in the background. A topic without a route borrows TBW102's brokers
(the broker auto-creates it with ``default_topic_queue_nums`` queues).

Use it as ``async with Producer("group", namesrv_addr="127.0.0.1:9876") as producer:``.
``start()``/``shutdown()`` do the same, from one task.
"""

from __future__ import annotations

import functools
import uuid
import zlib
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import anyio
import structlog

from rmqcore.client.batch import encode_batch
from rmqcore.client.client_api import send_request
from rmqcore.client.client_instance import ClientInstance, TransactionChecker
from rmqcore.client.config import ClientConfig
from rmqcore.client.errors import MQBrokerError, MQClientError, RemotingError, RequestTimeoutError
from rmqcore.client.lifecycle import ClientLifecycle
from rmqcore.client.route import MASTER_ID, TopicPublishInfo
from rmqcore.client.selectors import MessageQueueSelector
from rmqcore.client.send_attempts import RETRY_RESPONSE_CODES, SendAttempts
from rmqcore.client.send_result import SendResult
from rmqcore.client.validators import check_producer_group, check_topic
from rmqcore.message import Message, MessageExt, MessageQueue, encode_properties, new_uniq_key
from rmqcore.message import constants as C

__all__ = ["RETRY_RESPONSE_CODES", "Producer", "SendHandle"]

if TYPE_CHECKING:
    from rmqcore.client.blocking_channel import BlockingChannels
    from rmqcore.client.loop_handle import LoopHandle

log = structlog.get_logger(__name__)


T = TypeVar("T")

COMPRESS_MSG_BODY_OVER = 4096
COMPRESS_LEVEL = 5
MAX_MESSAGE_SIZE = 4 * 1024 * 1024
_CHECKED_TOPICS_MAX = 4096


class SendHandle(Generic[T]):
    """The pending outcome of :meth:`Producer.send_async` (a SendResult) or
    :meth:`Producer.request_async` (the reply); ``await handle.result()``."""

    def __init__(self) -> None:
        self._done = anyio.Event()
        self._result: T | None = None
        self._error: BaseException | None = None

    def _finish(self, result: T | None, error: BaseException | None) -> None:
        self._result, self._error = result, error
        self._done.set()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    async def result(self) -> T:
        await self._done.wait()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result


class Producer(ClientLifecycle):
    def __init__(
        self,
        group: str,
        namesrv_addr: str | None = None,
        *,
        config: ClientConfig | None = None,
        instance_name: str | None = None,
        send_msg_timeout: float = 3.0,
        retry_times_when_send_failed: int = 2,
        retry_another_broker_when_not_store_ok: bool = False,
        default_topic_queue_nums: int = 4,
        create_topic_key: str = C.AUTO_CREATE_TOPIC_KEY_TOPIC,
        compress_msg_body_over: int = COMPRESS_MSG_BODY_OVER,
        max_message_size: int = MAX_MESSAGE_SIZE,
    ) -> None:
        self.group = group
        self.config = config or ClientConfig(namesrv_addr=namesrv_addr, instance_name=instance_name)
        self.send_msg_timeout = send_msg_timeout
        self.retry_times_when_send_failed = retry_times_when_send_failed
        self.retry_another_broker_when_not_store_ok = retry_another_broker_when_not_store_ok
        self.default_topic_queue_nums = default_topic_queue_nums
        self.create_topic_key = create_topic_key
        self.compress_msg_body_over = compress_msg_body_over
        self.max_message_size = max_message_size
        self._request_topics: set[str] = set()  # topics request() has heartbeated for
        self._checked_topics: set[str] = set()  # topic names already found valid (checked once each)

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def _client_name(self) -> str:
        return f"producer {self.group}"

    def _check_can_start(self) -> None:
        check_producer_group(self.group)

    def _transaction_checker(self) -> TransactionChecker | None:
        return None

    async def _on_start(self, instance: ClientInstance, stack: AsyncExitStack) -> None:
        instance.register_producer(self.group, self._transaction_checker())
        log.info("producer_started", group=self.group, client_id=instance.client_id)

    def _on_shutdown(self) -> None:
        log.info("producer_shutdown", group=self.group)

    @property
    def instance(self) -> ClientInstance:
        return self._started_instance()

    # -- public sends ----------------------------------------------------------------------
    async def send(
        self,
        msg: Message | Sequence[Message],
        timeout: float | None = None,
        *,
        selector: MessageQueueSelector | None = None,
        arg: Any = None,
        mq: MessageQueue | None = None,
    ) -> SendResult:
        """Send and wait for the broker's answer.

        ``msg`` may be a list (one SEND_BATCH_MESSAGE; split big lists with
        :func:`rmqcore.client.batch.split_batch` first). ``selector(queues, msg, arg)`` picks
        the queue for ordered messages and disables retries on other queues, as does ``mq``.
        """
        timeout = self.send_msg_timeout if timeout is None else timeout
        carrier, batch_ids = self._wire_message(msg)
        return await self._send_default(carrier, timeout, batch_ids=batch_ids, selector=selector, arg=arg, mq=mq)

    async def request(
        self,
        msg: Message,
        timeout: float = 3.0,
        *,
        selector: MessageQueueSelector | None = None,
        arg: Any = None,
        mq: MessageQueue | None = None,
    ) -> MessageExt:
        """Send ``msg`` as a request and return the reply a consumer sends back with
        :func:`~rmqcore.client.request_reply.create_reply_message` (``DefaultMQProducer.request``).

        The message gets CORRELATION_ID, REPLY_TO_CLIENT (this client's id) and TTL (``timeout``
        in ms); the broker pushes the reply to this client. ``timeout`` (seconds) covers the
        send and the wait. ``selector``/``arg`` or ``mq`` choose the queue as for :meth:`send`.
        Raises :class:`RequestTimeoutError` when the request was sent but no reply came in
        time, :class:`MQClientError` (the send's error as its cause) when the send failed.
        """
        self._check_message(msg)
        instance = self.instance
        begin = anyio.current_time()
        correlation_id = str(uuid.uuid4())
        timeout_ms = int(timeout * 1000)
        props = msg.properties
        props[C.PROPERTY_CORRELATION_ID] = correlation_id
        props[C.PROPERTY_MESSAGE_REPLY_TO_CLIENT] = instance.client_id
        props[C.PROPERTY_MESSAGE_TTL] = str(timeout_ms)
        if msg.topic not in self._request_topics:
            # The broker pushes the reply to the connection this client heartbeats on: make
            # sure every broker of the topic has had a heartbeat before the first request.
            await self._publish_info(msg.topic)
            await instance.send_heartbeat_to_all_brokers()
            self._request_topics.add(msg.topic)
        replies = instance.replies
        replies.open(correlation_id)
        try:
            try:
                await self._send_default(msg, timeout, selector=selector, arg=arg, mq=mq)
            except MQClientError as exc:
                raise MQClientError(f"send request message to <{msg.topic}> fail: {exc}") from exc
            reply = await replies.wait(correlation_id, timeout - (anyio.current_time() - begin))
        finally:
            replies.close(correlation_id)
        if reply is None:
            raise RequestTimeoutError(
                f"send request message to <{msg.topic}> OK, but wait reply message timeout, {timeout_ms} ms."
            )
        return reply

    def _wire_message(self, msg: Message | Sequence[Message]) -> tuple[Message, str | None]:
        """The message a send puts on the wire, and for a batch its messages' UNIQ_KEYs."""
        if isinstance(msg, Message):
            self._check_message(msg)
            return msg, None
        msgs = list(msg)
        body, uniq_ids = encode_batch(msgs)
        first = msgs[0]
        carrier = Message(first.topic, body)
        carrier.uniq_key = new_uniq_key()
        if not first.wait_store_msg_ok:
            carrier.wait_store_msg_ok = False
        return carrier, uniq_ids

    def send_async(
        self,
        msg: Message | Sequence[Message],
        on_success: Callable[[SendResult], object] | None = None,
        on_error: Callable[[BaseException], object] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> SendHandle[SendResult]:
        """Start a send in the background; callbacks run when it ends, the handle can be awaited."""
        return self._in_background(lambda: self.send(msg, timeout, **kwargs), on_success, on_error, "send_async_failed")

    def request_async(
        self,
        msg: Message,
        on_success: Callable[[MessageExt], object] | None = None,
        on_error: Callable[[BaseException], object] | None = None,
        timeout: float = 3.0,
        **kwargs: Any,
    ) -> SendHandle[MessageExt]:
        """:meth:`request` in the background (``request(msg, RequestCallback, timeout)``):
        ``on_success`` gets the reply, ``on_error`` the error; the handle can be awaited."""
        return self._in_background(
            lambda: self.request(msg, timeout, **kwargs), on_success, on_error, "request_async_failed"
        )

    def _in_background(
        self,
        call: Callable[[], Awaitable[T]],
        on_success: Callable[[T], object] | None,
        on_error: Callable[[BaseException], object] | None,
        failure_event: str,
    ) -> SendHandle[T]:
        handle: SendHandle[T] = SendHandle()

        async def run() -> None:
            try:
                result = await call()
            except Exception as exc:  # delivered to the caller through on_error / the handle
                handle._finish(None, exc)
                if on_error is not None:
                    _run_callback(on_error, exc)
                elif on_success is not None:
                    log.warning(failure_event, group=self.group, error=str(exc))
                return
            handle._finish(result, None)
            if on_success is not None:
                _run_callback(on_success, result)

        self.instance.task_group.start_soon(run)
        return handle

    async def send_oneway(self, msg: Message, *, selector: MessageQueueSelector | None = None, arg: Any = None) -> None:
        """Send without waiting for an answer (no result, no retry)."""
        self._check_message(msg)
        info = await self._publish_info(msg.topic)
        mq = selector(info.message_queues, msg, arg) if selector else info.select_queue(availability=self.instance.availability)
        addr, ext, body = await self._prepare_ext(self.instance, mq, msg, batch=False)
        await self.instance.api.send_message_oneway_ext(addr, ext, body)

    # -- internals -------------------------------------------------------------------------
    def _check_message(self, msg: Message) -> None:
        topic = msg.topic
        if topic not in self._checked_topics:
            check_topic(topic)
            if len(self._checked_topics) < _CHECKED_TOPICS_MAX:
                self._checked_topics.add(topic)
        if not msg.body:
            raise MQClientError("the message body length is zero")
        if len(msg.body) > self.max_message_size:
            raise MQClientError(f"the message body size over max value, MAX: {self.max_message_size}")

    async def _publish_info(self, topic: str) -> TopicPublishInfo:
        instance = self.instance
        info = instance.publish_info.get(topic)
        if info is not None and info.message_queues:
            return info
        return await instance.find_publish_info(topic, self.create_topic_key, self.default_topic_queue_nums)

    async def _send_default(
        self,
        msg: Message,
        timeout: float,
        *,
        batch_ids: str | None = None,
        selector: MessageQueueSelector | None = None,
        arg: Any = None,
        mq: MessageQueue | None = None,
    ) -> SendResult:
        """Send ``msg`` with the retry rules of :mod:`rmqcore.client.send_attempts`."""
        instance = self._instance
        if instance is None:
            instance = self.instance  # raises: not started
        info = instance.publish_info.get(msg.topic)
        if info is None or not info.message_queues:
            info = await self._publish_info(msg.topic)
        attempts = self._attempts(instance, info, msg, timeout, selector, arg, mq, self._refresh_route_soon)
        while (target := attempts.next_queue()) is not None:
            try:
                result = await self._send_kernel(instance, target, msg, attempts.remaining, batch_ids)
            except (RemotingError, MQBrokerError) as exc:
                attempts.failed(target, exc)
                continue
            if attempts.answered(target, result):
                return result
        return attempts.outcome()

    def _attempts(
        self,
        instance: ClientInstance,
        info: TopicPublishInfo,
        msg: Message,
        timeout: float,
        selector: MessageQueueSelector | None,
        arg: Any,
        mq: MessageQueue | None,
        refresh_route: Callable[[str], object],
    ) -> SendAttempts:
        if selector is not None:
            mq = selector(info.message_queues, msg, arg)
            if mq is None:
                raise MQClientError(f"the queue selector chose no queue of topic {msg.topic}")
        return SendAttempts(
            instance,
            info,
            msg.topic,
            timeout,
            retries=self.retry_times_when_send_failed,
            retry_when_not_ok=self.retry_another_broker_when_not_store_ok,
            fixed_mq=mq,
            refresh_route=refresh_route,
        )

    def _refresh_route_soon(self, topic: str) -> None:
        self.instance.task_group.start_soon(self._refresh_route, topic)

    # -- the synchronous facade's path -----------------------------------------------------
    def send_blocking(
        self,
        msg: Message | Sequence[Message],
        timeout: float | None,
        channels: BlockingChannels,
        loop: LoopHandle,
        *,
        selector: MessageQueueSelector | None = None,
        arg: Any = None,
        mq: MessageQueue | None = None,
    ) -> SendResult:
        """:meth:`send` from a thread other than the client's loop, each attempt a blocking
        request on ``channels`` (see :mod:`rmqcore.client.blocking_channel`).

        Same retry rules and result as :meth:`send`. What needs the client's loop (a topic's
        first route lookup, a broker address not yet known, route refreshes after a failure)
        runs there through ``loop``.
        """
        instance = self.instance
        timeout = self.send_msg_timeout if timeout is None else timeout
        carrier, batch_ids = self._wire_message(msg)
        topic = carrier.topic
        info = instance.publish_info.get(topic)
        if info is None or not info.message_queues:
            info = loop.run(self._publish_info(topic))
        refresh = functools.partial(loop.call_soon, self._refresh_route_soon)
        attempts = self._attempts(instance, info, carrier, timeout, selector, arg, mq, refresh)
        batch = batch_ids is not None
        while (target := attempts.next_queue()) is not None:
            try:
                addrs = instance.broker_addrs.get(target.broker_name)
                addr = addrs.get(MASTER_ID) if addrs else None
                if addr is None:
                    addr = loop.run(instance.find_broker_addr(target.broker_name, topic))
                ext, body = self._wire_ext(instance, target, carrier, batch)
                uniq = batch_ids if batch else carrier.properties.get(C.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX)
                response = channels.invoke(addr, send_request(ext, body, batch), attempts.remaining)
                result = instance.api.process_send_response(addr, target, response, uniq)
            except (RemotingError, MQBrokerError) as exc:
                attempts.failed(target, exc)
                continue
            if attempts.answered(target, result):
                return result
        return attempts.outcome()

    def send_oneway_blocking(
        self,
        msg: Message,
        channels: BlockingChannels,
        loop: LoopHandle,
        *,
        selector: MessageQueueSelector | None = None,
        arg: Any = None,
    ) -> None:
        """:meth:`send_oneway` from a thread other than the client's loop: the request is
        written on the calling thread's blocking connection (no answer, no retry)."""
        self._check_message(msg)
        instance = self.instance
        info = instance.publish_info.get(msg.topic)
        if info is None or not info.message_queues:
            info = loop.run(self._publish_info(msg.topic))
        mq = selector(info.message_queues, msg, arg) if selector else info.select_queue(availability=instance.availability)
        addrs = instance.broker_addrs.get(mq.broker_name)
        addr = addrs.get(MASTER_ID) if addrs else None
        if addr is None:
            addr = loop.run(instance.find_broker_addr(mq.broker_name, mq.topic))
        ext, body = self._wire_ext(instance, mq, msg, False)
        channels.invoke_oneway(addr, send_request(ext, body, False))

    async def _refresh_route(self, topic: str) -> None:
        try:
            await self.instance.update_topic_route(topic)
        except MQClientError as exc:
            log.info("route_refresh_after_failure_failed", topic=topic, error=str(exc))

    async def _prepare_ext(self, instance: ClientInstance, mq: MessageQueue, msg: Message, batch: bool) -> tuple[str, dict[str, str], bytes]:
        """The broker address, SEND_MESSAGE_V2 extFields and wire body of ``msg`` for ``mq``."""
        addrs = instance.broker_addrs.get(mq.broker_name)
        addr = addrs.get(MASTER_ID) if addrs else None
        if addr is None:
            addr = await instance.find_broker_addr(mq.broker_name, mq.topic)
        ext, body = self._wire_ext(instance, mq, msg, batch)
        return addr, ext, body

    def _wire_ext(self, instance: ClientInstance, mq: MessageQueue, msg: Message, batch: bool) -> tuple[dict[str, str], bytes]:
        """SEND_MESSAGE_V2 extFields and wire body of ``msg`` for ``mq``.

        The extFields are written here rather than through ``SendMessageRequestHeader`` and its
        generic writer: same keys, order and values (``test_send_ext_matches_the_typed_header``),
        without a 14-field dataclass and its rendering on every send.
        """
        body = msg.body
        properties = msg.properties
        sys_flag = 0
        if not batch:
            if not properties.get(C.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX):
                properties[C.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX] = new_uniq_key()
            if len(body) >= self.compress_msg_body_over:
                # The user's message keeps its plain body; only the wire copy is compressed.
                body = zlib.compress(body, COMPRESS_LEVEL)
                sys_flag |= C.COMPRESSED_FLAG | C.COMPRESSION_ZLIB_TYPE
            if properties.get(C.PROPERTY_TRANSACTION_PREPARED) == "true":
                sys_flag |= C.TRANSACTION_PREPARED_TYPE
        topic = mq.topic
        reconsume_times = max_reconsume_times = None
        if topic.startswith(C.RETRY_GROUP_TOPIC_PREFIX):
            properties = dict(properties)
            reconsume = properties.pop(C.PROPERTY_RECONSUME_TIME, None)
            max_times = properties.pop(C.PROPERTY_MAX_RECONSUME_TIMES, None)
            reconsume_times = int(reconsume) if reconsume else None
            max_reconsume_times = int(max_times) if max_times else None
        # SendMessageRequestHeaderV2's keys in its field order; None values are left out.
        ext = {
            "a": self.group,
            "b": topic,
            "c": self.create_topic_key,
            "d": str(int(self.default_topic_queue_nums)),
            "e": str(mq.queue_id),
            "f": str(sys_flag),
            "g": str(instance.clock.now_ms()),
            "h": str(int(msg.flag)),
            "i": encode_properties(properties),
        }
        if reconsume_times is not None:
            ext["j"] = str(reconsume_times)
        ext["k"] = "false"
        if max_reconsume_times is not None:
            ext["l"] = str(max_reconsume_times)
        ext["m"] = "true" if batch else "false"
        if mq.broker_name is not None:
            ext["n"] = mq.broker_name
        return ext, body

    async def _send_kernel(self, instance: ClientInstance, mq: MessageQueue, msg: Message, timeout: float, batch_ids: str | None) -> SendResult:
        batch = batch_ids is not None
        addr, ext, body = await self._prepare_ext(instance, mq, msg, batch)
        uniq = batch_ids if batch else msg.properties.get(C.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX)
        return await instance.api.send_message_ext(addr, mq, ext, body, uniq_id=uniq, timeout=timeout, batch=batch)

    async def fetch_publish_message_queues(self, topic: str) -> list[MessageQueue]:
        return list((await self._publish_info(topic)).message_queues)



def _run_callback(callback: Callable[[Any], object], value: Any) -> None:
    """A failing user callback is logged; it must not take the producer's tasks down with it."""
    try:
        callback(value)
    except Exception:
        log.exception("send_callback_failed", callback=getattr(callback, "__name__", repr(callback)))
