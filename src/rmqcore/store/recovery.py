"""Opening a store after a clean shutdown or a crash.

* The ``abort`` file exists while a store is open; finding it at open means the last
  run did not close cleanly (RocketMQ's rule).
* The CommitLog tail is validated record by record in C (magic, size, physical
  offset field, field lengths, body CRC): from the last file after a clean shutdown,
  from the file holding the checkpoint's confirmPhyOffset after a crash. A torn or
  corrupt tail is zeroed, later files are deleted, and both are logged.
* ConsumeQueue and index entries pointing at or past the valid end are dropped.
* After a crash, records from confirmPhyOffset on are dispatched again: a missing
  ConsumeQueue entry is rewritten at the queue offset stored in the record, missing
  index keys are added. Tag codes are recomputed with RocketMQ's rule (TAGS hash;
  deliver time for SCHEDULE_TOPIC_XXXX) -- an explicit tag code passed to ``put`` that
  differs from that rule is not recoverable for an entry the crash lost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import structlog

from rmqcore.message import constants as C
from rmqcore.message import decode_stored_message, tags_code
from rmqcore.message.model import MessageExt
from rmqcore.store._ffi import check, ffi, lib
from rmqcore.store.checkpoint import CheckpointValues
from rmqcore.store.commitlog import CommitLog
from rmqcore.store.config import StoreConfig
from rmqcore.store.consume_queue import ConsumeQueue
from rmqcore.store.index import IndexService

log = structlog.get_logger(__name__)

STOP_REASONS = {
    0: "clean end",
    1: "bad magic code",
    2: "bad record size",
    3: "body CRC mismatch",
    4: "physical offset field does not match the record position",
    5: "field lengths do not add up to the record size",
}


@dataclass
class RecoveryReport:
    abnormal: bool
    scan_from: int = 0
    valid_end: int = 0
    records_checked: int = 0
    stop_reason: str = "clean end"
    truncated: bool = False
    commitlog_files_removed: int = 0
    consume_queue_entries_dropped: int = 0
    index_entries_dropped: int = 0
    redispatched_records: int = 0


def schedule_tag_code(msg: MessageExt, delay_levels_ms: tuple[int, ...]) -> int:
    """CQ tag code of a SCHEDULE_TOPIC_XXXX message: store time + delay of its level (reference section 5)."""
    level = int(msg.properties.get(C.PROPERTY_DELAY_TIME_LEVEL, "0") or 0)
    level = min(level, len(delay_levels_ms))
    delay = delay_levels_ms[level - 1] if level >= 1 else 1000  # unknown level => +1000 ms
    return msg.store_timestamp + delay


def recover(
    config: StoreConfig,
    commitlog: CommitLog,
    queues: dict[tuple[str, int], ConsumeQueue],
    index: IndexService | None,
    checkpoint: CheckpointValues,
    abnormal: bool,
    create_queue: Callable[[str, int], ConsumeQueue],
) -> RecoveryReport:
    report = RecoveryReport(abnormal=abnormal)
    starts = commitlog.segment_starts
    file_size = commitlog.file_size
    if starts:
        scan_from = starts[-1]
        if abnormal:
            confirm = checkpoint.confirm_phy_offset
            scan_from = max(starts[0], min(starts[-1], confirm - confirm % file_size))
        res = ffi.new("rmq_recover_result *")
        check(lib.rmq_commitlog_recover(commitlog.ptr, scan_from, int(config.check_crc_on_recover), res), "recover")
        valid_end = res.valid_end
        report.scan_from = scan_from
        report.records_checked = res.records
        report.stop_reason = STOP_REASONS.get(res.stop_reason, str(res.stop_reason))
        later = [s for s in starts if s > valid_end]
        # a file prepared ahead of the writer (never written) is not lost data
        files_after = sum(1 for s in later if _has_data(commitlog.dir / f"{s:020d}"))
        if len(later) > files_after:
            log.info("store.unused_commitlog_files_removed", files=len(later) - files_after)
        corrupt = res.stop_reason != 0
        check(lib.rmq_commitlog_truncate(commitlog.ptr, valid_end, int(corrupt)), "truncate commitlog")
        report.valid_end = valid_end
        report.truncated = corrupt or files_after > 0
        report.commitlog_files_removed = files_after
        if report.truncated:
            log.warning(
                "store.commitlog_truncated",
                valid_end=valid_end,
                reason=report.stop_reason,
                files_removed=files_after,
                last_valid_record=res.last_record,
                abnormal_shutdown=abnormal,
            )
        last_record = res.last_record
    else:
        valid_end = 0
        last_record = -1
        check(lib.rmq_commitlog_truncate(commitlog.ptr, 0, 0), "truncate commitlog")

    cl_min = commitlog.min_offset
    for cq in queues.values():
        dropped = lib.rmq_cq_recover(cq.ptr, valid_end)
        lib.rmq_cq_correct_min(cq.ptr, cl_min)
        if dropped:
            report.consume_queue_entries_dropped += dropped
            log.warning("store.consume_queue_entries_dropped", topic=cq.topic, queue_id=cq.queue_id, entries=dropped,
                        commitlog_end=valid_end)
    if index is not None:
        # after a crash the last record may be half-indexed: drop its entries and index it again
        limit = last_record if abnormal and last_record >= 0 else valid_end
        dropped = index.truncate(limit)
        report.index_entries_dropped = dropped
        if dropped and limit == valid_end:
            log.warning("store.index_entries_dropped", entries=dropped, commitlog_end=valid_end)

    if abnormal and valid_end > 0:
        start = max(cl_min, min(checkpoint.confirm_phy_offset, valid_end))
        if last_record >= 0:
            start = min(start, last_record)
        report.redispatched_records = _redispatch(config, commitlog, queues, index, start, valid_end, create_queue)
        if report.redispatched_records:
            log.info("store.redispatched", records=report.redispatched_records, start=start, end=valid_end)
    log.info(
        "store.recovered",
        abnormal_shutdown=abnormal,
        commitlog_end=valid_end,
        records_checked=report.records_checked,
        consume_queues=len(queues),
    )
    return report


def _has_data(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(8) != bytes(8)


def _redispatch(
    config: StoreConfig,
    commitlog: CommitLog,
    queues: dict[tuple[str, int], ConsumeQueue],
    index: IndexService | None,
    start: int,
    end: int,
    create_queue: Callable[[str, int], ConsumeQueue],
) -> int:
    batch = 1024
    phys_out = ffi.new("int64_t[]", batch)
    size_out = ffi.new("int32_t[]", batch)
    next_pos = ffi.new("int64_t *")
    index_end = index.end_phys() if index is not None else -1
    redone = 0
    pos = start
    while pos < end:
        n = lib.rmq_commitlog_walk(commitlog.ptr, pos, end, batch, phys_out, size_out, next_pos)
        if n == 0:
            break
        for i in range(n):
            phys = phys_out[i]
            record = ffi.buffer(lib.rmq_record_ptr(commitlog.ptr, phys), size_out[i])[:]
            msg, size = decode_stored_message(record, decompress=False, read_body=False)
            tx = msg.sys_flag & C.TRANSACTION_TYPE_MASK
            touched = False
            if tx in (C.TRANSACTION_NOT_TYPE, C.TRANSACTION_COMMIT_TYPE):
                cq = queues.get((msg.topic, msg.queue_id))
                if cq is None:
                    cq = create_queue(msg.topic, msg.queue_id)
                if msg.queue_offset >= cq.max_offset:
                    if msg.topic == C.SCHEDULE_TOPIC:
                        code = schedule_tag_code(msg, config.delay_levels_ms)
                    else:
                        code = tags_code(msg.properties.get(C.PROPERTY_TAGS))
                    check(lib.rmq_cq_put_at(cq.ptr, msg.queue_offset, phys, size, code), "rebuild consume queue")
                    touched = True
            if index is not None and tx != C.TRANSACTION_ROLLBACK_TYPE and phys > index_end:
                keys = index_keys(msg.properties)
                if keys:
                    topic = msg.topic.encode("utf-8")
                    check(lib.rmq_index_put(index.ptr, topic, len(topic), keys, len(keys), phys, msg.store_timestamp),
                          "rebuild index")
                    touched = True
            redone += touched
        pos = next_pos[0]
    return redone


def index_keys(properties: dict[str, str]) -> bytes:
    """UNIQ_KEY and the KEYS tokens, space-separated, as the C put indexes them."""
    uniq = properties.get(C.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX)
    keys = properties.get(C.PROPERTY_KEYS)
    if uniq and keys:
        return f"{uniq} {keys}".encode("utf-8")
    if uniq:
        return uniq.encode("utf-8")
    if keys:
        return keys.encode("utf-8")
    return b""
