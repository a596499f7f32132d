"""Concurrent consumption (``ConsumeMessageConcurrentlyService``).

Each batch of up to ``consume_message_batch_max_size`` messages is consumed by its own task.
On RECONSUME_LATER (or an exception) in CLUSTERING the failed messages are sent back to the
broker (CONSUMER_SEND_MSG_BACK: retry topic after a delay, DLQ after ``max_reconsume_times``);
a message that cannot even be sent back is consumed again here after a pause. In
BROADCASTING failures are only logged, as in Java. The queue's committed offset then moves
to the oldest message still in flight (:meth:`ProcessQueue.remove_messages`).

A listener that never returns would hold its queue's committed offset back for good:
:meth:`ConcurrentlyConsumeService.clean_expired` (``cleanExpireMsg``, run every
``consumeTimeout``) sends a message the listener got more than ``consumeTimeout`` ago back to
the broker (retry topic, delay level 3) and stops waiting for it, so the offset moves on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass

import anyio
import structlog

from rmqcore.client.consume_service import ConsumeService
from rmqcore.client.consume_service import SendBack as SendBack, reset_retry_topic as reset_retry_topic  # re-exported: they lived here before
from rmqcore.client.listener import ConsumeConcurrentlyContext, ConsumeConcurrentlyStatus
from rmqcore.client.process_queue import EXPIRED_SCAN_MAX, ProcessQueue
from rmqcore.message import MessageExt, MessageQueue
from rmqcore.remoting.bodies.heartbeat import MessageModel

log = structlog.get_logger(__name__)

RECONSUME_PAUSE_S = 5.0
EXPIRED_SEND_BACK_DELAY_LEVEL = 3  # cleanExpiredMsg: sendMessageBack(msg, 3)


@dataclass(eq=False, repr=False)
class ConcurrentlyConsumeService(ConsumeService):
    _: KW_ONLY
    reconsume_pause_s: float = RECONSUME_PAUSE_S

    def submit(self, msgs: list[MessageExt], pq: ProcessQueue, mq: MessageQueue, dispatch: bool = True) -> None:
        size = self.batch_max_size
        for i in range(0, len(msgs), size):
            self.task_group.start_soon(self.consume, msgs[i : i + size], pq, mq)

    async def consume(self, msgs: list[MessageExt], pq: ProcessQueue, mq: MessageQueue) -> None:
        if pq.dropped:
            return
        context = ConsumeConcurrentlyContext(mq)
        try:
            status = await self._call_listener(msgs, context)
        except Exception:
            log.exception("consume_listener_failed", group=self.group, mq=str(mq), count=len(msgs))
            status = ConsumeConcurrentlyStatus.RECONSUME_LATER
        if status is None:
            log.warning("consume_listener_returned_none", group=self.group, mq=str(mq))
            status = ConsumeConcurrentlyStatus.RECONSUME_LATER
        if pq.dropped:
            # The queue moved to another consumer meanwhile; its new owner consumes from the committed offset.
            return
        await self.process_result(status, context, msgs, pq, mq)

    async def process_result(
        self,
        status: ConsumeConcurrentlyStatus,
        context: ConsumeConcurrentlyContext,
        msgs: list[MessageExt],
        pq: ProcessQueue,
        mq: MessageQueue,
    ) -> None:
        if status is ConsumeConcurrentlyStatus.CONSUME_SUCCESS:
            ack_index = min(context.ack_index, len(msgs) - 1)
        else:
            ack_index = -1
        failed = msgs[ack_index + 1 :]
        keep: list[MessageExt] = []
        if failed:
            if self.message_model is MessageModel.BROADCASTING:
                for msg in failed:
                    log.warning("broadcast_consume_failed_dropped", group=self.group, msg_id=msg.msg_id)
            else:
                for msg in failed:
                    if not await self.send_back(msg, context.delay_level_when_next_consume):
                        msg.reconsume_times += 1
                        keep.append(msg)
        if keep:
            kept = {id(m) for m in keep}
            done = [m for m in msgs if id(m) not in kept]
        else:
            done = msgs
        offset = pq.remove_messages(done)
        if offset >= 0 and not pq.dropped:
            self.offset_store.update_offset(mq, offset, increase_only=True)
        if keep:
            self.task_group.start_soon(self._consume_later, keep, pq, mq)

    async def _consume_later(self, msgs: list[MessageExt], pq: ProcessQueue, mq: MessageQueue) -> None:
        await anyio.sleep(self.reconsume_pause_s)
        await self.consume(msgs, pq, mq)

    async def clean_expired(self, queues: Mapping[MessageQueue, ProcessQueue], timeout_ms: int) -> int:
        """Send back, and stop waiting for, messages the listener has held over ``timeout_ms``;
        returns how many. Per queue the oldest first, at most 16, stopping at the first one
        still within time (a later one was handed to the listener later)."""
        cleaned = 0
        for mq, pq in list(queues.items()):
            for _ in range(EXPIRED_SCAN_MAX):
                if pq.dropped:
                    break
                msg = pq.oldest_if_expired(self.clock.now_ms(), timeout_ms)
                if msg is None:
                    break
                if not await self.send_back(msg, EXPIRED_SEND_BACK_DELAY_LEVEL):
                    break  # the broker could not take it: keep waiting, try again next run
                log.info("expired_message_sent_back", group=self.group, mq=str(mq), queue_offset=msg.queue_offset, msg_id=msg.msg_id)
                cleaned += 1
                offset = pq.remove_if_oldest(msg)
                if offset >= 0 and not pq.dropped:
                    self.offset_store.update_offset(mq, offset, increase_only=True)
        return cleaned
