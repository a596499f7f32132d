"""Injectable time: every timer, check loop, expiry and retention rule reads a Clock.

A leaf module (it imports nothing from rmqcore), so any piece may take a Clock
without depending on another piece. ``FakeClock`` lets a test run hours of
schedule in milliseconds.

>>> clock = FakeClock(start_ms=1_000)
>>> clock.advance(2_500)
>>> clock.now_ms()
3500
"""

from __future__ import annotations

import threading
import time
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    def now_ms(self) -> int:
        """Wall-clock milliseconds since the epoch."""
        ...


class SystemClock:
    """The real wall clock."""

    __slots__ = ()

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def __repr__(self) -> str:
        return "SystemClock()"


SYSTEM_CLOCK = SystemClock()


class FakeClock:
    """A clock that moves only when told to; thread-safe."""

    def __init__(self, start_ms: int = 1_700_000_000_000) -> None:
        self._now = start_ms
        self._lock = threading.Lock()

    def now_ms(self) -> int:
        return self._now

    def advance(self, ms: int) -> None:
        if ms < 0:
            raise ValueError(f"a clock does not go backwards (advance by {ms} ms)")
        with self._lock:
            self._now += ms

    def set(self, now_ms: int) -> None:
        with self._lock:
            self._now = now_ms

    def __repr__(self) -> str:
        return f"FakeClock(now_ms={self._now})"
