"""The store checkpoint file (reference section 5, StoreCheckpoint).

``{root}/checkpoint`` is one OS page: physicMsgTimestamp @0, logicsMsgTimestamp @8,
indexMsgTimestamp @16, masterFlushedOffset @24, confirmPhyOffset @32 (5.x). Here
confirmPhyOffset is the CommitLog offset below which the CommitLog, every
ConsumeQueue and the index were flushed together; crash recovery re-dispatches
from it.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

_LAYOUT = struct.Struct(">qqqqq")
PAGE = 4096


@dataclass
class CheckpointValues:
    physic_msg_timestamp: int = 0
    logics_msg_timestamp: int = 0
    index_msg_timestamp: int = 0
    master_flushed_offset: int = 0
    confirm_phy_offset: int = 0


class Checkpoint:
    """Reads once at open, rewrites the first 40 bytes in place and fdatasyncs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        if os.fstat(self._fd).st_size < PAGE:
            os.ftruncate(self._fd, PAGE)
        data = os.pread(self._fd, _LAYOUT.size, 0)
        self.values = CheckpointValues(*_LAYOUT.unpack(data)) if len(data) == _LAYOUT.size else CheckpointValues()

    def write(self, values: CheckpointValues, *, sync: bool = True) -> None:
        self.values = values
        os.pwrite(
            self._fd,
            _LAYOUT.pack(
                values.physic_msg_timestamp,
                values.logics_msg_timestamp,
                values.index_msg_timestamp,
                values.master_flushed_offset,
                values.confirm_phy_offset,
            ),
            0,
        )
        if sync:
            os.fdatasync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
