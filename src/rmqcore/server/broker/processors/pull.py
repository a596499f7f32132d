"""PULL_MESSAGE (11) and LITE_PULL_MESSAGE (361): RocketMQ's ``PullMessageProcessor``.

The body of a found pull is the stored records exactly as on disk (``get_raw``; the
stored format is the pull wire format, reference section 4). The store filters by tag
code; an SQL92 or custom subscription is then applied to each record's properties.
Status → response code follows reference section 3 ("Pull status"). A pull with the
SUSPEND flag that finds nothing is parked in the :class:`LongPollHolder` until a
message arrives or its suspend timeout ends, then runs once more and answers.

A PULL_OFFSET_MOVED answer from a master (any role but SLAVE) also stores an
``OffsetMovedEvent`` in the system topic ``OFFSET_MOVED_EVENT`` and logs a warning, as
RocketMQ's pull result handler does (``generateOffsetMovedEvent``); under SYNC_FLUSH that
put (which waits for its flush) runs in a worker thread before the answer is sent.
"""

from __future__ import annotations

import inspect

import struct
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import anyio

from rmqcore.message import MessageDecodeError, decode_stored_message
from rmqcore.message import constants as C
from rmqcore.message.properties import decode_properties_cached
from rmqcore.remoting import RESPONSE_FLAG, RemotingCommand, RequestCode, ResponseCode, make_response
from rmqcore.remoting.headers.pull import PullMessageRequestHeader
from rmqcore.server.broker.filtering import FilterParseError, SubscriptionFilter
from rmqcore.store import GetStatus

if TYPE_CHECKING:
    from rmqcore.server.broker.controller import BrokerController

# DefaultMessageStore's in-memory transfer limits: at most 32 messages / 256 KiB per pull.
MAX_TRANSFER_COUNT = 32
MAX_TRANSFER_BYTES = 256 * 1024
FILTER_CACHE_SIZE = 1024

_SUCCESS = int(ResponseCode.SUCCESS)
_NOT_FOUND = int(ResponseCode.PULL_NOT_FOUND)
_RETRY_IMMEDIATELY = int(ResponseCode.PULL_RETRY_IMMEDIATELY)
_OFFSET_MOVED = int(ResponseCode.PULL_OFFSET_MOVED)
_I32 = struct.Struct(">i")
_U16 = struct.Struct(">H")
_FOUND = GetStatus.FOUND
_PULL_FLAG_SUBSCRIPTION = C.PULL_FLAG_SUBSCRIPTION
_PULL_FLAG_COMMIT_OFFSET = C.PULL_FLAG_COMMIT_OFFSET
_PULL_FLAG_SUSPEND = C.PULL_FLAG_SUSPEND
_PERM_READ = C.PERM_READ
OFFSET_MOVED_EVENT_TOPIC = "OFFSET_MOVED_EVENT"  # TopicValidator.RMQ_SYS_OFFSET_MOVED_EVENT


def pull_response_code(status_name: str, request_offset: int) -> int:
    """Reference section 3, "Pull status → response"."""
    if status_name == "FOUND":
        return _SUCCESS
    if status_name == "NO_MATCHED_MESSAGE" or status_name == "MESSAGE_WAS_REMOVING":
        return _RETRY_IMMEDIATELY
    if status_name in ("NO_MESSAGE_IN_QUEUE", "NO_MATCHED_LOGIC_QUEUE"):
        return _OFFSET_MOVED if request_offset != 0 else _NOT_FOUND
    if status_name in ("OFFSET_OVERFLOW_ONE", "OFFSET_FOUND_NULL"):
        return _NOT_FOUND
    return _OFFSET_MOVED  # OFFSET_TOO_SMALL, OFFSET_OVERFLOW_BADLY


def record_properties(raw: bytes | memoryview, pos: int) -> dict[str, str]:
    """Properties of the stored record at ``pos`` (reference section 4 layout), without decoding the rest."""
    sys_flag = _I32.unpack_from(raw, pos + 36)[0]
    p = pos + 48 + (20 if sys_flag & C.BORNHOST_V6_FLAG else 8) + 8 + (20 if sys_flag & C.STOREHOSTADDRESS_V6_FLAG else 8) + 12
    p += 4 + _I32.unpack_from(raw, p)[0]
    if _I32.unpack_from(raw, pos + 4)[0] == C.MESSAGE_MAGIC_CODE_V2:
        p += 2 + _U16.unpack_from(raw, p)[0]
    else:
        p += 1 + raw[p]
    props_len = _U16.unpack_from(raw, p)[0]
    return decode_properties_cached(bytes(raw[p + 2 : p + 2 + props_len]).decode("utf-8", "replace"))


def filter_records(raw: bytes, subscription: SubscriptionFilter) -> tuple[bytes, int]:
    """The records of ``raw`` the subscription's predicate accepts, concatenated, and their count.

    SQL92 reads only each record's properties; another filter type gets the decoded message.
    """
    out: list[bytes] = []
    pos = 0
    end = len(raw)
    view = memoryview(raw)
    by_properties = subscription.property_predicate is not None
    while pos + 4 <= end:
        size = _I32.unpack_from(raw, pos)[0]
        if size <= 0 or pos + size > end:
            break
        if by_properties:
            keep = subscription.matches_properties(record_properties(view, pos))
        else:
            try:
                keep = subscription.matches_message(decode_stored_message(view, pos)[0])
            except MessageDecodeError:
                keep = False
        if keep:
            out.append(raw[pos : pos + size])
        pos += size
    return b"".join(out), len(out)


def offset_moved_event_body(group: str, topic: str, broker_name: str, queue_id: int, offset_request: int, offset_new: int) -> bytes:
    """``OffsetMovedEvent.encode()``: fastjson writes fields in name order, no spaces."""
    import json  # only on an offset-moved answer

    event = {
        "consumerGroup": group,
        "messageQueue": {"brokerName": broker_name, "queueId": queue_id, "topic": topic},
        "offsetNew": offset_new,
        "offsetRequest": offset_request,
    }
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()


def offset_moved_event_properties(group: str) -> bytes:
    """The event's property string: ``setTags(group)``, ``setDelayTimeLevel(0)``, ``setKeys(group)``
    in a Java HashMap, whose iteration order for these three keys is KEYS, DELAY, TAGS
    (reference section 4, "Properties string")."""
    return f"{C.PROPERTY_KEYS}\x01{group}\x02{C.PROPERTY_DELAY_TIME_LEVEL}\x010\x02{C.PROPERTY_TAGS}\x01{group}\x02".encode()


class PullProcessor:
    def __init__(self, broker: BrokerController) -> None:
        self.broker = broker
        self._filters: OrderedDict[tuple[str, str, str, int], SubscriptionFilter] = OrderedDict()

    def handlers(self) -> dict[int, Any]:
        return {RequestCode.PULL_MESSAGE: self.pull_message, RequestCode.LITE_PULL_MESSAGE: self.pull_message}

    # -- subscription --------------------------------------------------------------------------
    def _header_filter(self, header: PullMessageRequestHeader) -> SubscriptionFilter:
        """The filter of a pull that carries its own subscription, compiled once per expression."""
        key = (header.topic, header.expression_type or "TAG", header.subscription or "*", header.sub_version)
        filters = self._filters
        cached = filters.get(key)
        if cached is not None:
            filters.move_to_end(key)
            return cached
        built = SubscriptionFilter.build(
            header.topic, header.subscription, header.expression_type, header.sub_version, self.broker.filter_factory
        )
        self._filters[key] = built
        if len(self._filters) > FILTER_CACHE_SIZE:
            self._filters.popitem(last=False)
        return built

    def _resolve(
        self, channel: Any, cmd: RemotingCommand, header: PullMessageRequestHeader
    ) -> SubscriptionFilter | RemotingCommand:
        """Checks of ``processRequest`` before the store is read: the filter, or the error response."""
        broker = self.broker
        group = header.consumer_group
        group_config = broker.groups.find_or_create(group)
        if group_config is None:
            return make_response(cmd, ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST, f"subscription group [{group}] does not exist")
        if not group_config.consume_enable:
            return make_response(cmd, ResponseCode.NO_PERMISSION, f"subscription group no permission, {group}")
        topic_config = broker.topics.select(header.topic)
        if topic_config is None:
            return make_response(cmd, ResponseCode.TOPIC_NOT_EXIST, f"topic[{header.topic}] not exist, apply first please!")
        if not topic_config.perm & _PERM_READ:
            return make_response(cmd, ResponseCode.NO_PERMISSION, f"the topic[{header.topic}] pulling message is forbidden")
        if not 0 <= header.queue_id < topic_config.read_queue_nums:
            return make_response(
                cmd,
                ResponseCode.SYSTEM_ERROR,
                f"queueId[{header.queue_id}] is illegal, topic:[{header.topic}] "
                f"topicConfig.readQueueNums:[{topic_config.read_queue_nums}] consumer:[{getattr(channel, 'remote_addr', '')}]",
            )
        subscription: SubscriptionFilter | None  # the consumer table holds the heartbeats' filters
        if header.sys_flag & _PULL_FLAG_SUBSCRIPTION:
            try:
                subscription = self._header_filter(header)
            except FilterParseError as exc:
                if exc.response_code == ResponseCode.SUBSCRIPTION_PARSE_FAILED:
                    return make_response(cmd, exc.response_code, f"parse the consumer's subscription failed: {exc}")
                return make_response(cmd, exc.response_code, str(exc))
        else:
            info = broker.consumers.group(group)
            if info is None:
                return make_response(cmd, ResponseCode.SUBSCRIPTION_NOT_EXIST, "the consumer's group info not exist")
            if not group_config.consume_broadcast_enable and info.message_model == "BROADCASTING":
                return make_response(
                    cmd, ResponseCode.NO_PERMISSION, f"the consumer group[{group}] can not consume by broadcast way"
                )
            subscription = info.subscriptions.get(header.topic)
            if subscription is None:
                return make_response(cmd, ResponseCode.SUBSCRIPTION_NOT_EXIST, "the consumer's subscription not exist")
            if subscription.sub_version < header.sub_version:
                return make_response(cmd, ResponseCode.SUBSCRIPTION_NOT_LATEST, "the consumer's subscription not latest")
            if subscription.compile_error is not None:
                return make_response(
                    cmd,
                    ResponseCode.FILTER_DATA_NOT_EXIST,
                    "The broker's consumer filter data is not exist!Your expression may be wrong!",
                )
        if not broker.config.enable_property_filter and not subscription.is_tag:
            return make_response(
                cmd,
                ResponseCode.SYSTEM_ERROR,
                f"The broker does not support consumer to filter message by {subscription.expression_type}",
            )
        return subscription

    # -- the pull ------------------------------------------------------------------------------
    def pull_message(self, channel: Any, cmd: RemotingCommand) -> Any:
        header = PullMessageRequestHeader.from_ext(cmd.ext_fields)
        subscription = self._resolve(channel, cmd, header)
        if subscription.__class__ is RemotingCommand:
            return subscription
        response = self._pull_once(cmd, header, subscription)  # type: ignore[arg-type]
        broker = self.broker
        sys_flag = header.sys_flag
        if sys_flag & _PULL_FLAG_COMMIT_OFFSET:
            broker.offsets.commit(header.consumer_group, header.topic, header.queue_id, header.commit_offset)
        code = response.code
        if code == _SUCCESS:
            return response
        if sys_flag & _PULL_FLAG_SUSPEND and code == _NOT_FOUND:
            config = broker.config
            timeout_ms = header.suspend_timeout_millis if config.long_polling_enable else config.short_polling_time_mills
            if timeout_ms > 0:
                return self._suspended(cmd, header, subscription, timeout_ms)  # type: ignore[arg-type]
        if code == _OFFSET_MOVED:
            return self._offset_moved(header, response)
        return response

    def _offset_moved(self, header: PullMessageRequestHeader, response: RemotingCommand) -> Any:
        """A PULL_OFFSET_MOVED answer, or an awaitable of it.

        On a master it stands, with an OffsetMovedEvent stored (under SYNC_FLUSH before the
        answer). A slave's store may just lag its master, so unless ``offsetCheckInSlave``
        it answers PULL_RETRY_IMMEDIATELY and suggests the group's broker (the master) instead,
        as RocketMQ's PullMessageProcessor does; a consumer must not reset its offset on a
        lagging copy. A slave never stores the event (it does not write its store).
        """
        broker = self.broker
        if broker.is_slave:
            if not broker.config.offset_check_in_slave:
                group = broker.groups.get(header.consumer_group)
                response.code = _RETRY_IMMEDIATELY
                response.ext_fields["suggestWhichBrokerId"] = str(group.broker_id if group is not None else 0)
            return response
        if broker.config.flush_disk_type == "SYNC_FLUSH":
            return self._answer_after_offset_moved_event(header, response)
        self._offset_moved_event(header, response)
        return response

    async def _answer_after_offset_moved_event(self, header: PullMessageRequestHeader, response: RemotingCommand) -> RemotingCommand:
        from anyio.to_thread import run_sync

        await run_sync(self._offset_moved_event, header, response)
        return response

    def _offset_moved_event(self, header: PullMessageRequestHeader, response: RemotingCommand) -> None:
        """``generateOffsetMovedEvent``: store an OffsetMovedEvent (offsetNew = the answer's
        nextBeginOffset) in OFFSET_MOVED_EVENT queue 0, tags = keys = the group, flag and
        sysFlag 0, born host = store host = the broker; a failed put is logged, never raised."""
        import structlog

        log = structlog.get_logger(__name__)
        broker = self.broker
        group = header.consumer_group
        offset_new = int(response.ext_fields["nextBeginOffset"])
        log.warning(
            "pull_offset_moved",
            topic=header.topic,
            group=group,
            queue_id=header.queue_id,
            request_offset=header.queue_offset,
            new_offset=offset_new,
            suggest_broker_id=response.ext_fields.get("suggestWhichBrokerId", "0"),
        )
        body = offset_moved_event_body(group, header.topic, broker.broker_name, header.queue_id, header.queue_offset, offset_new)
        try:
            result = broker.store.put_encoded(
                OFFSET_MOVED_EVENT_TOPIC, 0, body, offset_moved_event_properties(group), born_host=broker.store_host
            )
        except Exception as exc:
            log.warning("offset_moved_event_failed", group=group, topic=header.topic, error=str(exc))
            return
        if not result.ok and result.commitlog_offset < 0:
            log.warning("offset_moved_event_failed", group=group, topic=header.topic, status=result.status.name)

    async def _suspended(
        self, cmd: RemotingCommand, header: PullMessageRequestHeader, subscription: SubscriptionFilter, timeout_ms: int
    ) -> RemotingCommand:
        """Park, then pull again. RocketMQ wakes a parked pull only for a message its filter
        matches; the store's dispatch notice carries no tag code, so a wake-up whose messages
        all fail the filter parks again past them until the suspend timeout."""
        broker = self.broker
        store = broker.store
        topic, queue_id = header.topic, header.queue_id
        wait_from = header.queue_offset
        deadline = anyio.current_time() + timeout_ms / 1000
        while True:
            remaining = deadline - anyio.current_time()
            woken = remaining > 0 and await broker.long_poll.wait(
                topic, queue_id, wait_from, remaining, arrived=lambda: store.max_offset(topic, queue_id) > wait_from
            )
            if broker.store is None:  # shut down while parked
                return make_response(cmd, ResponseCode.SYSTEM_BUSY, "broker is shutting down")
            response = self._pull_once(cmd, header, subscription)
            if woken and response.code == _RETRY_IMMEDIATELY:
                wait_from = int(response.ext_fields["nextBeginOffset"])
                continue
            if response.code == _OFFSET_MOVED:
                answer = self._offset_moved(header, response)
                return (await answer) if inspect.isawaitable(answer) else answer
            return response

    def _pull_once(
        self, cmd: RemotingCommand, header: PullMessageRequestHeader, subscription: SubscriptionFilter
    ) -> RemotingCommand:
        max_count = header.max_msg_nums
        if max_count > MAX_TRANSFER_COUNT:
            max_count = MAX_TRANSFER_COUNT
        elif max_count <= 0:
            max_count = 1
        max_bytes = header.max_msg_bytes
        if max_bytes is None or max_bytes <= 0 or max_bytes > MAX_TRANSFER_BYTES:
            max_bytes = MAX_TRANSFER_BYTES
        result = self.broker.store.get_raw(
            header.topic,
            header.queue_id,
            header.queue_offset,
            max_count,
            tag_codes=subscription.tag_codes,
            max_bytes=max_bytes,
        )
        ext = {
            "suggestWhichBrokerId": "0",
            "nextBeginOffset": str(result.next_offset),
            "minOffset": str(result.min_offset),
            "maxOffset": str(result.max_offset),
        }
        if result.status is _FOUND:
            body = result.raw
            if subscription.message_predicate is None:
                # The common answer, built directly (make_response would copy ext).
                return RemotingCommand(code=_SUCCESS, opaque=cmd.opaque, flag=RESPONSE_FLAG, ext_fields=ext, body=body)
            body, kept = filter_records(body, subscription)
            if kept:
                return RemotingCommand(code=_SUCCESS, opaque=cmd.opaque, flag=RESPONSE_FLAG, ext_fields=ext, body=body)
            status = "NO_MATCHED_MESSAGE"
        else:
            status = result.status.name
        code = pull_response_code(status, header.queue_offset)
        return make_response(cmd, code, None if code == _SUCCESS else status, ext=ext, body=None)
