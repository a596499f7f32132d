"""Which brokers a producer should steer around for a while after a send failed there.

A simplified ``MQFaultStrategy``: a broker that failed (connect error, timeout, or a
broker-side error worth retrying elsewhere) is marked unavailable for ``isolation_ms``;
queue selection prefers queues on available brokers and falls back to any queue when
every broker is marked, so a send is never refused because of this bookkeeping.
"""

from __future__ import annotations

from rmqcore.clock import SYSTEM_CLOCK, Clock

DEFAULT_ISOLATION_MS = 30_000


class BrokerAvailability:
    """Per-broker "do not use before" times, read against an injected clock.

    >>> from rmqcore.clock import FakeClock
    >>> clock = FakeClock(start_ms=0)
    >>> b = BrokerAvailability(clock, isolation_ms=1000)
    >>> b.mark_failed("broker-a"); b.is_available("broker-a")
    False
    >>> clock.advance(1000); b.is_available("broker-a")
    True
    """

    def __init__(self, clock: Clock = SYSTEM_CLOCK, isolation_ms: int = DEFAULT_ISOLATION_MS) -> None:
        self._clock = clock
        self.isolation_ms = isolation_ms
        self._unavailable_until: dict[str, int] = {}

    def mark_failed(self, broker_name: str) -> None:
        self._unavailable_until[broker_name] = self._clock.now_ms() + self.isolation_ms

    def mark_ok(self, broker_name: str) -> None:
        self._unavailable_until.pop(broker_name, None)

    @property
    def has_failures(self) -> bool:
        """Whether any broker is marked (some may have served their time already)."""
        return bool(self._unavailable_until)

    def is_available(self, broker_name: str) -> bool:
        until = self._unavailable_until.get(broker_name)
        if until is None:
            return True
        if self._clock.now_ms() >= until:
            # pop, not del: the synchronous facade's sending threads and the loop share this map
            self._unavailable_until.pop(broker_name, None)
            return True
        return False
