"""Message queue selectors for ordered sends (``MessageQueueSelector``).

A selector is any callable ``(queues, message, arg) -> MessageQueue``; the producer passes
the topic's writable queues in route order, so the same ``arg`` always lands on the same
queue while the route is unchanged, which is what ordered messages need.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

from rmqcore.message import Message, MessageQueue, java_string_hash

MessageQueueSelector = Callable[[Sequence[MessageQueue], Message, Any], MessageQueue]


def java_hash_code(arg: Any) -> int:
    """``Object.hashCode()`` for the arguments people pass: ints, strings, booleans.

    >>> java_hash_code(7), java_hash_code("TagA"), java_hash_code(True)
    (7, 2598919, 1231)
    """
    if isinstance(arg, bool):
        return 1231 if arg else 1237
    if isinstance(arg, int):
        if -(2**31) <= arg < 2**31:
            return arg
        return ((arg ^ (arg >> 32)) & 0xFFFFFFFF) - (2**32 if (arg ^ (arg >> 32)) & 0x80000000 else 0)
    if isinstance(arg, str):
        return java_string_hash(arg)
    return hash(arg)


def select_by_hash(queues: Sequence[MessageQueue], msg: Message, arg: Any) -> MessageQueue:
    """``SelectMessageQueueByHash``: ``abs(arg.hashCode() % n)`` with Java's truncating remainder.

    >>> qs = [MessageQueue("T", "b", i) for i in range(4)]
    >>> select_by_hash(qs, Message("T"), 6).queue_id, select_by_hash(qs, Message("T"), -6).queue_id
    (2, 2)
    """
    h = java_hash_code(arg)
    n = len(queues)
    value = abs(h) % n  # == abs(h % n) under Java's truncating remainder
    return queues[value]


def select_by_random(queues: Sequence[MessageQueue], msg: Message, arg: Any) -> MessageQueue:
    """``SelectMessageQueueByRandom``."""
    return queues[random.randrange(len(queues))]
