"""``timercheck``: the timer service's checkpoint, in RocketMQ's ``TimerCheckpoint`` layout (section 7).

One OS page (4096 bytes, as RocketMQ maps it), big-endian longs:

=====  ==========================  ===================================================
 @0    lastReadTimeMs              every timer message whose fire time (TIMER_OUT_MS +
                                   precision) is ≤ this has been delivered
 @8    lastTimerLogFlushPos        0: there is no TimerLog here, the wheel is in memory
 @16   lastTimerQueueOffset        every rmq_sys_wheel_timer queue-0 offset below this
                                   has been delivered: the rebuild scan starts here
 @24   masterTimerQueueOffset      same as lastTimerQueueOffset (a single master)
 @32   dataVersion.stateVersion    0
 @40   dataVersion.timestamp       when the checkpoint was written
 @48   dataVersion.counter         incremented on each write
=====  ==========================  ===================================================

Why two numbers are enough: a timer message is only put when its deliver time is after now,
so its fire time is after every tick already made; a tick delivers everything whose fire
time has come.  So "delivered" is exactly "fire time ≤ lastReadTimeMs" for every message at
or above lastTimerQueueOffset.

>>> import tempfile, pathlib
>>> f = TimerCheckpointFile(pathlib.Path(tempfile.mkdtemp()) / "timercheck")
>>> f.load()
TimerCheckpoint(last_read_time_ms=0, last_timer_queue_offset=0, counter=0)
>>> f.save(TimerCheckpoint(last_read_time_ms=5000, last_timer_queue_offset=3), now_ms=6000)
>>> f.load(), f.path.stat().st_size
(TimerCheckpoint(last_read_time_ms=5000, last_timer_queue_offset=3, counter=1), 4096)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from rmqcore.timer.atomic_file import write_atomically
from rmqcore.timer.errors import DelayProgressError

FILE_NAME = "timercheck"
OS_PAGE_SIZE = 4096
_LAYOUT = struct.Struct(">qqqqqqq")  # the seven longs above: 56 bytes


@dataclass(frozen=True, slots=True)
class TimerCheckpoint:
    last_read_time_ms: int = 0
    last_timer_queue_offset: int = 0
    counter: int = 0


class TimerCheckpointFile:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._counter = 0

    def load(self) -> TimerCheckpoint:
        if not self.path.exists():
            return TimerCheckpoint()
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise DelayProgressError(str(self.path), str(exc)) from exc
        if len(data) < _LAYOUT.size:
            raise DelayProgressError(str(self.path), f"{len(data)} bytes, want at least {_LAYOUT.size}")
        read_ms, _flush_pos, queue_offset, _master_offset, _state, _ts, counter = _LAYOUT.unpack_from(data)
        if read_ms < 0 or queue_offset < 0:
            raise DelayProgressError(str(self.path), f"negative lastReadTimeMs {read_ms} or offset {queue_offset}")
        self._counter = counter
        return TimerCheckpoint(read_ms, queue_offset, counter)

    @property
    def counter(self) -> int:
        """dataVersion.counter of the last checkpoint loaded or saved."""
        return self._counter

    def save(self, checkpoint: TimerCheckpoint, *, now_ms: int) -> None:
        self._counter += 1
        record = encode_timer_checkpoint(checkpoint, timestamp_ms=now_ms, counter=self._counter)
        write_atomically(self.path, record.ljust(OS_PAGE_SIZE, b"\0"))


def encode_timer_checkpoint(checkpoint: TimerCheckpoint, *, timestamp_ms: int, counter: int) -> bytes:
    """The 56 bytes of the layout above (``TimerCheckpoint.encode``; also GET_TIMER_CHECK_POINT's body).

    >>> encode_timer_checkpoint(TimerCheckpoint(5000, 3), timestamp_ms=6000, counter=2).hex(" ", 8)
    '0000000000001388 0000000000000000 0000000000000003 0000000000000003 0000000000000000 0000000000001770 0000000000000002'
    """
    offset = checkpoint.last_timer_queue_offset
    return _LAYOUT.pack(checkpoint.last_read_time_ms, 0, offset, offset, 0, timestamp_ms, counter)
