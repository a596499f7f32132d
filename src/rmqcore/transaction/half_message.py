"""Pure message rewrites of transactions (reference section 8); each returns a new ``MessageExt``.

* ``to_half_message``: the prepared message as stored (``TransactionalMessageBridge.parseHalfMessageInner``).
* ``to_committed_message``: the real message written on commit (``EndTransactionProcessor.endMessageTransaction``).
* ``to_check_copy``: the half re-appended before a check-back (``renewHalfMessageInner``).
* ``to_discard_message``: a half checked too often, moved to TRANS_CHECK_MAXTIME_TOPIC
  (``DefaultTransactionalMessageCheckListener.toMessageExtBrokerInner``).
* ``op_message`` / ``parse_op_body``: the op ("d") marker and its 5.x body ``"17,18,"``.

>>> from rmqcore.message import MessageExt
>>> m = MessageExt("TopicTest", b"x", tags="TagA", sys_flag=0x4,
...                properties={"TRAN_MSG": "true", "PGROUP": "pg", "UNIQ_KEY": "U1"})
>>> half = to_half_message(m, queue_id=3)
>>> half.topic, half.queue_id, half.sys_flag, half.properties["__transactionId__"], half.properties["REAL_QID"]
('RMQ_SYS_TRANS_HALF_TOPIC', 0, 0, 'U1', '3')
>>> real, qid = to_committed_message(half, commit_log_offset=500)
>>> real.topic, qid, real.sys_flag, real.prepared_transaction_offset, sorted(real.properties)
('TopicTest', 3, 8, 500, ['PGROUP', 'TAGS', 'UNIQ_KEY', '__transactionId__'])
>>> op_message([17, 18]).body, parse_op_body(b"17,18,"), parse_op_body(b"19")
(b'17,18,', [17, 18], [19])
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from rmqcore.message import Message, MessageExt
from rmqcore.message import constants as C

REMOVE_TAG: Final = "d"  # TransactionalMessageUtil.REMOVE_TAG
OFFSET_SEPARATOR: Final = ","  # TransactionalMessageUtil.OFFSET_SEPARATOR (5.x)
HALF_QUEUE_ID: Final = 0  # the half and op topics have one queue each (section 8)


def _copy(msg: MessageExt, *, topic: str, queue_id: int, properties: dict[str, str], sys_flag: int | None = None) -> MessageExt:
    return MessageExt(
        topic,
        msg.body,
        flag=msg.flag,
        properties=properties,
        queue_id=queue_id,
        sys_flag=msg.sys_flag if sys_flag is None else sys_flag,
        born_timestamp=msg.born_timestamp,
        born_host=msg.born_host,
        store_host=msg.store_host,
        reconsume_times=msg.reconsume_times,
    )


def to_half_message(msg: MessageExt, queue_id: int) -> MessageExt:
    """Section 8: ``__transactionId__``=UNIQ_KEY, REAL_TOPIC, REAL_QID; tx bits cleared; half topic queue 0."""
    props = dict(msg.properties)
    uniq_key = props.get(C.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX)
    if uniq_key:
        props[C.PROPERTY_TRANSACTION_ID] = uniq_key
    props[C.PROPERTY_REAL_TOPIC] = msg.topic
    props[C.PROPERTY_REAL_QUEUE_ID] = str(queue_id)
    sys_flag = msg.sys_flag & ~C.TRANSACTION_TYPE_MASK | C.TRANSACTION_NOT_TYPE
    return _copy(msg, topic=C.TRANS_HALF_TOPIC, queue_id=HALF_QUEUE_ID, properties=props, sys_flag=sys_flag)


def real_destination(half: MessageExt) -> tuple[str, int] | None:
    """REAL_TOPIC and REAL_QID of a half message, or None when either is missing or malformed."""
    topic = half.properties.get(C.PROPERTY_REAL_TOPIC)
    raw_qid = half.properties.get(C.PROPERTY_REAL_QUEUE_ID, "")
    if not topic or not raw_qid.lstrip("-").isdigit():
        return None
    return topic, int(raw_qid)


def to_committed_message(half: MessageExt, commit_log_offset: int) -> tuple[MessageExt, int]:
    """Section 8 commit: topic/queue from REAL_*, those and TRAN_MSG removed, tx bits := COMMIT,
    preparedTransactionOffset := the half's commitlog offset, store timestamp of the half."""
    destination = real_destination(half)
    if destination is None:
        raise ValueError(f"half message at commitlog offset {commit_log_offset} has no valid REAL_TOPIC/REAL_QID")
    topic, queue_id = destination
    removed = (C.PROPERTY_REAL_TOPIC, C.PROPERTY_REAL_QUEUE_ID, C.PROPERTY_TRANSACTION_PREPARED)
    props = {k: v for k, v in half.properties.items() if k not in removed}
    sys_flag = half.sys_flag & ~C.TRANSACTION_TYPE_MASK | C.TRANSACTION_COMMIT_TYPE
    real = _copy(half, topic=topic, queue_id=queue_id, properties=props, sys_flag=sys_flag)
    real.prepared_transaction_offset = commit_log_offset
    real.store_timestamp = half.store_timestamp
    return real, queue_id


def check_times(half: MessageExt) -> int | None:
    """TRANSACTION_CHECK_TIMES of a half message (None when never checked, or malformed)."""
    raw = half.properties.get(C.PROPERTY_TRANSACTION_CHECK_TIMES)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        return None


def to_check_copy(half: MessageExt, times: int) -> MessageExt:
    """The half re-appended to the half queue before check-back number ``times`` (born time kept)."""
    props = dict(half.properties)
    props[C.PROPERTY_TRANSACTION_CHECK_TIMES] = str(times)
    return _copy(half, topic=C.TRANS_HALF_TOPIC, queue_id=half.queue_id, properties=props)


def to_immunity_copy(half: MessageExt) -> MessageExt:
    """A half still inside its CHECK_IMMUNITY_TIME, set aside at the end of the half queue so the
    check loop can move on (``renewImmunityHalfMessageInner``): TRAN_PREPARED_QUEUE_OFFSET names
    the original half's queue offset (kept from an earlier copy), check times unchanged."""
    props = dict(half.properties)
    props.setdefault(C.PROPERTY_TRANSACTION_PREPARED_QUEUE_OFFSET, str(half.queue_offset))
    return _copy(half, topic=C.TRANS_HALF_TOPIC, queue_id=half.queue_id, properties=props)


def origin_queue_offset(half: MessageExt) -> int | None:
    """TRAN_PREPARED_QUEUE_OFFSET of an immunity copy: the queue offset of the original half."""
    raw = half.properties.get(C.PROPERTY_TRANSACTION_PREPARED_QUEUE_OFFSET, "")
    return int(raw) if raw.isdigit() else None


def to_discard_message(half: MessageExt) -> MessageExt:
    """A half given up on: TRANS_CHECK_MAXTIME_TOPIC queue 0, everything else kept (section 8)."""
    return _copy(half, topic=C.TRANS_CHECK_MAX_TIME_TOPIC, queue_id=0, properties=dict(half.properties))


def op_body(half_queue_offsets: Iterable[int]) -> bytes:
    """5.x op body: each half queue offset followed by ``,`` (section 8)."""
    return "".join(f"{offset}{OFFSET_SEPARATOR}" for offset in half_queue_offsets).encode("ascii")


def op_message(half_queue_offsets: Iterable[int]) -> Message:
    """An op message (topic RMQ_SYS_TRANS_OP_HALF_TOPIC, tag "d") for the given half queue offsets."""
    return Message(C.TRANS_OP_HALF_TOPIC, op_body(half_queue_offsets), tags=REMOVE_TAG)


def parse_op_body(body: bytes) -> list[int]:
    """Half queue offsets of an op body: 5.x ``"17,18,"`` or 4.9.x ``"17"``; junk entries are skipped."""
    offsets = []
    for token in body.decode("ascii", errors="replace").split(OFFSET_SEPARATOR):
        token = token.strip()
        if token.isdigit():
            offsets.append(int(token))
    return offsets
