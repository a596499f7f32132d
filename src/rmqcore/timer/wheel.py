"""An in-memory hierarchical timing wheel over handles (commitlog offsets, ids: any hashable).

Time is counted in ticks of ``precision_ms``.  A timer due at ``deliver_ms`` lands in the slot
``round_deliver_ms(deliver_ms, precision_ms)`` (reference section 7: exact multiples get
−precision, others floor), which covers ``(slot, slot + precision]``; it fires when the wheel
is advanced to ``slot + precision`` or later, so never early and at most ``precision − 1`` ms late.
A deliver time ≤ now is due at once (section 7) and comes out of the next ``advance_to``.

Levels: level 0 has one bucket per tick for the next 4096 ticks (68 minutes at 1 s precision);
level L ≥ 1 has buckets of 4096 × 64**(L−1) ticks for the next 4096 × 64**L.  A timer goes to
the lowest level whose window covers its distance from the wheel's position and is moved down
(cascaded) when its bucket comes due, at most once per level; a bucket that one ``advance_to``
passes entirely is fired whole, without cascading.  Pending buckets sit in a heap
ordered by start tick that holds at most about 4096 + 65 per higher level, whatever the number
of timers; it is touched once per bucket, not per timer.  So schedule, cancel and each fired
timer cost O(1), and ``advance_to`` jumps over empty time (hours or days in one call) without
visiting each tick.

>>> from rmqcore.clock import FakeClock
>>> clock = FakeClock(start_ms=10_000)
>>> wheel = TimerWheel(clock, precision_ms=1_000)
>>> first = wheel.schedule(12_500, "offset-7")
>>> late = wheel.schedule(10_000 + 3_600_000, "offset-9")
>>> clock.advance(2_000); wheel.advance_to()      # 12 000: slot 12 000 covers (12 000, 13 000]
[]
>>> clock.advance(1_000); wheel.advance_to()
[(12500, 'offset-7')]
>>> wheel.cancel(late), len(wheel)
(True, 0)
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from heapq import heappop, heappush
from typing import Any, Final, Generic, NewType, TypeVar

from rmqcore.clock import SYSTEM_CLOCK, Clock

DEFAULT_PRECISION_MS = 1_000
"""``timerPrecisionMs`` default (section 11)."""
DEFAULT_MAX_DELAY_SEC = 259_200
"""``timerMaxDelaySec`` default, 3 days (sections 7, 11)."""

TimerId = NewType("TimerId", int)
"""Opaque token returned by ``schedule``, valid for the wheel that issued it.

Internally ``((deliver_ms − wheel epoch) << 32) | sequence``: tokens sort by deliver time, then
schedule order, and stay small ints for the usual delays.
"""

_SEQ_BITS = 32
_SEQ_MASK = (1 << _SEQ_BITS) - 1
_LEVEL0_BITS = 12  # level 0: one bucket per tick, 4096 ticks ahead (no cascade for short delays)
_LEVEL_BITS = 6  # each higher level: 64 buckets per window
_LEVEL0_WINDOW = 1 << _LEVEL0_BITS
_LEVEL_TAG_BITS = 4  # heap items are (start_tick << 4) | (15 - level)
_MAX_LEVELS = 1 << _LEVEL_TAG_BITS
# A default for dict.pop that no handle is; Any, so that such a pop keeps the handle type.
_MISSING: Final[Any] = object()

HandleT = TypeVar("HandleT", bound=Hashable)
"""The type of a wheel's handles (the timer service's: its TimerHandle records)."""


class TimerError(ValueError):
    """Base class of the timer wheel's errors."""


class TimerDelayTooLongError(TimerError):
    """The deliver time is further ahead than ``max_delay_sec`` (RocketMQ: WHEEL_TIMER_MSG_ILLEGAL)."""


def round_deliver_ms(deliver_ms: int, precision_ms: int = DEFAULT_PRECISION_MS) -> int:
    """RocketMQ's slot time of a deliver time (section 7): exact multiples get −precision, others floor.

    >>> round_deliver_ms(12_000, 1_000), round_deliver_ms(12_001, 1_000), round_deliver_ms(12_999, 1_000)
    (11000, 12000, 12000)
    """
    if precision_ms <= 0:
        raise TimerError(f"precision_ms must be positive, got {precision_ms}")
    remainder = deliver_ms % precision_ms
    return deliver_ms - precision_ms if remainder == 0 else deliver_ms - remainder


class TimerWheel(Generic[HandleT]):
    """Hierarchical timing wheel: ``schedule``, ``cancel``, ``advance_to``, ``snapshot``/``restore``.

    Not thread-safe: one owner drives it (the delay service's loop).

    Persistence is the caller's: the wheel keeps only handles in memory.  A service that persists
    through the store records ``fired_through_ms`` (every timer due by then has been handed out,
    the role of RocketMQ's TimerCheckpoint lastReadTimeMs) and, after a restart, rebuilds a wheel
    by ``restore``-ing the ``(deliver_ms, handle)`` pairs it reads back from its log past that mark
    (or a saved ``snapshot()``); entries already due come out of the first ``advance_to``.

    A cancelled timer's token stays in its bucket (a few bytes) until the bucket comes due, so
    cancel is O(1); ``len`` counts only pending timers.
    """

    def __init__(
        self,
        clock: Clock = SYSTEM_CLOCK,
        precision_ms: int = DEFAULT_PRECISION_MS,
        max_delay_sec: int = DEFAULT_MAX_DELAY_SEC,
    ) -> None:
        if precision_ms <= 0:
            raise TimerError(f"precision_ms must be positive, got {precision_ms}")
        if max_delay_sec <= 0:
            raise TimerError(f"max_delay_sec must be positive, got {max_delay_sec}")
        self._clock = clock
        self._precision = precision_ms
        self._max_delay_ms = max_delay_sec * 1_000
        # Enough levels that the top one spans the longest delay (with one tick of slack);
        # anything further (a wheel left unadvanced for long) parks in the top level and is re-placed.
        max_ticks = -(-self._max_delay_ms // precision_ms) + 1
        levels = 1
        while (1 << _window_bits(levels - 1)) <= max_ticks:
            levels += 1
        if levels > _MAX_LEVELS:
            raise TimerError(f"max_delay_sec {max_delay_sec} is too long for precision {precision_ms} ms")
        self._levels: list[dict[int, list[int]]] = [{} for _ in range(levels)]
        self._shifts = [0] + [_window_bits(level - 1) for level in range(1, levels)]  # bucket span bits
        self._heap: list[int] = []
        self._live: dict[int, HandleT] = {}  # token -> handle; cancel is a pop (buckets are lazy)
        self._ready: list[int] = []  # due at schedule time; returned by the next advance_to
        self._cursor_tick = clock.now_ms() // precision_ms  # every tick ≤ this has been fired
        self._seq = 0
        # Tokens carry deliver_ms relative to this, so they stay small ints (cheaper to hash and sort).
        self._epoch_ms = clock.now_ms()

    # -- properties -----------------------------------------------------------------------
    @property
    def precision_ms(self) -> int:
        return self._precision

    @property
    def max_delay_ms(self) -> int:
        return self._max_delay_ms

    @property
    def fired_through_ms(self) -> int:
        """Every timer due at or before this time has been returned by ``advance_to``."""
        return self._cursor_tick * self._precision

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, token: object) -> bool:
        return token in self._live

    # -- scheduling -----------------------------------------------------------------------
    def schedule(self, deliver_ms: int, handle: HandleT) -> TimerId:
        """Arrange for ``handle`` to come out of ``advance_to`` at ``deliver_ms`` (rounded per section 7).

        Raises ``TimerDelayTooLongError`` if ``deliver_ms`` is more than ``max_delay_sec`` ahead of
        the clock (the same test as RocketMQ: ``deliverMs − now > timerMaxDelaySec × 1000``).
        """
        now = self._clock.now_ms()
        if deliver_ms - now > self._max_delay_ms:
            raise TimerDelayTooLongError(
                f"deliver time {deliver_ms} is {deliver_ms - now} ms ahead of now {now}; "
                f"the longest delay is {self._max_delay_ms // 1000} s"
            )
        return self._insert(deliver_ms, handle, now)

    def restore(self, entries: Iterable[tuple[int, HandleT]]) -> list[TimerId]:
        """Re-schedule ``(deliver_ms, handle)`` pairs after a restart, e.g. from ``snapshot()``.

        The max-delay check is skipped: these were accepted when first scheduled.  Entries already
        due come out of the next ``advance_to``.
        """
        # No log here: callers restore one timer at a time too, and log their own rebuilds.
        now = self._clock.now_ms()
        return [self._insert(deliver_ms, handle, now) for deliver_ms, handle in entries]

    def cancel(self, token: TimerId) -> bool:
        """Forget a pending timer; False if it already fired, was cancelled, or never existed."""
        # Its token stays in a bucket until that bucket comes due, and is skipped then.
        return self._live.pop(token, _MISSING) is not _MISSING

    def snapshot(self) -> list[tuple[int, HandleT]]:
        """Every pending ``(deliver_ms, handle)``, in deliver order; ``restore`` takes it back."""
        epoch = self._epoch_ms
        return [((token >> _SEQ_BITS) + epoch, handle) for token, handle in sorted(self._live.items(), key=_first)]

    def _insert(self, deliver_ms: int, handle: HandleT, now: int) -> TimerId:
        token = ((deliver_ms - self._epoch_ms) << _SEQ_BITS) | self._seq
        self._seq = (self._seq + 1) & _SEQ_MASK
        while token in self._live:  # only after 2**32 schedules with one still pending
            token = ((deliver_ms - self._epoch_ms) << _SEQ_BITS) | self._seq
            self._seq = (self._seq + 1) & _SEQ_MASK
        self._live[token] = handle
        due_tick = -(-deliver_ms // self._precision)
        cursor_tick = self._cursor_tick
        if deliver_ms <= now or due_tick <= cursor_tick:
            self._ready.append(token)  # section 7: deliverMs ≤ now is delivered immediately
            return TimerId(token)
        if due_tick - cursor_tick < _LEVEL0_WINDOW:
            bucket = self._levels[0].get(due_tick)
            if bucket is not None:  # fast path: this tick's bucket already exists
                bucket.append(token)
                return TimerId(token)
        self._place(token, due_tick, cursor_tick)
        return TimerId(token)

    def _place(self, token: int, due_tick: int, cursor_tick: int) -> None:
        delta = due_tick - cursor_tick
        if delta < _LEVEL0_WINDOW:
            level, bucket_id = 0, due_tick  # the common case: one bucket per tick
        else:
            # Lowest level whose window (4096 × 64**L ticks) covers the distance.
            level = (delta.bit_length() - _LEVEL0_BITS - 1) // _LEVEL_BITS + 1
            if level >= len(self._levels):
                level = len(self._levels) - 1
            bucket_id = due_tick >> self._shifts[level]
        buckets = self._levels[level]
        bucket = buckets.get(bucket_id)
        if bucket is None:
            buckets[bucket_id] = [token]
            # Same start: higher levels first, so a cascade reaches the level-0 bucket before it fires.
            start_tick = bucket_id << self._shifts[level]
            heappush(self._heap, (start_tick << _LEVEL_TAG_BITS) | (_MAX_LEVELS - 1 - level))
        else:
            bucket.append(token)

    # -- firing ---------------------------------------------------------------------------
    def advance_to(self, now_ms: int | None = None) -> list[tuple[int, HandleT]]:
        """Move the wheel to ``now_ms`` (default: the clock) and return the due ``(deliver_ms, handle)``.

        Returned in deliver-time order (ties in schedule order).  Going backwards does nothing
        except return timers that were due when scheduled.
        """
        if now_ms is None:
            now_ms = self._clock.now_ms()
        target_tick = now_ms // self._precision
        heap, levels, live, precision, epoch = self._heap, self._levels, self._live, self._precision, self._epoch_ms
        fired: list[int] = []
        while heap and (heap[0] >> _LEVEL_TAG_BITS) <= target_tick:
            item = heappop(heap)
            level = _MAX_LEVELS - 1 - (item & (_MAX_LEVELS - 1))
            start_tick = item >> _LEVEL_TAG_BITS
            bucket = levels[level].pop(start_tick >> self._shifts[level])
            if level == 0 or start_tick + (1 << self._shifts[level]) - 1 <= target_tick:
                fired.extend(bucket)  # the whole bucket is due (a jump past it needs no cascade)
            else:
                # Cascade as if the wheel stood at this bucket's start: every timer lands in a lower
                # level at or after it, so buckets keep coming out of the heap in time order.
                place = self._place
                for token in bucket:
                    if token in live:
                        place(token, -(-((token >> _SEQ_BITS) + epoch) // precision), start_tick)
        if target_tick > self._cursor_tick:
            self._cursor_tick = target_tick
        if self._ready:
            fired.extend(self._ready)
            self._ready = []
        # Tokens sort by (deliver_ms, sequence).  Buckets came out in time order, so this sorts
        # short runs (one slot each) rather than the whole batch.
        fired.sort()
        due: list[tuple[int, HandleT]] = []
        pop = live.pop
        for token in fired:
            handle = pop(token, _MISSING)
            if handle is not _MISSING:
                due.append(((token >> _SEQ_BITS) + epoch, handle))
        return due

    def next_deadline_ms(self) -> int | None:
        """When to call ``advance_to`` next; None if nothing is pending.

        Exact (the earliest due slot's end) when that slot is at the lowest level; when the earliest
        bucket is a higher level's, its start: a lower bound at which the wheel cascades.  Never
        later than the earliest due timer.  A timer due at schedule time gives its own deliver time.
        """
        live = self._live
        ready = [token for token in self._ready if token in live]
        self._ready = ready
        if ready:
            return (min(ready) >> _SEQ_BITS) + self._epoch_ms
        heap = self._heap
        while heap:
            item = heap[0]
            level = _MAX_LEVELS - 1 - (item & (_MAX_LEVELS - 1))
            start_tick = item >> _LEVEL_TAG_BITS
            bucket_id = start_tick >> self._shifts[level]
            if any(token in live for token in self._levels[level][bucket_id]):
                return start_tick * self._precision
            heappop(heap)  # only cancelled timers left: drop the bucket now
            del self._levels[level][bucket_id]
        return None

    def __repr__(self) -> str:
        return (
            f"TimerWheel(pending={len(self._live)}, precision_ms={self._precision}, "
            f"fired_through_ms={self.fired_through_ms}, levels={len(self._levels)})"
        )


def _window_bits(level: int) -> int:
    """How far ahead (log2 ticks) level ``level`` reaches; a level's buckets span the one below's window."""
    return _LEVEL0_BITS + _LEVEL_BITS * level


def _first(item: tuple[int, Hashable]) -> int:
    return item[0]
