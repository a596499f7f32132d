"""Request-reply, as RocketMQ 4.6+ clients do it (``DefaultMQProducer.request``,
``MessageUtil.createReplyMessage``, ``ClientRemotingProcessor.receiveReplyMessage``).

* The requester (:meth:`Producer.request <rmqcore.client.producer.Producer.request>`) sends
  a message carrying CORRELATION_ID (new for each request), REPLY_TO_CLIENT (its client id)
  and TTL (the timeout in ms), and waits for the reply with that correlation id.
* The responder, usually inside a consumer's listener, makes the answer with
  :func:`create_reply_message` and sends it with any producer. The reply goes to
  ``<cluster>_REPLY_TOPIC`` (the CLUSTER the broker stamped on the request) with
  MSG_TYPE=reply, which makes the producer send it as SEND_REPLY_MESSAGE_V2 (325).
* The broker pushes the reply to the requester's connection as PUSH_REPLY_MESSAGE_TO_CLIENT
  (326); :class:`PendingReplies` hands it to the waiting request.
"""

from __future__ import annotations

import asyncio
import threading
import zlib
from collections.abc import Callable

import anyio
import structlog

from rmqcore.client.errors import MQClientError
from rmqcore.message import Message, MessageExt, decode_properties, reply_topic
from rmqcore.message import constants as C
from rmqcore.remoting import RemotingCommand, ResponseCode, make_response
from rmqcore.remoting.headers.client import ReplyMessageRequestHeader

log = structlog.get_logger(__name__)

_MARKER = f"{C.PROPERTY_MESSAGE_TYPE}\x01{C.REPLY_MESSAGE_FLAG}\x02"
_INNER_MARKER = "\x02" + _MARKER


def create_reply_message(request: Message, body: bytes) -> Message:
    """The reply to ``request`` (a message as consumed: it has the CLUSTER the broker
    added), with ``body``; send it with any producer.

    >>> req = Message("T", b"q", properties={"CLUSTER": "DefaultCluster", "CORRELATION_ID": "c1",
    ...     "REPLY_TO_CLIENT": "10.0.0.1@42", "TTL": "3000"})
    >>> reply = create_reply_message(req, b"answer")
    >>> reply.topic, reply.properties["MSG_TYPE"], reply.properties["CORRELATION_ID"]
    ('DefaultCluster_REPLY_TOPIC', 'reply', 'c1')
    """
    if request is None:
        raise MQClientError("create reply message fail, requestMessage cannot be null.")
    props = request.properties
    cluster = props.get(C.PROPERTY_CLUSTER)
    if cluster is None:
        raise MQClientError(
            f"create reply message fail, requestMessage error, property[{C.PROPERTY_CLUSTER}] is null."
        )
    reply_props = {C.PROPERTY_MESSAGE_TYPE: C.REPLY_MESSAGE_FLAG}
    for key in (C.PROPERTY_CORRELATION_ID, C.PROPERTY_MESSAGE_REPLY_TO_CLIENT, C.PROPERTY_MESSAGE_TTL):
        value = props.get(key)
        if value is not None:
            reply_props[key] = value
    return Message(reply_topic(cluster), body, properties=reply_props)


def is_reply_property_string(properties: str) -> bool:
    """True when an encoded property string has MSG_TYPE=reply (such a message is sent with
    code 324/325 instead of 10/310).

    >>> is_reply_property_string("MSG_TYPE\\x01reply\\x02CORRELATION_ID\\x01c\\x02")
    True
    >>> is_reply_property_string("X_MSG_TYPE\\x01reply\\x02")
    False
    """
    return properties.startswith(_MARKER) or _INNER_MARKER in properties


def _host_of(java_address: str) -> tuple[str, int] | None:
    """``/127.0.0.1:10911`` or ``host/127.0.0.1:10911`` (``InetSocketAddress.toString()``) as (ip, port)."""
    text = java_address.rpartition("/")[2]
    ip, sep, port = text.rpartition(":")
    if not sep:
        return None
    try:
        return ip.strip("[]"), int(port)
    except ValueError:
        return None


def reply_from_push(cmd: RemotingCommand, received_ms: int) -> MessageExt:
    """The reply a PUSH_REPLY_MESSAGE_TO_CLIENT request carries, with ARRIVE_TIME set."""
    header = ReplyMessageRequestHeader.from_ext(cmd.ext_fields)
    body = cmd.body or b""
    if header.sys_flag & C.COMPRESSED_FLAG:
        try:
            body = zlib.decompress(body)
        except zlib.error as exc:
            log.warning("reply_body_not_inflatable", topic=header.topic, error=str(exc))
    properties = decode_properties(header.properties) if header.properties else {}
    properties[C.PROPERTY_REPLY_MESSAGE_ARRIVE_TIME] = str(received_ms)
    reply = MessageExt(
        header.topic,
        body,
        flag=header.flag,
        properties=properties,
        queue_id=header.queue_id,
        sys_flag=header.sys_flag,
        born_timestamp=header.born_timestamp,
        store_timestamp=header.store_timestamp,
        reconsume_times=header.reconsume_times or 0,
    )
    born, store = _host_of(header.born_host), _host_of(header.store_host)
    if born is not None:
        reply.born_host = born
    if store is not None:
        reply.store_host = store
    return reply


class _Pending:
    """One request's wait: set on the loop it waits on (``deliver``)."""

    __slots__ = ("arrived", "loop", "reply")

    def __init__(self) -> None:
        self.arrived = anyio.Event()
        self.reply: MessageExt | None = None
        try:
            self.loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:  # not on an asyncio loop: replies are delivered on the caller's thread
            self.loop = None

    def deliver(self, reply: MessageExt) -> None:
        if self.reply is None:
            self.reply = reply
            self.arrived.set()


# Every request of the process waiting for its reply, by correlation id (RocketMQ's
# RequestFutureHolder is a singleton too). Clients of one process share a client id (ip@pid),
# and the broker pushes a reply to any connection of that id: the client instance that gets
# the push may not be the one whose request waits, nor run on the same event loop.
_WAITING: dict[str, _Pending] = {}
_WAITING_LOCK = threading.Lock()


class PendingReplies:
    """A client instance's requests waiting for replies, and its PUSH_REPLY_MESSAGE_TO_CLIENT
    processor (:meth:`on_push_reply`), which hands a reply to the waiting request wherever it
    waits in this process: directly on the same loop, else through that loop's thread-safe call.
    """

    def __init__(self, now_ms: Callable[[], int]) -> None:
        self._now_ms = now_ms
        self._pending: dict[str, _Pending] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def open(self, correlation_id: str) -> None:
        pending = _Pending()
        self._pending[correlation_id] = pending
        with _WAITING_LOCK:
            _WAITING[correlation_id] = pending

    def close(self, correlation_id: str) -> None:
        self._pending.pop(correlation_id, None)
        with _WAITING_LOCK:
            _WAITING.pop(correlation_id, None)

    async def wait(self, correlation_id: str, timeout: float) -> MessageExt | None:
        """The reply, or None when ``timeout`` seconds pass first."""
        pending = self._pending[correlation_id]
        with anyio.move_on_after(max(0.0, timeout)):
            await pending.arrived.wait()
        return pending.reply

    def on_push_reply(self, channel: object, cmd: RemotingCommand) -> RemotingCommand:
        try:
            reply = reply_from_push(cmd, self._now_ms())
        except Exception as exc:
            log.warning("reply_push_unreadable", error=f"{type(exc).__name__}: {exc}")
            return make_response(cmd, ResponseCode.SYSTEM_ERROR, "process reply message fail")
        correlation_id = reply.properties.get(C.PROPERTY_CORRELATION_ID)
        with _WAITING_LOCK:
            pending = _WAITING.get(correlation_id) if correlation_id is not None else None
        if pending is None:
            # Its request timed out already (or it came from another process).
            log.warning("reply_without_request", correlation_id=correlation_id, born_host=reply.born_host)
            return make_response(cmd, ResponseCode.SUCCESS)
        loop = pending.loop
        try:
            here = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        if loop is None or loop is here:
            pending.deliver(reply)
        else:
            try:
                loop.call_soon_threadsafe(pending.deliver, reply)
            except RuntimeError:  # that loop is closed: its request is gone
                log.warning("reply_without_request", correlation_id=correlation_id, born_host=reply.born_host)
        return make_response(cmd, ResponseCode.SUCCESS)
