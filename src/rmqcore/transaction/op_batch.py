"""Batching of op markers (5.x ``TransactionalOpBatchService``, reference section 8).

Ended half offsets are buffered and written as op messages whose bodies hold several offsets
(``"17,18,19,"``), each body at most ``max_bytes``.  The buffer is written when it grows past
``max_bytes`` (``transactionOpMsgMaxSize`` 4096), when its oldest entry is ``interval_ms`` old
(``transactionOpBatchInterval`` 3000), and on ``flush`` (the checker flushes before each round).

>>> written = []
>>> batch = OpBatch(max_bytes=6, interval_ms=3000, write=lambda offsets: written.append(list(offsets)) or True)
>>> batch.add(17, now_ms=0); batch.add(18, now_ms=0); written
[]
>>> batch.add(19, now_ms=0); written        # "17,18,19," is 9 bytes > 6: two bodies of ≤ 6 bytes
[[17, 18], [19]]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import structlog

log = structlog.get_logger(__name__)


class OpBatch:
    def __init__(self, *, max_bytes: int, interval_ms: int, write: Callable[[Sequence[int]], bool]) -> None:
        if max_bytes <= 0:
            raise ValueError(f"op_batch_max_bytes must be positive, got {max_bytes}")
        self._max_bytes = max_bytes
        self._interval_ms = interval_ms
        self._write = write
        self._pending: list[int] = []
        self._pending_bytes = 0
        self._oldest_ms: int | None = None

    def add(self, half_queue_offset: int, *, now_ms: int) -> None:
        self._pending.append(half_queue_offset)
        self._pending_bytes += len(str(half_queue_offset)) + 1
        if self._oldest_ms is None:
            self._oldest_ms = now_ms
        if self._pending_bytes > self._max_bytes:
            self.flush()

    def flush_if_due(self, now_ms: int) -> int:
        if self._oldest_ms is not None and now_ms - self._oldest_ms >= self._interval_ms:
            return self.flush()
        return 0

    def flush(self) -> int:
        """Write everything buffered; returns the number of op messages written."""
        written = 0
        chunk: list[int]
        while self._pending:
            chunk, size = [], 0
            for offset in self._pending:
                entry = len(str(offset)) + 1
                if chunk and size + entry > self._max_bytes:
                    break
                chunk.append(offset)
                size += entry
            if not self._write(chunk):
                log.error("transaction_op_write_failed", offsets=chunk, action="kept for the next flush")
                break
            del self._pending[: len(chunk)]
            self._pending_bytes -= size
            written += 1
        if not self._pending:
            self._oldest_ms = None
        return written

    def __len__(self) -> int:
        return len(self._pending)

    def pending(self) -> list[int]:
        return list(self._pending)
