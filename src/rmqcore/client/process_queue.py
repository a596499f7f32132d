"""``ProcessQueue``: the messages pulled from one queue and not yet consumed.

The consumed offset to commit is the smallest offset still cached (or one past the largest
pulled when nothing is), so a message that is slow to consume holds the committed offset back
and a restart replays it rather than skipping it. Orderly consumption additionally moves
messages to a "consuming" set while the listener has them and commits only when it succeeds.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable

from rmqcore.clock import SYSTEM_CLOCK, Clock
from rmqcore.message import MessageExt
from rmqcore.message import constants as C

LOCK_MAX_LIVE_MS = 30_000
"""``rocketmq.client.rebalance.lockMaxLiveTime``: a lock not renewed for this long is treated as lost."""
PULL_MAX_IDLE_MS = 120_000
EXPIRED_SCAN_MAX = 16
"""``cleanExpiredMsg`` looks at no more than the 16 oldest cached messages per run."""


class ProcessQueue:
    """Cached messages of one queue, by offset.

    >>> pq = ProcessQueue()
    >>> msgs = [MessageExt("T", b"x", queue_offset=o) for o in (5, 6, 7)]
    >>> pq.put_messages(msgs)
    True
    >>> pq.remove_messages(msgs[1:2])   # 5 is still in flight
    5
    >>> pq.remove_messages([msgs[0], msgs[2]])
    8
    """

    def __init__(self, clock: Clock = SYSTEM_CLOCK) -> None:
        self._clock = clock
        self._messages: dict[int, MessageExt] = {}
        self._offsets: list[int] = []  # sorted keys of _messages
        self._consuming: dict[int, MessageExt] = {}
        self.msg_size = 0
        self.queue_offset_max = 0
        self.dropped = False
        self.locked = False
        self.consuming = False
        self.last_lock_ms = clock.now_ms()
        self.last_pull_ms = clock.now_ms()
        self.last_consume_ms = clock.now_ms()

    @property
    def msg_count(self) -> int:
        return len(self._messages) + len(self._consuming)

    def put_messages(self, msgs: Iterable[MessageExt]) -> bool:
        """Cache pulled messages; True when an orderly consumer should start a consume task."""
        for msg in msgs:
            offset = msg.queue_offset
            if offset in self._messages:
                continue
            self._messages[offset] = msg
            if not self._offsets or offset > self._offsets[-1]:
                self._offsets.append(offset)
            else:
                insort(self._offsets, offset)
            self.msg_size += len(msg.body)
            if offset > self.queue_offset_max:
                self.queue_offset_max = offset
        dispatch = bool(self._messages) and not self.consuming
        if dispatch:
            self.consuming = True
        return dispatch

    def max_span(self) -> int:
        return self._offsets[-1] - self._offsets[0] if self._offsets else 0

    def remove_messages(self, msgs: Iterable[MessageExt]) -> int:
        """Forget consumed messages; returns the offset now safe to commit, or -1 if none was cached."""
        if not self._offsets:
            return -1
        self.last_consume_ms = self._clock.now_ms()
        for msg in msgs:
            if self._messages.pop(msg.queue_offset, None) is not None:
                self.msg_size -= len(msg.body)
                i = bisect_left(self._offsets, msg.queue_offset)
                del self._offsets[i]
        return self._offsets[0] if self._offsets else self.queue_offset_max + 1

    def oldest_if_expired(self, now_ms: int, timeout_ms: int) -> MessageExt | None:
        """The lowest-offset cached message if the listener got it more than ``timeout_ms`` ago
        (its CONSUME_START_TIME), else None (``cleanExpiredMsg``'s test)."""
        if not self._offsets:
            return None
        msg = self._messages[self._offsets[0]]
        started = msg.properties.get(C.PROPERTY_CONSUME_START_TIMESTAMP)
        if not started:
            return None
        try:
            started_ms = int(started)
        except ValueError:
            return None
        return msg if now_ms - started_ms > timeout_ms else None

    def remove_if_oldest(self, msg: MessageExt) -> int:
        """Forget ``msg`` if it is still the lowest-offset cached message; the offset now safe to
        commit, or -1 when it was not (consumed meanwhile)."""
        if not self._offsets or self._offsets[0] != msg.queue_offset:
            return -1
        return self.remove_messages([msg])

    # -- orderly ---------------------------------------------------------------------------
    def take_messages(self, batch_size: int) -> list[MessageExt]:
        """Move up to ``batch_size`` lowest-offset messages to the consuming set (orderly)."""
        self.last_consume_ms = self._clock.now_ms()
        taken: list[MessageExt] = []
        while self._offsets and len(taken) < batch_size:
            offset = self._offsets.pop(0)
            msg = self._messages.pop(offset)
            self._consuming[offset] = msg
            taken.append(msg)
        if not taken:
            self.consuming = False
        return taken

    def commit(self) -> int:
        """The listener consumed the consuming set: drop it, return the next offset (or -1)."""
        if not self._consuming:
            return -1
        offset = max(self._consuming) + 1
        self.msg_size -= sum(len(m.body) for m in self._consuming.values())
        self._consuming.clear()
        return offset

    def make_messages_to_consume_again(self, msgs: Iterable[MessageExt]) -> None:
        """Put messages the listener asked to retry back in front of the queue (orderly)."""
        for msg in msgs:
            offset = msg.queue_offset
            if self._consuming.pop(offset, None) is not None:
                self._messages[offset] = msg
                insort(self._offsets, offset)

    def has_temp_messages(self) -> bool:
        return bool(self._messages)

    def clear(self) -> None:
        self._messages.clear()
        self._offsets.clear()
        self._consuming.clear()
        self.msg_size = 0
        self.queue_offset_max = 0

    # -- liveness --------------------------------------------------------------------------
    def is_lock_expired(self) -> bool:
        return self._clock.now_ms() - self.last_lock_ms > LOCK_MAX_LIVE_MS

    def is_pull_expired(self) -> bool:
        return self._clock.now_ms() - self.last_pull_ms > PULL_MAX_IDLE_MS
