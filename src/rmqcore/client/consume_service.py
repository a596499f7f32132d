"""What the concurrent and the orderly consume services share.

Both hand batches of a queue's messages to the listener, at most ``consume_thread_max``
listener calls at a time, and commit the queue's offset and send failed messages back to
the broker through the same hooks; they differ in how batches are formed and what a
failure does (:mod:`consume_concurrently`, :mod:`consume_orderly`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import KW_ONLY, dataclass
from typing import Any

import anyio
import anyio.abc

from rmqcore.client.listener import Listener, call_listener
from rmqcore.client.offset_store import OffsetStore
from rmqcore.clock import Clock
from rmqcore.message import MessageExt
from rmqcore.message import constants as C
from rmqcore.remoting.bodies.heartbeat import MessageModel

SendBack = Callable[[MessageExt, int], Awaitable[bool]]
"""``(msg, delay_level)`` → CONSUMER_SEND_MSG_BACK; False when the broker could not be told."""


def reset_retry_topic(msgs: list[MessageExt], group: str) -> None:
    """Messages pulled from ``%RETRY%group`` show their original topic to the listener."""
    retry = C.RETRY_GROUP_TOPIC_PREFIX + group
    for msg in msgs:
        original = msg.properties.get(C.PROPERTY_RETRY_TOPIC)
        if original and msg.topic == retry:
            msg.topic = original


@dataclass(eq=False, repr=False)
class ConsumeService:
    """Base of :class:`ConcurrentlyConsumeService` and :class:`OrderlyConsumeService`.

    A dataclass so that the shared constructor arguments are declared once; each service
    adds its own keyword-only ones after ``KW_ONLY``. Compared and shown as plain objects.
    """

    group: str
    listener: Listener
    offset_store: OffsetStore
    message_model: MessageModel
    send_back: SendBack
    task_group: anyio.abc.TaskGroup
    clock: Clock
    _: KW_ONLY
    batch_max_size: int = 1
    consume_thread_max: int = 20

    def __post_init__(self) -> None:
        self.batch_max_size = max(1, self.batch_max_size)
        self.limiter = anyio.CapacityLimiter(self.consume_thread_max)

    async def _call_listener(self, msgs: list[MessageExt], context: Any) -> Any:
        """The listener's status for ``msgs``, which it sees as the producer sent them."""
        reset_retry_topic(msgs, self.group)
        start = str(self.clock.now_ms())
        for msg in msgs:
            msg.properties[C.PROPERTY_CONSUME_START_TIMESTAMP] = start
        return await call_listener(self.listener, msgs, context, self.limiter)
