"""Errors of the delay service (``rmqcore.timer.delay_service``), each naming what to do about it.

``DelayTooLongError`` is also a ``TimerDelayTooLongError`` (the wheel's own error), so a caller
that already catches the wheel's error catches the service's too.  The broker maps both it and
``InvalidDelayPropertyError`` to MESSAGE_ILLEGAL with the exception text as the remark
(reference section 7: a timer message beyond ``timerMaxDelaySec`` is refused).
"""

from __future__ import annotations

from rmqcore.timer.wheel import TimerDelayTooLongError


class DelayServiceError(Exception):
    """Base class of the delay service's errors."""


class DelayTooLongError(TimerDelayTooLongError, DelayServiceError):
    """A timer message whose deliver time is further ahead than ``timer_max_delay_sec`` (section 7)."""

    def __init__(self, deliver_ms: int, now_ms: int, max_delay_sec: int) -> None:
        self.deliver_ms = deliver_ms
        self.now_ms = now_ms
        self.max_delay_sec = max_delay_sec
        super().__init__(
            f"timer message deliver time {deliver_ms} is {(deliver_ms - now_ms) // 1000} s ahead of now "
            f"({now_ms}); the longest delay this broker accepts is timerMaxDelaySec={max_delay_sec} s: "
            "send it closer to its deliver time or raise timerMaxDelaySec"
        )


class InvalidDelayPropertyError(DelayServiceError, ValueError):
    """A DELAY or TIMER_* property whose value is not a whole number."""

    def __init__(self, key: str, value: str) -> None:
        self.key = key
        self.value = value
        super().__init__(f"message property {key}={value!r} is not a whole number; set it to an integer or remove it")


class DelayProgressError(DelayServiceError):
    """A progress file (delayOffset.json or timercheck) that exists but cannot be read."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        super().__init__(
            f"delay progress file {path} is unreadable ({reason}); move it aside to restart from the "
            "oldest message still in the store (already delivered messages are then delivered again)"
        )
