"""The key index (reference section 5, IndexFile): files under ``{root}/index``.

Inserts happen inside the C put; this file loads the files, runs look-ups and the
trims that recovery and retention need.
"""

from __future__ import annotations

import re
from pathlib import Path

from rmqcore.store._ffi import NULL, check, ffi, lib
from rmqcore.store.config import StoreConfig
from rmqcore.store.errors import StoreIOError

_INDEX_NAME = re.compile(r"^\d{17}$")


class IndexService:
    """Owns the C ``rmq_index`` (list of index files, oldest first)."""

    def __init__(self, root: Path, config: StoreConfig) -> None:
        self.dir = root / "index"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ptr = lib.rmq_index_new(str(self.dir).encode(), config.max_hash_slot_num, config.max_index_num)
        if self.ptr == NULL:
            raise StoreIOError(12, "cannot allocate the index")
        for name in sorted(p.name for p in self.dir.iterdir() if _INDEX_NAME.match(p.name)):
            check(lib.rmq_index_load(self.ptr, name.encode()), f"map index file {self.dir / name} "
                  "(made with other max_hash_slot_num/max_index_num?)")

    @property
    def file_count(self) -> int:
        return self.ptr.count

    def last_update(self) -> tuple[int, int]:
        """(endTimestamp, endPhyOffset) of the newest file, (0, 0) when empty."""
        n = self.ptr.count
        if n == 0:
            return 0, 0
        return lib.rmq_index_end_ts(self.ptr, n - 1), lib.rmq_index_end_phys(self.ptr, n - 1)

    def query(self, topic: str, key: str, max_count: int, begin_ms: int, end_ms: int) -> list[int]:
        """Commitlog offsets whose `topic#key` hash matches, newest first (may include collisions)."""
        full = f"{topic}#{key}".encode("utf-8")
        out = ffi.new("int64_t[]", max_count)
        n = lib.rmq_index_query(self.ptr, full, len(full), begin_ms, end_ms, max_count, out)
        return list(out[0:n])

    def truncate(self, phys_limit: int) -> int:
        return lib.rmq_index_truncate(self.ptr, phys_limit)

    def end_phys(self) -> int:
        n = self.ptr.count
        return lib.rmq_index_end_phys(self.ptr, n - 1) if n and lib.rmq_index_count(self.ptr, n - 1) > 1 else -1

    def drop_files_before(self, commitlog_min: int) -> int:
        """Delete index files (never the newest) whose every entry is below commitlog_min."""
        dropped = 0
        while self.ptr.count > 1 and lib.rmq_index_end_phys(self.ptr, 0) < commitlog_min:
            lib.rmq_index_drop_first(self.ptr)
            dropped += 1
        return dropped

    def sync(self) -> None:
        check(lib.rmq_index_sync(self.ptr), "msync index")

    def free(self) -> None:
        if self.ptr != NULL:
            lib.rmq_index_free(self.ptr)
            self.ptr = NULL

