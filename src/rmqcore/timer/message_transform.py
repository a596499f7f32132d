"""Pure message rewrites of delayed delivery (reference section 7): into and out of the system topics.

* DELAY level → ``SCHEDULE_TOPIC_XXXX`` queue level−1, with REAL_TOPIC/REAL_QID
  (``HookUtils.transformDelayLevelMessage``); back out with DELAY, TIMER_DELIVER_MS and
  TIMER_DELAY_SEC removed and REAL_* left in place (``ScheduleMessageService.messageTimeup``).
* TIMER_* → ``rmq_sys_wheel_timer`` queue 0 with TIMER_OUT_MS, REAL_TOPIC/REAL_QID
  (``HookUtils.handleTimerMessage``); back out with REAL_* restored and removed
  (``TimerMessageStore.convertMessage``).

Each function returns a new ``MessageExt``; the input is never changed.

>>> from rmqcore.message import MessageExt
>>> m = MessageExt("TopicTest", b"x", tags="TagA", properties={"DELAY": "3", "TIMER_DELAY_SEC": "9"})
>>> s = to_schedule_message(m, queue_id=2, level=3)
>>> s.topic, s.properties["REAL_TOPIC"], s.properties["REAL_QID"], "TIMER_DELAY_SEC" in s.properties
('SCHEDULE_TOPIC_XXXX', 'TopicTest', '2', False)
>>> back, qid = from_schedule_message(s)
>>> back.topic, qid, sorted(back.properties)
('TopicTest', 2, ['REAL_QID', 'REAL_TOPIC', 'TAGS'])
"""

from __future__ import annotations

from rmqcore.message import MessageExt
from rmqcore.message import constants as C

from rmqcore.timer.errors import InvalidDelayPropertyError

# Removed from a schedule message when it is re-put to its real topic (section 7, messageTimeup).
SCHEDULE_DELIVERY_REMOVED = (C.PROPERTY_DELAY_TIME_LEVEL, C.PROPERTY_TIMER_DELIVER_MS, C.PROPERTY_TIMER_DELAY_SEC)
# Timer triggers in RocketMQ's priority order (section 7: DELAY_SEC, DELAY_MS, DELIVER_MS).
TIMER_TRIGGERS = (C.PROPERTY_TIMER_DELAY_SEC, C.PROPERTY_TIMER_DELAY_MS, C.PROPERTY_TIMER_DELIVER_MS)
TIMER_PROPERTY_PREFIX = "TIMER_"


def copy_message(msg: MessageExt, *, topic: str, queue_id: int, properties: dict[str, str]) -> MessageExt:
    """A new message with ``msg``'s body, flag, sysFlag, born time and hosts, reconsume count.

    The store timestamp is left 0: a re-put message is stamped by the store when written.
    """
    return MessageExt(
        topic,
        msg.body,
        flag=msg.flag,
        properties=properties,
        queue_id=queue_id,
        sys_flag=msg.sys_flag,
        born_timestamp=msg.born_timestamp,
        born_host=msg.born_host,
        store_host=msg.store_host,
        reconsume_times=msg.reconsume_times,
        prepared_transaction_offset=msg.prepared_transaction_offset,
    )


def int_property(msg: MessageExt, key: str) -> int | None:
    """The whole-number value of property ``key``; None when absent; a typed error when malformed."""
    raw = msg.properties.get(key)
    if raw is None or raw == "":
        return None
    try:
        return int(raw.strip())
    except ValueError:
        raise InvalidDelayPropertyError(key, raw) from None


def delay_level(msg: MessageExt) -> int:
    """The DELAY property (0 when absent)."""
    return int_property(msg, C.PROPERTY_DELAY_TIME_LEVEL) or 0


def to_schedule_message(msg: MessageExt, queue_id: int, level: int) -> MessageExt:
    """``msg`` moved to SCHEDULE_TOPIC_XXXX queue ``level``−1; ``level`` must already be clamped.

    Section 7: REAL_TOPIC/REAL_QID added, DELAY set to the clamped level, and every TIMER_*
    property removed (the level wins over a timer).
    """
    props = {k: v for k, v in msg.properties.items() if not k.startswith(TIMER_PROPERTY_PREFIX)}
    props[C.PROPERTY_DELAY_TIME_LEVEL] = str(level)
    props[C.PROPERTY_REAL_TOPIC] = msg.topic
    props[C.PROPERTY_REAL_QUEUE_ID] = str(queue_id)
    return copy_message(msg, topic=C.SCHEDULE_TOPIC, queue_id=level - 1, properties=props)


def _real_destination(msg: MessageExt) -> tuple[str, int]:
    topic = msg.properties.get(C.PROPERTY_REAL_TOPIC)
    qid = int_property(msg, C.PROPERTY_REAL_QUEUE_ID)
    if not topic or qid is None:
        raise InvalidDelayPropertyError(
            C.PROPERTY_REAL_TOPIC if not topic else C.PROPERTY_REAL_QUEUE_ID,
            str(msg.properties.get(C.PROPERTY_REAL_TOPIC if not topic else C.PROPERTY_REAL_QUEUE_ID)),
        )
    return topic, qid


def from_schedule_message(msg: MessageExt) -> tuple[MessageExt, int]:
    """The message to re-put when a schedule message is due, and its real queue id (section 7).

    DELAY, TIMER_DELIVER_MS and TIMER_DELAY_SEC are removed; REAL_TOPIC/REAL_QID stay in place.
    The tag code is left to the store, which computes it from TAGS.
    """
    topic, qid = _real_destination(msg)
    props = {k: v for k, v in msg.properties.items() if k not in SCHEDULE_DELIVERY_REMOVED}
    return copy_message(msg, topic=topic, queue_id=qid, properties=props), qid


def timer_deliver_ms(msg: MessageExt, now_ms: int) -> int | None:
    """Absolute deliver time of a timer message (section 7 priority), or None if it has no trigger."""
    delay_sec = int_property(msg, C.PROPERTY_TIMER_DELAY_SEC)
    if delay_sec is not None:
        return now_ms + delay_sec * 1000
    delay_ms = int_property(msg, C.PROPERTY_TIMER_DELAY_MS)
    if delay_ms is not None:
        return now_ms + delay_ms
    return int_property(msg, C.PROPERTY_TIMER_DELIVER_MS)


def to_timer_message(msg: MessageExt, queue_id: int, timer_out_ms: int) -> MessageExt:
    """``msg`` moved to rmq_sys_wheel_timer queue 0 with TIMER_OUT_MS (already rounded) and REAL_*."""
    props = dict(msg.properties)
    props[C.PROPERTY_TIMER_OUT_MS] = str(timer_out_ms)
    props[C.PROPERTY_REAL_TOPIC] = msg.topic
    props[C.PROPERTY_REAL_QUEUE_ID] = str(queue_id)
    return copy_message(msg, topic=C.TIMER_TOPIC, queue_id=0, properties=props)


def from_timer_message(msg: MessageExt, now_ms: int) -> tuple[MessageExt, int]:
    """The message to re-put when a timer message fires, and its real queue id.

    Section 7: REAL_TOPIC/REAL_QID restored and removed.  As ``TimerMessageStore.convert``
    does, TIMER_ENQUEUE_MS (when the timer message was stored) and TIMER_DEQUEUE_MS (now)
    are added; every other property, TIMER_OUT_MS included, is kept.
    """
    topic, qid = _real_destination(msg)
    props = {k: v for k, v in msg.properties.items() if k not in (C.PROPERTY_REAL_TOPIC, C.PROPERTY_REAL_QUEUE_ID)}
    if msg.store_timestamp:
        props[C.PROPERTY_TIMER_ENQUEUE_MS] = str(msg.store_timestamp)
    props[C.PROPERTY_TIMER_DEQUEUE_MS] = str(now_ms)
    return copy_message(msg, topic=topic, queue_id=qid, properties=props), qid


def timer_out_ms(msg: MessageExt) -> int | None:
    """TIMER_OUT_MS of a message in the timer topic."""
    return int_property(msg, C.PROPERTY_TIMER_OUT_MS)


def cancel_key(msg: MessageExt) -> str | None:
    """The key a TIMER_DEL_UNIQKEY marker uses to name this timer message: ``REAL_TOPIC+UNIQ_KEY``."""
    uniq_key = msg.properties.get(C.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX)
    topic = msg.properties.get(C.PROPERTY_REAL_TOPIC)
    return f"{topic}+{uniq_key}" if uniq_key and topic else None


def delete_key(msg: MessageExt) -> str | None:
    """TIMER_DEL_UNIQKEY of a delete marker (``TimerMessageStore.buildDeleteKey``), else None."""
    return msg.properties.get(C.PROPERTY_TIMER_DEL_UNIQKEY) or None
