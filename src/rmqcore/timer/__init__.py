"""Delayed delivery primitives (``rmqcore.timer``), usable alone: delay levels and a timing wheel.

``DelayLevelTable`` is RocketMQ's ``messageDelayLevel`` (reference section 7); ``TimerWheel``
holds handles (commitlog offsets or any hashable) until their deliver time, with 5.x's
precision rounding and longest delay (sections 7, 11).  Neither does I/O: the delay service
persists progress and re-schedules from the store after a restart (``snapshot``/``restore``).
``DelayService`` is that service: DELAY levels and timer messages over a store the caller passes in
(``delay_service``); its errors are ``DelayServiceError`` and its subclasses.

>>> from rmqcore.clock import FakeClock
>>> from rmqcore.timer import DelayLevelTable, TimerWheel
>>> levels = DelayLevelTable.parse()
>>> clock = FakeClock(start_ms=0)
>>> wheel = TimerWheel(clock)                         # precision 1000 ms, longest delay 3 days
>>> for offset, level in [(100, 3), (200, 1), (300, 18)]:
...     _ = wheel.schedule(clock.now_ms() + levels.delay_ms(level), offset)
>>> clock.advance(10_000); wheel.advance_to()
[(1000, 200), (10000, 100)]
>>> clock.advance(2 * 3_600_000); wheel.advance_to(), len(wheel)
([(7200000, 300)], 0)
"""

from rmqcore.timer.delay_levels import DEFAULT_MESSAGE_DELAY_LEVEL, DelayLevelError, DelayLevelTable
from rmqcore.timer.delay_service import DelayService
from rmqcore.timer.errors import DelayProgressError, DelayServiceError, DelayTooLongError, InvalidDelayPropertyError
from rmqcore.timer.wheel import (
    DEFAULT_MAX_DELAY_SEC,
    DEFAULT_PRECISION_MS,
    TimerDelayTooLongError,
    TimerError,
    TimerId,
    TimerWheel,
    round_deliver_ms,
)

__all__ = [
    "DEFAULT_MAX_DELAY_SEC",
    "DEFAULT_MESSAGE_DELAY_LEVEL",
    "DEFAULT_PRECISION_MS",
    "DelayLevelError",
    "DelayLevelTable",
    "DelayProgressError",
    "DelayService",
    "DelayServiceError",
    "DelayTooLongError",
    "InvalidDelayPropertyError",
    "TimerDelayTooLongError",
    "TimerError",
    "TimerId",
    "TimerWheel",
    "round_deliver_ms",
]
