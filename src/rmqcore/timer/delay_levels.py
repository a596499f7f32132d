"""RocketMQ delay levels: ``messageDelayLevel`` parsed into level → milliseconds (reference section 7).

>>> table = DelayLevelTable.parse()          # the default "1s 5s 10s 30s 1m ... 1h 2h"
>>> table.max_level, table.delay_ms(3), table.delay_ms(99), table.delay_ms(0)
(18, 10000, 7200000, 0)
>>> DelayLevelTable.parse("1s 5x")
Traceback (most recent call last):
...
rmqcore.timer.delay_levels.DelayLevelError: bad delay level token '5x' (level 2) in '1s 5x': want a whole number followed by one of s, m, h, d
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_MESSAGE_DELAY_LEVEL = "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h"
"""``MessageStoreConfig.messageDelayLevel`` default (section 7)."""

UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
"""``ScheduleMessageService.parseDelayLevel`` time units."""

_TOKEN = re.compile(r"([0-9]+)([smhd])")

NO_DELAY_FALLBACK_MS = 1_000
"""``computeDeliverTimestamp`` adds 1 s when the level is missing from the table."""


class DelayLevelError(ValueError):
    """A ``messageDelayLevel`` string that cannot be parsed."""


@dataclass(frozen=True, slots=True)
class DelayLevelTable:
    """Level i (1-based) → delay in ms.  Levels above the highest clamp to it; ≤ 0 means no delay."""

    delays_ms: tuple[int, ...]
    spec: str = DEFAULT_MESSAGE_DELAY_LEVEL

    @classmethod
    def parse(cls, spec: str = DEFAULT_MESSAGE_DELAY_LEVEL) -> DelayLevelTable:
        """Parse a ``messageDelayLevel`` string; a bad token is refused, naming it.

        Tokens are separated by whitespace (RocketMQ splits on single spaces and fails the whole
        table on an empty token; here repeated or surrounding blanks are tolerated).
        """
        tokens = spec.split()
        if not tokens:
            raise DelayLevelError(f"no delay levels in {spec!r}")
        delays = []
        for level, token in enumerate(tokens, start=1):
            match = _TOKEN.fullmatch(token)
            if match is None:
                raise DelayLevelError(
                    f"bad delay level token {token!r} (level {level}) in {spec!r}: "
                    "want a whole number followed by one of s, m, h, d"
                )
            delays.append(int(match.group(1)) * UNIT_MS[match.group(2)])
        return cls(tuple(delays), spec)

    @property
    def max_level(self) -> int:
        return len(self.delays_ms)

    def __len__(self) -> int:
        return len(self.delays_ms)

    def clamp_level(self, level: int) -> int:
        """RocketMQ clamps a level above the highest to the highest; ≤ 0 stays (no delay).

        >>> DelayLevelTable.parse().clamp_level(40)
        18
        """
        return min(level, self.max_level)

    def delay_ms(self, level: int) -> int:
        """Delay of ``level`` in ms after clamping; 0 for a level ≤ 0 (not a delayed message)."""
        if level <= 0:
            return 0
        return self.delays_ms[self.clamp_level(level) - 1]

    def deliver_timestamp_ms(self, level: int, store_timestamp_ms: int) -> int:
        """``computeDeliverTimestamp``: when a message stored at ``store_timestamp_ms`` is due.

        This is the tagsCode of its SCHEDULE_TOPIC_XXXX consume-queue entry (sections 5, 7).

        >>> DelayLevelTable.parse().deliver_timestamp_ms(2, 1_000)
        6000
        """
        if level <= 0:
            return store_timestamp_ms + NO_DELAY_FALLBACK_MS  # absent from the Java table
        return store_timestamp_ms + self.delay_ms(level)

    def correct_deliver_timestamp_ms(self, level: int, now_ms: int, deliver_timestamp_ms: int) -> int:
        """``correctDeliverTimestamp``: a deliver time beyond now + delay (clock went back) becomes now.

        >>> DelayLevelTable.parse().correct_deliver_timestamp_ms(1, 10_000, 99_999)
        10000
        """
        if deliver_timestamp_ms > now_ms + self.delay_ms(level):
            return now_ms
        return deliver_timestamp_ms

    @staticmethod
    def queue_id_for_level(level: int) -> int:
        """SCHEDULE_TOPIC_XXXX queue of a (clamped) level: level − 1 (section 7)."""
        return level - 1

    @staticmethod
    def level_for_queue_id(queue_id: int) -> int:
        return queue_id + 1
