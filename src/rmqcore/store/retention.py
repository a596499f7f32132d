"""When CommitLog files may be deleted, and whether the disk is too full to write.

RocketMQ's rules (``DefaultMessageStore.CleanCommitLogService``), driven by an
injected clock and an injected disk-usage probe so tests do not wait or fill disks:

* a CommitLog file is *expired* once ``file_reserved_time`` hours have passed since
  its last message. Its last message is not read; the first message of the next file
  is stored no earlier, so that timestamp is used -- a file can only go late, never
  early. The file being written is never deleted.
* expired files are deleted at the hours of ``delete_when``, or at any hour while the
  disk is above ``disk_max_used_space_ratio`` percent, or when asked (``force``);
  at most ``delete_file_batch_max`` per run.
* above ``disk_max_used_space_ratio`` puts are refused (PutStatus.DISK_FULL) until a
  later check finds the disk below it again; nothing stored is touched by that.
* files that have not expired are deleted only with ``clean_file_forcibly_enable`` and
  the disk above ``disk_space_clean_forcibly_ratio`` (off by default, see StoreConfig).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from rmqcore.clock import Clock
from rmqcore.store.config import StoreConfig

DiskUsageProbe = Callable[[str], float]
"""Returns the used fraction (0.0-1.0) of the file system holding the given path."""

HOUR_MS = 3_600_000


def default_disk_usage(path: str) -> float:
    usage = shutil.disk_usage(path)
    return usage.used / usage.total if usage.total else 0.0


@dataclass
class RetentionReport:
    disk_used_percent: float
    disk_full: bool
    deleted_commitlog_files: list[int] = field(default_factory=list)
    deleted_consume_queue_files: int = 0
    deleted_index_files: int = 0
    min_commitlog_offset: int = 0
    reason: str = ""


class RetentionPolicy:
    """The decisions; MessageStore.run_retention applies them to the files."""

    def __init__(self, config: StoreConfig, clock: Clock, disk_usage_probe: DiskUsageProbe | None = None) -> None:
        self.config = config
        self.clock = clock
        self.disk_usage_probe = disk_usage_probe or default_disk_usage

    def disk_used_percent(self, path: str) -> float:
        return self.disk_usage_probe(path) * 100.0

    def disk_full(self, used_percent: float) -> bool:
        return used_percent > self.config.disk_max_used_space_ratio

    def is_delete_time(self, now_ms: int) -> bool:
        return time.localtime(now_ms / 1000).tm_hour in self.config.delete_hours

    def expired(self, last_message_ms: int, now_ms: int) -> bool:
        return now_ms - last_message_ms >= self.config.file_reserved_time * HOUR_MS

    def clean_forcibly(self, used_percent: float) -> bool:
        return self.config.clean_file_forcibly_enable and used_percent > self.config.disk_space_clean_forcibly_ratio
