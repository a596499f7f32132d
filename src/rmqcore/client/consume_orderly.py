"""Orderly consumption (``ConsumeMessageOrderlyService``).

One worker per queue at a time (a lock per queue), messages handed over in offset order.
In CLUSTERING a queue is consumed only while this client holds the broker-side lock
(LOCK_BATCH_MQ, renewed by the consumer every 20 s); without it the worker stops and the
pull loop's next delivery, or the next renewal, starts it again.
SUSPEND_CURRENT_QUEUE_A_MOMENT puts the batch back in front and pauses the queue; after
``max_reconsume_times`` suspensions (default unlimited) the batch is sent to the DLQ via
CONSUMER_SEND_MSG_BACK and the queue moves on.
"""

from __future__ import annotations

import time
from dataclasses import KW_ONLY, dataclass, field

import anyio
import structlog

from rmqcore.client.consume_service import ConsumeService
from rmqcore.client.consume_service import SendBack as SendBack  # re-exported: it lived here before
from rmqcore.client.listener import ConsumeOrderlyContext, ConsumeOrderlyStatus
from rmqcore.client.process_queue import ProcessQueue
from rmqcore.message import MessageExt, MessageQueue
from rmqcore.message import constants as C
from rmqcore.remoting.bodies.heartbeat import MessageModel

log = structlog.get_logger(__name__)

DEFAULT_SUSPEND_MS = 1000
MAX_TIME_CONSUME_CONTINUOUSLY_S = 60.0


@dataclass(eq=False, repr=False)
class OrderlyConsumeService(ConsumeService):
    _: KW_ONLY
    max_reconsume_times: int = 2**31 - 1
    suspend_ms: int = DEFAULT_SUSPEND_MS
    _queue_locks: dict[MessageQueue, anyio.Lock] = field(default_factory=dict, init=False)

    def submit(self, msgs: list[MessageExt], pq: ProcessQueue, mq: MessageQueue, dispatch: bool = True) -> None:
        if dispatch:
            self.task_group.start_soon(self.consume_queue, pq, mq)

    def queue_lock(self, mq: MessageQueue) -> anyio.Lock:
        """Held while a batch of ``mq`` is with the listener."""
        return self._queue_locks.setdefault(mq, anyio.Lock())

    def _needs_lock(self) -> bool:
        return self.message_model is MessageModel.CLUSTERING

    async def consume_queue(self, pq: ProcessQueue, mq: MessageQueue) -> None:
        async with self.queue_lock(mq):
            started = time.monotonic()
            while not pq.dropped:
                if self._needs_lock() and (not pq.locked or pq.is_lock_expired()):
                    # Not ours to consume now; the lock renewal resubmits the queue when it is.
                    pq.consuming = False
                    return
                if time.monotonic() - started > MAX_TIME_CONSUME_CONTINUOUSLY_S:
                    # Let other queues' workers have the thread pool; come back at once.
                    self.task_group.start_soon(self.consume_queue, pq, mq)
                    return
                msgs = pq.take_messages(self.batch_max_size)
                if not msgs:
                    return
                context = ConsumeOrderlyContext(mq)
                try:
                    status = await self._call_listener(msgs, context)
                except Exception:
                    log.exception("consume_orderly_listener_failed", group=self.group, mq=str(mq))
                    status = ConsumeOrderlyStatus.SUSPEND_CURRENT_QUEUE_A_MOMENT
                if status is None:
                    status = ConsumeOrderlyStatus.SUSPEND_CURRENT_QUEUE_A_MOMENT
                if pq.dropped:
                    return
                if not await self.process_result(status, context, msgs, pq, mq):
                    pause = context.suspend_current_queue_time_millis
                    await anyio.sleep((pause if pause > 0 else self.suspend_ms) / 1000)

    async def process_result(
        self, status: ConsumeOrderlyStatus, context: ConsumeOrderlyContext, msgs: list[MessageExt], pq: ProcessQueue, mq: MessageQueue
    ) -> bool:
        """Commit or put back; True when the queue may go on at once."""
        if status is ConsumeOrderlyStatus.SUCCESS:
            offset = pq.commit()
        elif await self._give_up_on(msgs):
            offset = pq.commit()
        else:
            for msg in msgs:
                msg.reconsume_times += 1
            pq.make_messages_to_consume_again(msgs)
            return False
        if offset >= 0 and not pq.dropped:
            self.offset_store.update_offset(mq, offset)
        return True

    async def _give_up_on(self, msgs: list[MessageExt]) -> bool:
        """``checkReconsumeTimes``: send messages past the limit to the DLQ (CLUSTERING only)."""
        if self.message_model is not MessageModel.CLUSTERING:
            return False
        if any(m.reconsume_times < self.max_reconsume_times for m in msgs):
            return False
        for msg in msgs:
            msg.properties[C.PROPERTY_RECONSUME_TIME] = str(msg.reconsume_times)
            if not await self.send_back(msg, -1):
                return False
        return True
