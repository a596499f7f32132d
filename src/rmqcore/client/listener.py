"""Message listeners: what they return and the context they get.

A listener is a function ``(msgs, context) -> status`` (plain or ``async``), or an object
with such a ``consume_message`` method. Plain functions run in worker threads (at most
``consume_thread_max`` at once), like the Java consume thread pool, so a slow listener
does not stall pulling; ``async`` listeners run on the event loop.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio

from rmqcore.message import MessageExt, MessageQueue


class ConsumeConcurrentlyStatus(enum.Enum):
    CONSUME_SUCCESS = "CONSUME_SUCCESS"
    RECONSUME_LATER = "RECONSUME_LATER"


class ConsumeOrderlyStatus(enum.Enum):
    SUCCESS = "SUCCESS"
    SUSPEND_CURRENT_QUEUE_A_MOMENT = "SUSPEND_CURRENT_QUEUE_A_MOMENT"


@dataclass
class ConsumeConcurrentlyContext:
    message_queue: MessageQueue
    delay_level_when_next_consume: int = 0
    """0: the broker picks (3 + reconsume times); < 0: straight to the DLQ."""
    ack_index: int = 2**31 - 1
    """On success, messages after this index are still treated as failed."""


@dataclass
class ConsumeOrderlyContext:
    message_queue: MessageQueue
    auto_commit: bool = True
    suspend_current_queue_time_millis: int = -1


Listener = Callable[[list[MessageExt], Any], Any]


def listener_callable(listener: Any) -> Listener:
    fn = getattr(listener, "consume_message", None)
    return fn if fn is not None else listener


async def call_listener(listener: Listener, msgs: list[MessageExt], context: Any, limiter: anyio.CapacityLimiter) -> Any:
    if inspect.iscoroutinefunction(listener):
        async with limiter:
            return await listener(msgs, context)
    result = await anyio.to_thread.run_sync(listener, msgs, context, limiter=limiter)
    if inspect.isawaitable(result):
        return await result
    return result
