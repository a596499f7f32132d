"""The CommitLog files of a store: loading the segment list and thin calls into C.

Layout (reference section 4): ``{root}/commitlog/%020d`` files of
``mapped_file_size_commit_log`` bytes. The put itself is in message_store.py, one
C call (csrc/commitlog.c) per message.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

from rmqcore.message.ids import pack_ip
from rmqcore.store._ffi import NULL, check, ffi, lib
from rmqcore.store.config import StoreConfig
from rmqcore.store.errors import StoreIOError, StoreLayoutError

_SEGMENT_NAME = re.compile(r"^\d{20}$")


def host_bytes(host: tuple[str, int]) -> bytes:
    """ip (4 or 16 bytes) + port int, as STOREHOSTADDRESS/BORNHOST are stored."""
    return pack_ip(host[0]) + struct.pack(">i", host[1])


class CommitLog:
    """Owns the C ``rmq_commitlog`` (mappings, write position) for one store directory."""

    def __init__(self, root: Path, config: StoreConfig) -> None:
        self.dir = root / "commitlog"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.file_size = config.mapped_file_size_commit_log
        host = host_bytes(config.store_host)
        self.ptr = lib.rmq_commitlog_new(
            str(self.dir).encode(), self.file_size, config.max_commit_log_files, config.max_message_size, host, len(host)
        )
        if self.ptr == NULL:
            raise StoreIOError(12, "cannot allocate the CommitLog")
        self._load()

    def _load(self) -> None:
        names = sorted(p.name for p in self.dir.iterdir() if _SEGMENT_NAME.match(p.name))
        for name in names:
            start = int(name)
            if start % self.file_size:
                raise StoreLayoutError(
                    f"commitlog file {name} does not start on a multiple of mapped_file_size_commit_log "
                    f"({self.file_size}); was the store written with another file size?"
                )
            check(lib.rmq_mfq_load(self.ptr.q, start), f"map commitlog file {self.dir / name}")

    @property
    def write_pos(self) -> int:
        return self.ptr.write_pos

    @property
    def min_offset(self) -> int:
        return lib.rmq_mfq_min_offset(self.ptr.q)

    @property
    def segment_starts(self) -> list[int]:
        q = self.ptr.q
        # "from" is a Python keyword, hence getattr
        return [getattr(q.segs[i], "from") for i in range(q.count)]

    def sync(self, start: int, end: int) -> None:
        check(lib.rmq_commitlog_sync(self.ptr, start, end), "msync commitlog")

    def record_bytes(self, phys: int) -> bytes | None:
        size = lib.rmq_record_size(self.ptr, phys)
        if size < 0:
            return None
        return ffi.buffer(lib.rmq_record_ptr(self.ptr, phys), size)[:]

    def free(self) -> None:
        if self.ptr != NULL:
            lib.rmq_commitlog_free(self.ptr)
            self.ptr = NULL
