"""Store configuration: RocketMQ's ``MessageStoreConfig`` keys in snake_case.

Defaults are RocketMQ's (reference section 11) except where noted on the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rmqcore.message.ids import Host, pack_ip
from rmqcore.store.errors import StoreConfigError

ASYNC_FLUSH = "ASYNC_FLUSH"
SYNC_FLUSH = "SYNC_FLUSH"
CQ_UNIT_SIZE = 20  # reference section 5, CQ_STORE_UNIT_SIZE

DEFAULT_DELAY_LEVELS = "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h"  # reference section 7
_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def parse_delay_levels(text: str) -> tuple[int, ...]:
    """Delay of each level in ms, level 1 first.

    >>> parse_delay_levels("1s 5m 2h")
    (1000, 300000, 7200000)
    """
    out = []
    for token in text.split():
        unit = token[-1]
        if unit not in _UNIT_MS or not token[:-1].isdigit():
            raise StoreConfigError(f"message_delay_level token {token!r} is not <number><s|m|h|d>")
        out.append(int(token[:-1]) * _UNIT_MS[unit])
    return tuple(out)


@dataclass(frozen=True)
class StoreConfig:
    """Settings of one MessageStore.

    >>> StoreConfig(mapped_file_size_consume_queue=1000).mapped_file_size_consume_queue
    1000
    """

    flush_disk_type: str = ASYNC_FLUSH
    mapped_file_size_commit_log: int = 1024 * 1024 * 1024
    mapped_file_size_consume_queue: int = 300_000 * CQ_UNIT_SIZE
    max_message_size: int = 4 * 1024 * 1024
    # hours a CommitLog file is kept after its last message
    file_reserved_time: int = 72
    # hours of the day ("04", or "04;05") when expired files are deleted
    delete_when: str = "04"
    # percent of the disk in use above which puts are refused and expired files go at once
    disk_max_used_space_ratio: int = 75
    # Deviation from RocketMQ (default true there): deleting files that have not expired
    # yet under disk pressure is opt-in, so a full disk never costs stored data by default.
    clean_file_forcibly_enable: bool = False
    disk_space_clean_forcibly_ratio: int = 85
    delete_file_batch_max: int = 10
    max_hash_slot_num: int = 5_000_000
    max_index_num: int = 20_000_000
    message_index_enable: bool = True
    # ASYNC_FLUSH: flush the CommitLog every N ms when N pages are dirty, and all of it every thorough interval
    flush_interval_commit_log: int = 500
    flush_commit_log_least_pages: int = 4
    flush_commit_log_thorough_interval: int = 10_000
    flush_interval_consume_queue: int = 1000
    # SYNC_FLUSH: how long a put waits for its group commit before FLUSH_DISK_TIMEOUT
    sync_flush_timeout: int = 5000
    check_crc_on_recover: bool = True
    message_delay_level: str = DEFAULT_DELAY_LEVELS
    # how often (ms) the background service re-reads disk usage
    disk_check_interval: int = 10_000
    # Keep the CommitLog just ahead of the write position prefaulted (RocketMQ's
    # warmMapedFileEnable, default false there): a put then copies into resident pages
    # instead of taking a page fault every 4 KiB. Bounded: a background thread prefaults
    # only warm_ahead_window bytes past the write position (and creates the next file when
    # the window reaches it), never a whole file at open. The same thread keeps each written
    # ConsumeQueue 64 KiB and the newest index file's entries 256 KiB ahead prefaulted, and
    # its hash-slot table once per file (fixed sizes, not this window: see warm_ahead.h).
    warm_mapped_file_enable: bool = True
    warm_ahead_window: int = 16 * 1024 * 1024
    # most CommitLog files one store maps at once (the segment table is fixed-size)
    max_commit_log_files: int = 65_536
    max_consume_queue_files: int = 4096
    # broker address written as STOREHOSTADDRESS and used for offset message ids
    store_host: Host = ("127.0.0.1", 10911)
    delay_levels_ms: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.flush_disk_type not in (ASYNC_FLUSH, SYNC_FLUSH):
            raise StoreConfigError(f"flush_disk_type must be {ASYNC_FLUSH!r} or {SYNC_FLUSH!r}, got {self.flush_disk_type!r}")
        if self.mapped_file_size_consume_queue <= 0 or self.mapped_file_size_consume_queue % CQ_UNIT_SIZE:
            raise StoreConfigError(
                f"mapped_file_size_consume_queue must be a positive multiple of {CQ_UNIT_SIZE} (one entry), "
                f"got {self.mapped_file_size_consume_queue}"
            )
        if self.warm_ahead_window < 4096:
            raise StoreConfigError(f"warm_ahead_window must be at least 4096 bytes, got {self.warm_ahead_window}")
        if self.max_message_size <= 0:
            raise StoreConfigError(f"max_message_size must be positive, got {self.max_message_size}")
        if self.mapped_file_size_commit_log < 4096:
            raise StoreConfigError(f"mapped_file_size_commit_log must be at least 4096, got {self.mapped_file_size_commit_log}")
        if self.max_hash_slot_num <= 0 or self.max_index_num <= 1:
            raise StoreConfigError("max_hash_slot_num must be > 0 and max_index_num > 1")
        if not 1 <= self.disk_max_used_space_ratio <= 100:
            raise StoreConfigError(f"disk_max_used_space_ratio is a percent (1-100), got {self.disk_max_used_space_ratio}")
        try:
            pack_ip(self.store_host[0])
        except OSError as exc:
            raise StoreConfigError(f"store_host {self.store_host!r} is not an IP address: {exc}") from exc
        try:
            hours = self.delete_hours
        except ValueError as exc:
            raise StoreConfigError(f"delete_when must be hours like '04' or '04;05', got {self.delete_when!r}") from exc
        if any(not 0 <= h <= 23 for h in hours):
            raise StoreConfigError(f"delete_when hours must be 00-23, got {self.delete_when!r}")
        object.__setattr__(self, "delay_levels_ms", parse_delay_levels(self.message_delay_level))

    @property
    def sync_flush(self) -> bool:
        return self.flush_disk_type == SYNC_FLUSH

    @property
    def delete_hours(self) -> tuple[int, ...]:
        return tuple(int(h) for h in self.delete_when.split(";") if h.strip())
