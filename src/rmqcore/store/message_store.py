"""MessageStore: CommitLog + ConsumeQueues + IndexFile behind one object.

Threading model: every method may be called from any thread. Puts, reads and
retention serialise on one lock that is held only around the C calls (a put holds
it for one ``rmq_put_*`` call); with ``SYNC_FLUSH`` a put waits for its group commit
*after* releasing it, so puts from many threads share each msync. A caller that must
not block (the broker's event loop) puts with ``wait_for_flush=False`` and learns when
the record is durable from ``flushed_offset`` / ``wait_flushed`` (one thread can wait
for many puts: a sync covers everything written before it). The background flush of
ConsumeQueues, index and checkpoint takes the lock only to read what to sync; the syncs
run outside it (``_flush_logics``).

A plain ``put`` (exactly a ``Message``, no properties or a lone TAGS seen before, a
known queue, an open store) is one C call, ``_put_path.PutPath.put``, that takes the
same lock through the lock's own methods (under SYNC_FLUSH, then the group-commit wait);
whatever it declines runs here.

Special puts the broker needs:

* ``tag_code=`` overrides the ConsumeQueue tag code. Without it the code is the
  Java hash of TAGS, or for ``SCHEDULE_TOPIC_XXXX`` the deliver time = store time +
  delay of the DELAY level (reference section 5), so delayed messages need nothing.
* Dispatch follows RocketMQ's CommitLogDispatcher: messages whose sysFlag
  transaction type is PREPARED or ROLLBACK get queue offset 0 and no ConsumeQueue
  entry; ROLLBACK ones are not indexed either. Half messages re-topiced to
  ``RMQ_SYS_TRANS_HALF_TOPIC`` with the type cleared are dispatched like any other.
* ``put_batch_encoded(topic, body, queue_id, born_timestamp=, born_host=, sys_flag=)``
  stores a SEND_BATCH request body as received (reference section 4), one C call, no
  decoding: each record keeps its inner message's own flag, body and properties.
  It raises MissingUniqKeyError (nothing written) if an inner message lacks UNIQ_KEY,
  so a broker falls back to decoding and ``put_batch`` only for such batches.
* ``put_encoded(topic, queue_id, body, properties)`` stores one message from a property
  string as it came off the wire (SEND_MESSAGE's header properties, reference section 4,
  "Properties string"), one C call that finds the tag code and index keys in the bytes:
  the record ``put`` of the decoded MessageExt writes, without decoding or re-encoding.
* ``add_dispatch_listener(fn)``: ``fn(topic, queue_id, queue_offset)`` is called after
  each dispatched put (once per batch, with the batch's last queue offset), outside
  the store lock, on the putting thread -- e.g. to wake long-polling pulls.
"""

from __future__ import annotations

import os
import re
import threading
from array import array
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import NamedTuple

import structlog

from rmqcore.clock import SYSTEM_CLOCK, Clock
from rmqcore.message import Message, MessageExt, decode_properties, decode_stored_message, java_string_hash
from rmqcore.message import constants as C
from rmqcore.message.ids import Host
from rmqcore.store._ffi import NULL, check, ffi, lib
from rmqcore.store.checkpoint import Checkpoint, CheckpointValues
from rmqcore.store.commitlog import CommitLog, host_bytes
from rmqcore.store.config import CQ_UNIT_SIZE, StoreConfig
from rmqcore.store.consume_queue import ConsumeQueue, discover
from rmqcore.store.errors import (
    MessageIllegalError,
    MessageTooLargeError,
    MissingUniqKeyError,
    PropertiesTooLargeError,
    StoreClosedError,
    StoreIOError,
)
from rmqcore.store.flush import CommitLogFlusher, FlushService, GroupCommitFlusher
from rmqcore.store.index import IndexService
from rmqcore.store.recovery import RecoveryReport, recover
from rmqcore.store.results import GetResult, GetStatus, PutResult, PutStatus, QueryResult
from rmqcore.store.retention import DiskUsageProbe, RetentionPolicy, RetentionReport

log = structlog.get_logger(__name__)

DispatchListener = Callable[[str, int, int], None]

_TAGS = C.PROPERTY_TAGS
_KEYS = C.PROPERTY_KEYS
_UNIQ = C.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX
_TX_MASK = C.TRANSACTION_TYPE_MASK
_DISPATCHED_TX = (C.TRANSACTION_NOT_TYPE, C.TRANSACTION_COMMIT_TYPE)
_MAX_PROPS = C.MAX_PROPERTIES_LENGTH
_PUT_OK = PutStatus.PUT_OK
_new_put_result = tuple.__new__  # PutResult(...) without the NamedTuple __new__ wrapper
_put_simple = lib.rmq_put_simple
_put_ext = lib.rmq_put_ext
_put_batch = lib.rmq_put_batch
_put_batch_encoded = lib.rmq_put_batch_encoded
_put_encoded = lib.rmq_put_encoded
_get = lib.rmq_get
_new_get_result = tuple.__new__  # GetResult(...) without the NamedTuple __new__ wrapper
_GET_FOUND = GetStatus.FOUND
_NO_MATCHED_MESSAGE = GetStatus.NO_MATCHED_MESSAGE
_NO_LOGIC_QUEUE = GetStatus.NO_MATCHED_LOGIC_QUEUE
_NO_MESSAGE_IN_QUEUE = GetStatus.NO_MESSAGE_IN_QUEUE
_OFFSET_TOO_SMALL = GetStatus.OFFSET_TOO_SMALL
_OFFSET_OVERFLOW_ONE = GetStatus.OFFSET_OVERFLOW_ONE
_OFFSET_OVERFLOW_BADLY = GetStatus.OFFSET_OVERFLOW_BADLY
_TAG_ARRAYS_MAX = 4096  # subscriptions' tag-code arrays kept (cleared when full)
_unpack = ffi.unpack
_from_buffer = ffi.from_buffer
_NO_KEYS = b""
_buffer = ffi.buffer
_SINGLE_TAG_CACHE: dict[str | None, tuple[bytes, int, bytes]] = {}  # looked up with props.get(TAGS)
_tags_code = java_string_hash  # tags_code() without its empty check (callers check); lru-cached
_SYNC_THREADS = 8  # ConsumeQueue msyncs of one logics flush in flight at once
_INDEX_FILE_NAME = re.compile(r"^\d{17}$")  # index/yyyyMMddHHmmssSSS, as index.py loads them


def _offsets_from(raw: bytes | memoryview) -> array[int]:
    """A batch's record offsets (native int64s) copied into an array: one copy, where a
    tuple would make an int object per record (a third of the interpreter's cost of a
    64-message put_batch)."""
    offsets = array("q")
    offsets.frombytes(raw)
    return offsets


def _offsets(phys: object, n: int) -> array[int]:
    """The first n int64 of the C array ``phys`` (see _offsets_from)."""
    return _offsets_from(_buffer(phys, 8 * n))


# What put_batch needs of its messages: C body refs (None: gathered in the interpreter), the
# bodies (kept alive across the put), their total and largest length, and the properties
# (one dict when all are equal, else a list of each message's).
_Gathered = tuple[bytes | None, Sequence[bytes], int, int, dict[str, str] | list[dict[str, str]]]

try:  # C: built by pip install beside the cffi module (setup.py ext_modules)
    from rmqcore.store import _batch_gather

    _batch_gather.bind(Message)
    _gather: Callable[[Sequence[Message]], _Gathered | None] | None = _batch_gather.gather
except ImportError:  # a build without it: the interpreter gathers
    _gather = None


try:  # C: MessageStore.put's common case in one call (csrc/put_path.c)
    from rmqcore.store import _put_path
except ImportError:  # a build without it: every put runs in the interpreter
    _put_path = None  # type: ignore[assignment]


def _decline_put(msgs: object, queue_id: int) -> None:
    """The C put path's stand-in where it is not built: every put runs in the interpreter."""
    return None


def _gather_py(msgs: Sequence[Message]) -> _Gathered:
    """``_batch_gather.gather`` in the interpreter, for what C declines; raises for a batch
    that cannot be stored (empty, or of more than one topic)."""
    n = len(msgs)
    if n == 0:
        raise MessageIllegalError("put_batch needs at least one message")
    topic = msgs[0].topic
    props_list = [m.properties for m in msgs if m.topic == topic]
    if len(props_list) != n:
        other = next(m.topic for m in msgs if m.topic != topic)
        raise MessageIllegalError(f"a batch holds one topic: found {other!r} after {topic!r}")
    bodies = [m.body for m in msgs]
    body_lens = list(map(len, bodies))
    p0 = props_list[0]
    return None, bodies, sum(body_lens), max(body_lens), p0 if props_list.count(p0) == n else props_list


_EMPTY_META = (_NO_KEYS, 0, _NO_KEYS)


def _meta_of(props: dict[str, str], with_keys: bool) -> tuple[bytes, int, bytes]:
    """_encode_meta through _SINGLE_TAG_CACHE: a lone TAGS property (a producer's message
    without keys) is a pure function of the tag, so its meta is kept there, once per
    distinct tag (the C put path reads the same cache)."""
    if not props:
        return _EMPTY_META
    if len(props) == 1:
        meta = _SINGLE_TAG_CACHE.get(props.get(_TAGS))
        if meta is not None:
            return meta
    meta = _encode_meta(props, with_keys)
    if len(props) == 1 and _TAGS in props and len(_SINGLE_TAG_CACHE) < 4096:
        _SINGLE_TAG_CACHE[props[_TAGS]] = meta
    return meta


def _encode_meta(props: dict[str, str], with_keys: bool) -> tuple[bytes, int, bytes]:
    """(property string bytes, tag code, index keys) -- the property map is encoded once."""
    if len(props) == 1:
        ((k, v),) = props.items()
        encoded = (k + "\x01" + v + "\x02").encode() if v is not None else _NO_KEYS
        if k == _TAGS:
            return encoded, _tags_code(v) if v else 0, _NO_KEYS
    else:
        encoded = "".join([f"{k}\x01{v}\x02" for k, v in props.items() if v is not None]).encode()
    tags = props.get(_TAGS)
    code = _tags_code(tags) if tags else 0
    if not with_keys:
        return encoded, code, _NO_KEYS
    uniq = props.get(_UNIQ)
    keys = props.get(_KEYS)
    if uniq:
        kb = f"{uniq} {keys}".encode() if keys else uniq.encode()
    else:
        kb = keys.encode() if keys else _NO_KEYS
    return encoded, code, kb


class _LogicsSnapshot(NamedTuple):
    """What one logics flush covers, read under the store lock (see _flush_logics)."""

    write_pos: int
    last_store_ts: int
    queues: list[tuple[tuple[str, int], ConsumeQueue, int | None, int]]  # key, cq, synced end, end
    index_state: tuple[int, int] | None  # None: the index did not change since its last sync


class _PutTarget:
    """Per (topic, queue) facts a put needs, computed once per queue."""

    __slots__ = ("cq", "ptr", "addr", "topic", "topic_len", "overhead", "schedule")

    def __init__(self, cq: ConsumeQueue, store_host_len: int) -> None:
        self.cq = cq
        self.ptr = cq.ptr
        self.addr = int(ffi.cast("uintptr_t", cq.ptr))  # what the C put path passes on
        self.topic = cq.topic.encode("utf-8")
        self.topic_len = len(self.topic)
        # reference section 4: 91 bytes overhead for V1 + IPv4 hosts; V2 has a 2-byte topic length
        self.overhead = 91 + self.topic_len + (1 if self.topic_len > C.MAX_V1_TOPIC_LENGTH else 0) + (
            12 if store_host_len == 20 else 0
        )
        self.schedule = cq.topic == C.SCHEDULE_TOPIC


if _put_path is not None:
    _put_path.bind(Message, _PutTarget, _TAGS)


def _notify_listeners(listeners: list[DispatchListener], topic: str, queue_id: int, queue_offset: int) -> None:
    for listener in listeners:
        try:
            listener(topic, queue_id, queue_offset)
        except Exception:  # a listener's bug must not fail a put that is already stored
            log.exception("store.dispatch_listener_failed", topic=topic, queue_id=queue_id)


def _put_failed(rc: int, topic: str, store_host: Host, n: int = 1) -> PutResult:
    """The result of a C put that returned ``rc`` < 0 (nothing written), or its exception."""
    if rc in (lib.RMQ_E_TOO_LARGE, lib.RMQ_E_FILE_TOO_SMALL):
        check(rc, f"put to {topic!r}")  # raises MessageTooLargeError
    err = -rc
    text = f"put to {topic!r} failed creating or mapping a store file: {os.strerror(err)}"
    log.error("store.put_failed", topic=topic, errno=err, error=os.strerror(err))
    return PutResult(PutStatus.CREATE_MAPPED_FILE_FAILED, -1, 0, 0, 0, store_host, n, None, text)


class MessageStore:
    """A RocketMQ-layout message store in one directory.

    Open with :meth:`open`; use as a context manager or call :meth:`close`.
    """

    def __init__(
        self,
        path: Path,
        config: StoreConfig,
        clock: Clock,
        disk_usage_probe: DiskUsageProbe | None,
    ) -> None:
        self.path = path
        self.config = config
        self.clock = clock
        # the system clock read in C (one cffi call) is cheaper than SystemClock.now_ms
        self._now = lib.rmq_now_ms if clock is SYSTEM_CLOCK else clock.now_ms
        self._lock = threading.Lock()
        self._acquire = self._lock.acquire  # bound once: half the cost of `with` on the put path
        self._release = self._lock.release
        # Logics flushes (ConsumeQueue/index syncs, the checkpoint write) run outside _lock and
        # hold this instead; whatever unmaps or deletes their files (retention, close, crash)
        # takes it too. Lock order: _logics_lock, _lock, the flusher's sync_lock.
        self._logics_lock = threading.Lock()
        self._cq_synced: dict[tuple[str, int], int] = {}  # queue -> max_logical its last sync covered
        self._index_synced: tuple[int, int] | None = None  # (files, entries in the newest) last synced
        self._sync_pool: ThreadPoolExecutor | None = None  # ConsumeQueue msyncs run side by side
        self._open = False
        self._listeners: list[DispatchListener] = []
        self._queues: dict[tuple[str, int], ConsumeQueue] = {}
        self._targets: dict[tuple[str, int], _PutTarget] = {}
        self._store_host = config.store_host
        self._store_host_len = len(host_bytes(config.store_host))
        self._max_body = config.max_message_size
        self._sync = config.sync_flush
        self._sync_timeout_s = config.sync_flush_timeout / 1000
        self._refusal: str | None = None  # set while the disk is over the ratio
        self.retention = RetentionPolicy(config, clock, disk_usage_probe)

        path.mkdir(parents=True, exist_ok=True)
        abort_file = path / "abort"
        abnormal = abort_file.exists()
        self._checkpoint = Checkpoint(path / "checkpoint")
        self._commitlog = CommitLog(path, config)
        self._cl = self._commitlog.ptr
        self._index = IndexService(path, config) if config.message_index_enable else None
        self._cl.index = self._index.ptr if self._index is not None else NULL
        for cq in discover(path, config):
            self._queues[(cq.topic, cq.queue_id)] = cq
        self.recovery_report: RecoveryReport = recover(
            config, self._commitlog, self._queues, self._index, self._checkpoint.values, abnormal, self._create_queue
        )
        abort_file.touch()
        self._abort_file = abort_file
        self._scratch_cap = max(config.max_message_size + 4096, 4 * 1024 * 1024)
        self._scratch = ffi.new("char[]", self._scratch_cap)
        self._get_res = ffi.new("rmq_get_result *")
        self._tag_arrays: dict[frozenset[int], tuple[object, int]] = {}
        # record offsets of a batch, read back under the lock (grown for larger batches)
        self._phys_cap = 4096
        self._phys = ffi.new("int64_t[]", self._phys_cap)
        self._batch_bytes = ffi.new("int64_t *")
        flusher_class = GroupCommitFlusher if config.sync_flush else CommitLogFlusher
        self._flusher = flusher_class(self._commitlog, self._commitlog.write_pos)
        self._put_path = self._new_put_path()
        self._put_fast: Callable[[Message, int], PutResult | None] = (
            _decline_put if self._put_path is None else self._put_durable if self._sync else self._put_path.put
        )
        self._put_batch_fast: Callable[[Sequence[Message], int], PutResult | None] = (
            _decline_put if self._put_path is None else self._put_batch_durable if self._sync else self._put_path.put_batch
        )
        self._open = True
        self.check_disk()
        if config.warm_mapped_file_enable:
            check(lib.rmq_commitlog_start_warmer(self._cl, config.warm_ahead_window), "start the warm-ahead thread")
        self._service = FlushService(config, self._flusher, self._commitlog, self._flush_logics, self.check_disk)
        self._service.start()

    def _new_put_path(self) -> _put_path.PutPath | None:
        """The C put path over this store's lock, queues and CommitLog (None when not built);
        :meth:`_update_put_path` turns it on."""
        if _put_path is None:
            return None
        path = _put_path.PutPath(
            put_simple=int(ffi.cast("uintptr_t", ffi.addressof(lib, "rmq_put_simple"))),
            put_batch=int(ffi.cast("uintptr_t", ffi.addressof(lib, "rmq_put_batch"))),
            system_now=int(ffi.cast("uintptr_t", ffi.addressof(lib, "rmq_now_ms"))),
            commitlog=int(ffi.cast("uintptr_t", self._cl)),
            last_queue_offset=int(ffi.cast("uintptr_t", ffi.addressof(self._cl, "last_queue_offset"))),
            lock=self._lock,
            targets=self._targets,
            tag_cache=_SINGLE_TAG_CACHE,
            result_type=PutResult,
            status_ok=_PUT_OK,
            store_host=self._store_host,
            put_failed=_put_failed,
            notify=_notify_listeners,
            gather=_gather,
            offsets_of=_offsets_from,
            max_body=self._max_body,
            max_props=_MAX_PROPS,
        )
        path.now = None if self.clock is SYSTEM_CLOCK else self.clock.now_ms
        path.listeners = self._listeners
        return path

    def _update_put_path(self) -> None:
        """Whether puts may take the C path: open and not refusing."""
        if self._put_path is not None:
            self._put_path.enabled = self._open and self._refusal is None

    def _put_durable(self, msg: Message, queue_id: int) -> PutResult | None:
        """SYNC_FLUSH: the C put path, then the wait for its group commit (GIL released)."""
        return self._group_committed(self._put_path.put(msg, queue_id))  # type: ignore[union-attr]  # set when used

    def _put_batch_durable(self, msgs: Sequence[Message], queue_id: int) -> PutResult | None:
        return self._group_committed(self._put_path.put_batch(msgs, queue_id))  # type: ignore[union-attr]

    def _group_committed(self, result: PutResult | None) -> PutResult | None:
        if result is None or result.status is not _PUT_OK:
            return result
        if self._flusher.wait_durable(result.end_offset, self._sync_timeout_s):
            return result
        # no WAIT=false to honour: the C path takes only messages without properties but TAGS
        return result._replace(status=PutStatus.FLUSH_DISK_TIMEOUT)

    # -- lifecycle ------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        config: StoreConfig | None = None,
        *,
        clock: Clock = SYSTEM_CLOCK,
        disk_usage_probe: DiskUsageProbe | None = None,
    ) -> MessageStore:
        """Open (creating if needed) the store at ``path``, recovering after a crash.

        ``disk_usage_probe(path) -> used fraction`` replaces the real disk check (tests).
        """
        return cls(Path(path), config or StoreConfig(), clock, disk_usage_probe)

    def __enter__(self) -> MessageStore:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Flush everything, write the checkpoint, remove ``abort``; idempotent."""
        if not self._open:
            return
        self._service.stop()
        with self._lock:
            self._open = False  # no put starts after this
            self._update_put_path()
        lib.rmq_commitlog_stop_warmer(self._cl)  # before the standby goes: it may be preparing one
        lib.rmq_mfq_discard_standby(self._cl.q)
        self._flusher.flush_all()
        with self._flusher.sync_lock:
            # a SYNC_FLUSH waiter finds its bytes flushed above
            self._flusher.closed = True
        self._flusher.stop()
        with self._logics_lock:  # a flush() from another thread may still be syncing: wait for it
            self._flush_logics_unlocked(final=True)
            self._free()
        self._abort_file.unlink(missing_ok=True)
        log.info("store.closed", path=str(self.path))

    def _simulate_crash(self) -> None:
        """Test hook: stop as a killed process would -- no flush, no checkpoint, ``abort`` stays."""
        if not self._open:
            return
        self._service.stop()
        with self._lock, self._flusher.sync_lock:
            self._open = False
            self._update_put_path()
            self._flusher.closed = True
        self._flusher.stop()
        lib.rmq_commitlog_stop_warmer(self._cl)
        with self._logics_lock:
            self._free()

    def _free(self) -> None:
        for cq in self._queues.values():
            cq.free()
        if self._index is not None:
            self._index.free()
        self._commitlog.free()
        self._checkpoint.close()
        self._cl = NULL
        self._targets.clear()
        if self._sync_pool is not None:  # idle: every logics flush waits for its syncs
            self._sync_pool.shutdown(wait=False)
            self._sync_pool = None

    @property
    def closed(self) -> bool:
        return not self._open

    # -- put --------------------------------------------------------------------------------
    def put(
        self,
        msg: Message,
        queue_id: int,
        *,
        tag_code: int | None = None,
        store_timestamp: int | None = None,
        wait_for_flush: bool = True,
    ) -> PutResult:
        """Append one message; see the module docstring for tag codes and dispatch.

        ``store_timestamp`` keeps a given STORETIMESTAMP instead of the clock's (a
        committed transaction message keeps its half message's, reference section 8).
        Raises MessageIllegalError (and subclasses) for bad input before writing anything.

        Under SYNC_FLUSH the put returns once a sync covered the record (FLUSH_DISK_TIMEOUT
        after ``sync_flush_timeout`` unless the message says WAIT=false). With
        ``wait_for_flush=False`` it returns PUT_OK at once and the caller owns the wait: the
        record is durable when ``flushed_offset >= result.end_offset`` (see :meth:`wait_flushed`).
        """
        if tag_code is None and store_timestamp is None and wait_for_flush:
            result = self._put_fast(msg, queue_id)  # the common case, in C; None: not that case
            if result is not None:
                return result
        body = msg.body
        props = msg.properties
        pb, code, kb = _meta_of(props, self._index is not None)
        blen = len(body)
        plen = len(pb)
        if blen > self._max_body or plen > _MAX_PROPS:
            self._refuse_sizes(msg, blen, plen)
        target = self._targets.get((msg.topic, queue_id))
        if target is None:
            target = self._target(msg.topic, queue_id)
        if self._refusal is not None:
            return self._refused()
        now = self._now() if store_timestamp is None else store_timestamp
        if tag_code is not None:
            code = tag_code
        elif target.schedule:
            code = now + self._schedule_delay(props)
        simple = type(msg) is Message
        self._acquire()
        try:
            if not self._open:
                raise StoreClosedError("the store is closed")
            if simple:
                phys = _put_simple(self._cl, target.ptr, body, blen, pb, plen, msg.flag, now, code, kb, len(kb))
            else:
                phys = self._put_ext(msg, target, queue_id, body, blen, pb, plen, now, code, kb)  # type: ignore[arg-type]  # not simple: a MessageExt
            queue_offset = self._cl.last_queue_offset
        finally:
            self._release()
        if phys < 0:
            return self._put_failed(phys, msg.topic)
        wrote = target.overhead + blen + plen
        if not simple and msg.born_host and ":" in msg.born_host[0]:  # type: ignore[attr-defined]  # a MessageExt
            wrote += 12
        status = _PUT_OK
        if self._sync and wait_for_flush and not self._flusher.wait_durable(phys + wrote, self._sync_timeout_s):
            if props.get(C.PROPERTY_WAIT_STORE_MSG_OK) != "false":
                status = PutStatus.FLUSH_DISK_TIMEOUT
        if self._listeners and (simple or (msg.sys_flag & _TX_MASK) in _DISPATCHED_TX):  # type: ignore[attr-defined]
            self._notify(msg.topic, queue_id, queue_offset)
        return _new_put_result(PutResult, (status, phys, queue_offset, wrote, now, self._store_host, 1, None, None, phys + wrote))

    def _put_ext(self, msg: MessageExt, target: _PutTarget, queue_id: int, body: bytes, blen: int, pb: bytes,
                 plen: int, now: int, code: int, kb: bytes) -> int:
        born = host_bytes(msg.born_host) if msg.born_host else None
        return _put_ext(self._cl, target.ptr, body, blen, pb, plen, msg.flag, msg.sys_flag, msg.born_timestamp or now, born if born else NULL,
                        len(born) if born else 0, now, msg.reconsume_times, msg.prepared_transaction_offset, code,
                        kb, len(kb))

    def put_encoded(
        self,
        topic: str,
        queue_id: int,
        body: bytes,
        properties: bytes,
        *,
        flag: int = 0,
        sys_flag: int = 0,
        born_timestamp: int | None = None,
        born_host: Host | bytes | None = None,
        reconsume_times: int = 0,
        tag_code: int | None = None,
        wait_for_flush: bool = True,
    ) -> PutResult:
        """Append one message whose properties are already encoded (reference section 4,
        "Properties string": ``k\x01v\x02...``, stored as given).

        The record is what ``put`` of the equivalent MessageExt writes when ``properties`` is
        that message's encoded map (each key once, no empty key or value): the tag code is
        the Java hash of its TAGS (for SCHEDULE_TOPIC_XXXX the deliver time of its DELAY
        level; ``tag_code=`` overrides either), its UNIQ_KEY and KEYS tokens are indexed,
        both found in C from the bytes. ``born_host`` may be pre-packed (``host_bytes``: ip
        + port, 8 or 20 bytes) so a caller can pack a connection's host once; None and
        ``born_timestamp`` None mean the store host and now. Errors, SYNC_FLUSH (waits for
        its group commit; FLUSH_DISK_TIMEOUT unless WAIT=false), dispatch and listeners as
        ``put``: bad input raises MessageIllegalError (or a subclass) before anything is written;
        ``wait_for_flush=False`` as ``put``.
        """
        blen = len(body)
        plen = len(properties)
        if blen > self._max_body or plen > _MAX_PROPS:
            self._refuse_encoded_sizes(topic, blen, plen)
        if type(body) is not bytes:  # bytearray, memoryview: passed to C without a copy
            body = _from_buffer(body)
        if type(properties) is not bytes:
            properties = bytes(properties)
        target = self._targets.get((topic, queue_id))
        if target is None:
            target = self._target(topic, queue_id)
        if born_host is None:
            born = NULL
            born_len = 0
        else:
            born = born_host if type(born_host) is bytes else host_bytes(born_host)  # type: ignore[arg-type]
            born_len = len(born)
            if born_len != 8 and born_len != 20:
                raise MessageIllegalError(f"born_host must pack to 8 or 20 bytes (ip + port), got {born_len}")
        if self._refusal is not None:
            return self._refused()
        now = self._now()
        use_code = 0
        code = 0
        if tag_code is not None:
            use_code = 1
            code = tag_code
        elif target.schedule:
            use_code = 1
            code = now + self._schedule_delay(decode_properties(properties.decode("utf-8", "replace")))
        self._acquire()
        try:
            if not self._open:
                raise StoreClosedError("the store is closed")
            phys = _put_encoded(self._cl, target.ptr, body, blen, properties, plen, flag, sys_flag,
                                born_timestamp or now, born, born_len, now, reconsume_times, use_code, code)
            queue_offset = self._cl.last_queue_offset
        finally:
            self._release()
        if phys < 0:
            return self._put_failed(phys, topic)
        wrote = target.overhead + blen + plen
        if born_len == 20:
            wrote += 12
        status = _PUT_OK
        if self._sync and wait_for_flush and not self._flusher.wait_durable(phys + wrote, self._sync_timeout_s):
            waits = decode_properties(properties.decode("utf-8", "replace")).get(C.PROPERTY_WAIT_STORE_MSG_OK)
            if waits != "false":
                status = PutStatus.FLUSH_DISK_TIMEOUT
        if self._listeners and (sys_flag & _TX_MASK) in _DISPATCHED_TX:
            self._notify(topic, queue_id, queue_offset)
        return _new_put_result(PutResult, (status, phys, queue_offset, wrote, now, self._store_host, 1, None, None, phys + wrote))

    def put_batch(
        self,
        msgs: Sequence[Message],
        queue_id: int,
        *,
        tag_codes: Sequence[int] | None = None,
        wait_for_flush: bool = True,
    ) -> PutResult:
        """Append messages of one topic to one queue with consecutive queue offsets, all or nothing.

        Each record keeps its own body, flag and properties. Born timestamp/host, sysFlag
        come from the first message when it is a MessageExt, else now/store host/0.
        Under SYNC_FLUSH it waits for the sync covering the last record (FLUSH_DISK_TIMEOUT
        after ``sync_flush_timeout``); ``wait_for_flush=False`` as ``put``.
        """
        if tag_codes is None and wait_for_flush:
            result = self._put_batch_fast(msgs, queue_id)  # the common case, in C; None: not that case
            if result is not None:
                return result
        gathered = _gather(msgs) if _gather is not None else None
        if gathered is None:
            gathered = _gather_py(msgs)
        refs, keep, body_total, max_body, props = gathered
        n = len(keep)
        first = msgs[0]
        topic = first.topic
        c_props_lens = c_keys_lens = NULL
        props_lens: list[int] | None = None
        codes: list[int] | None = None
        if isinstance(props, dict):
            # Same properties on every message (a producer's batch of one tag, no keys):
            # encoded once, and C reuses them for every record.
            props_blob, uniform_code, keys_blob = _meta_of(props, self._index is not None)
            uniform_len = max_props = len(props_blob)
            uniform_keys_len = len(keys_blob)
            props_total = uniform_len * n
        else:
            with_keys = self._index is not None
            metas = [_encode_meta(p, with_keys) if p else _EMPTY_META for p in props]
            prop_list = [meta[0] for meta in metas]
            props_lens = list(map(len, prop_list))
            props_blob = b"".join(prop_list)
            codes = [meta[1] for meta in metas]
            key_list = [meta[2] for meta in metas]
            keys_blob = b"".join(key_list)
            c_props_lens = ffi.new("int32_t[]", props_lens)
            if keys_blob:
                c_keys_lens = ffi.new("int32_t[]", list(map(len, key_list)))
            uniform_len = uniform_keys_len = uniform_code = 0
            max_props = max(props_lens)
            props_total = sum(props_lens)
        if max_body > self._max_body or max_props > _MAX_PROPS:
            for m, body, plen in zip(msgs, keep, props_lens or [uniform_len] * n):
                if len(body) > self._max_body or plen > _MAX_PROPS:
                    self._refuse_sizes(m, len(body), plen)
        target = self._targets.get((topic, queue_id))
        if target is None:
            target = self._target(topic, queue_id)
        if self._refusal is not None:
            return self._refused(n)
        now = self._now()
        if tag_codes is not None:
            if len(tag_codes) != n:
                raise MessageIllegalError(f"tag_codes has {len(tag_codes)} entries for {n} messages")
            codes = list(tag_codes)
        elif target.schedule:
            codes = [now + self._schedule_delay(m.properties) for m in msgs]
        c_codes = ffi.new("int64_t[]", codes) if codes else NULL
        ext = type(first) is not Message
        if ext:
            born = host_bytes(first.born_host) if first.born_host else None  # type: ignore[attr-defined]
            sys_flag = first.sys_flag  # type: ignore[attr-defined]
            born_ts = first.born_timestamp or now  # type: ignore[attr-defined]
        else:
            born = None
            sys_flag = 0
            born_ts = now
        if refs is None:  # gathered in the interpreter: bodies joined, lengths and flags as arrays
            blob = b"".join(keep)
            c_body_lens = ffi.new("int32_t[]", list(map(len, keep)))
            flags = [m.flag for m in msgs]
            c_flags = ffi.new("int32_t[]", flags) if any(flags) else NULL
            refs = NULL
        else:
            blob = c_body_lens = c_flags = NULL
        if n > self._phys_cap:
            self._phys_cap = n
            self._phys = ffi.new("int64_t[]", n)
        self._acquire()
        try:
            if not self._open:
                raise StoreClosedError("the store is closed")
            phys_out = self._phys
            rc = _put_batch(self._cl, target.ptr, n, blob, c_body_lens, refs,
                            props_blob or NULL, c_props_lens, c_flags, c_codes,
                            keys_blob or NULL, c_keys_lens, sys_flag, born_ts,
                            born or NULL, len(born) if born else 0, now, uniform_len,
                            uniform_code, uniform_keys_len, phys_out)
            if rc >= 0:
                offsets = _offsets(phys_out, n)
                queue_offset = self._cl.last_queue_offset
        finally:
            self._release()
        if rc < 0:
            return self._put_failed(rc, topic, n)
        per_record = target.overhead + (12 if born is not None and len(born) == 20 else 0)
        last_end = offsets[-1] + per_record + len(keep[-1]) + (props_lens[-1] if props_lens else uniform_len)
        status = _PUT_OK
        if self._sync and wait_for_flush and not self._flusher.wait_durable(last_end, self._sync_timeout_s):
            status = PutStatus.FLUSH_DISK_TIMEOUT
        if self._listeners and (not ext or (sys_flag & _TX_MASK) in _DISPATCHED_TX):
            self._notify(topic, queue_id, queue_offset + n - 1)
        wrote = per_record * n + body_total + props_total
        return _new_put_result(PutResult, (status, offsets[0], queue_offset, wrote, now, self._store_host, n, offsets, None, last_end))

    def put_batch_encoded(
        self,
        topic: str,
        body: bytes | bytearray | memoryview,
        queue_id: int,
        *,
        born_timestamp: int | None = None,
        born_host: Host | None = None,
        sys_flag: int = 0,
        require_uniq_key: bool = True,
        wait_for_flush: bool = True,
    ) -> PutResult:
        """Store a SEND_BATCH request body as it came off the wire, without decoding it.

        ``body`` is RocketMQ's batch encoding (reference section 4, "SEND_BATCH body":
        per message ``int TOTALSIZE | int MAGIC | int BODYCRC | int FLAG | int bodyLen |
        body | short propLen | props``). Each record keeps its inner message's flag, body
        and property bytes as sent (the stored records use each inner message's own
        properties, section 4); its tag code is the Java hash of its TAGS and its
        UNIQ_KEY/KEYS are indexed, exactly as ``put_batch`` of the decoded messages would.
        ``born_timestamp`` (default: now), ``born_host`` (default: the store host) and
        ``sys_flag`` are the batch's, from the request header and channel.

        With ``require_uniq_key`` an inner message lacking UNIQ_KEY raises
        MissingUniqKeyError before anything is visible, so a broker can fall back to
        decoding the batch and adding the keys. Malformed bodies raise
        MessageIllegalError; SCHEDULE_TOPIC_XXXX needs ``put_batch`` (deliver-time tag
        codes come from each message's DELAY level). All or nothing, like ``put_batch``;
        SYNC_FLUSH and ``wait_for_flush`` as ``put_batch``.
        """
        target = self._targets.get((topic, queue_id))
        if target is None:
            target = self._target(topic, queue_id)
        if target.schedule:
            raise MessageIllegalError(f"put_batch_encoded cannot store to {topic!r}: use put_batch (delay tag codes)")
        if self._refusal is not None:
            return self._refused()
        size = len(body)
        if size > self._max_body:
            raise MessageTooLargeError(
                f"batch body is {size} bytes, over max_message_size={self._max_body} (topic {topic!r})"
            )
        wire = body if type(body) is bytes else _from_buffer(body)
        now = self._now()
        born = host_bytes(born_host) if born_host else None
        need = size // 22 + 1  # the smallest inner record is 22 bytes
        if need > self._phys_cap:
            self._phys_cap = need
            self._phys = ffi.new("int64_t[]", need)
        self._acquire()
        try:
            if not self._open:
                raise StoreClosedError("the store is closed")
            phys = self._phys
            n = _put_batch_encoded(self._cl, target.ptr, wire, size, sys_flag, born_timestamp or now,
                                   born if born else NULL, len(born) if born else 0, now, require_uniq_key,
                                   phys, self._phys_cap, self._batch_bytes)
            if n > 0:
                offsets = _offsets(phys, n)
                queue_offset = self._cl.last_queue_offset
                end = self._cl.write_pos
                wrote = self._batch_bytes[0]
        finally:
            self._release()
        if n < 0:
            return self._batch_failed(n, topic)
        status = _PUT_OK
        if self._sync and wait_for_flush and not self._flusher.wait_durable(end, self._sync_timeout_s):
            status = PutStatus.FLUSH_DISK_TIMEOUT
        if self._listeners and (sys_flag & _TX_MASK) in _DISPATCHED_TX:
            self._notify(topic, queue_id, queue_offset + n - 1)
        return _new_put_result(PutResult, (status, offsets[0], queue_offset, wrote, now, self._store_host, n, offsets, None, end))

    def _batch_failed(self, rc: int, topic: str) -> PutResult:
        if rc == lib.RMQ_E_NO_UNIQ_KEY:
            raise MissingUniqKeyError(f"an inner message of the batch to {topic!r} has no UNIQ_KEY")
        if rc == lib.RMQ_E_BAD_BATCH:
            raise MessageIllegalError(f"malformed batch body for {topic!r}: record lengths do not add up (or empty)")
        if rc == lib.RMQ_E_PROPS_TOO_LARGE:
            raise PropertiesTooLargeError(f"an inner message of the batch to {topic!r} has properties over 32767 bytes")
        if rc == lib.RMQ_E_BATCH_TOO_MANY:  # cannot happen: capacity is body size / smallest record
            raise MessageIllegalError(f"batch to {topic!r} has more records than expected")
        return self._put_failed(rc, topic)

    def _schedule_delay(self, props: dict[str, str]) -> int:
        levels = self.config.delay_levels_ms
        try:
            level = min(int(props.get(C.PROPERTY_DELAY_TIME_LEVEL, "0") or 0), len(levels))
        except ValueError:
            level = 0
        return levels[level - 1] if level >= 1 else 1000

    def _target(self, topic: str, queue_id: int) -> _PutTarget:
        if not isinstance(topic, str) or not topic:
            raise MessageIllegalError("the topic is empty; every message needs a topic")
        raw_len = len(topic.encode("utf-8"))
        if raw_len > C.MAX_TOPIC_LENGTH:
            raise MessageIllegalError(
                f"topic is {raw_len} bytes in UTF-8; the stored format allows at most {C.MAX_TOPIC_LENGTH}"
            )
        if not isinstance(queue_id, int) or queue_id < 0:
            raise MessageIllegalError(f"queue_id must be a non-negative int, got {queue_id!r}")
        with self._lock:
            if not self._open:
                raise StoreClosedError("the store is closed")
            cq = self._queues.get((topic, queue_id))
            if cq is None:
                cq = self._create_queue(topic, queue_id)
            target = _PutTarget(cq, self._store_host_len)
            self._targets[(topic, queue_id)] = target
        return target

    def _create_queue(self, topic: str, queue_id: int) -> ConsumeQueue:
        cq = ConsumeQueue(self.path, topic, queue_id, self.config, create=True)
        self._queues[(topic, queue_id)] = cq
        return cq

    def _refuse_sizes(self, msg: Message, blen: int, plen: int) -> None:
        if blen > self._max_body:
            raise MessageTooLargeError(
                f"message body is {blen} bytes, over max_message_size={self._max_body} (topic {msg.topic!r}); "
                "split it or raise max_message_size"
            )
        if plen > _MAX_PROPS:
            raise PropertiesTooLargeError(
                f"encoded properties are {plen} bytes, over the {_MAX_PROPS}-byte limit of the stored format "
                f"(topic {msg.topic!r}); store large values in the body"
            )

    def _refuse_encoded_sizes(self, topic: str, blen: int, plen: int) -> None:
        if blen > self._max_body:
            raise MessageTooLargeError(
                f"message body is {blen} bytes, over max_message_size={self._max_body} (topic {topic!r}); "
                "split it or raise max_message_size"
            )
        raise PropertiesTooLargeError(
            f"encoded properties are {plen} bytes, over the {_MAX_PROPS}-byte limit of the stored format "
            f"(topic {topic!r}); store large values in the body"
        )

    def _refused(self, n: int = 1) -> PutResult:
        return PutResult(PutStatus.DISK_FULL, -1, 0, 0, 0, self._store_host, n, None, self._refusal)

    def _put_failed(self, rc: int, topic: str, n: int = 1) -> PutResult:
        return _put_failed(rc, topic, self._store_host, n)

    def wait_warm(self) -> None:
        """Block until the warm-ahead window past the write position is prefaulted
        (benchmarks and tests; puts never need to wait for it)."""
        if self._open:
            lib.rmq_commitlog_warm_wait(self._cl)

    # -- dispatch listeners -------------------------------------------------------------------
    def add_dispatch_listener(self, listener: DispatchListener) -> None:
        """Call ``listener(topic, queue_id, queue_offset)`` after every dispatched put."""
        self._set_listeners([*self._listeners, listener])

    def remove_dispatch_listener(self, listener: DispatchListener) -> None:
        self._set_listeners([f for f in self._listeners if f is not listener])

    def _set_listeners(self, listeners: list[DispatchListener]) -> None:
        """A new list each time (a put iterating the old one is not disturbed), which the C
        put path is given too."""
        self._listeners = listeners
        if self._put_path is not None:
            self._put_path.listeners = listeners

    def _notify(self, topic: str, queue_id: int, queue_offset: int) -> None:
        _notify_listeners(self._listeners, topic, queue_id, queue_offset)

    # -- reads ------------------------------------------------------------------------------
    def get_raw(
        self,
        topic: str,
        queue_id: int,
        offset: int,
        max_count: int = 32,
        tag_codes: Iterable[int] | None = None,
        max_bytes: int | None = None,
    ) -> GetResult:
        """Records from logical ``offset`` on, as stored, concatenated (a PULL body).

        ``tag_codes``: only entries whose CQ tag code is in it (None or empty: all). A
        frozenset (a subscription's codes) is turned into a C array once and kept.
        ``max_bytes``: stop before exceeding it (the first record is always returned).
        Status and next offset follow reference section 3, "Pull status".
        """
        if max_count < 1:
            raise ValueError(f"max_count must be at least 1, got {max_count}")
        if tag_codes:
            tags = self._tag_arrays.get(tag_codes) if type(tag_codes) is frozenset else None
            if tags is None:
                tags = self._tag_array(tag_codes)
            c_codes, ntags = tags
        else:
            c_codes = NULL
            ntags = 0
        limit = max_bytes if max_bytes is not None and max_bytes > 0 else self._scratch_cap
        self._acquire()
        try:
            if not self._open:
                raise StoreClosedError("the store is closed")
            cq = self._queues.get((topic, queue_id))
            if cq is None:
                return _new_get_result(GetResult, (_NO_LOGIC_QUEUE, 0, 0, 0, b"", 0))
            ptr = cq.ptr
            lo = ptr.min_logical
            hi = ptr.max_logical
            if offset >= lo and offset < hi:
                res = self._get_res
                count = _get(self._cl, ptr, offset, max_count, limit, c_codes, ntags, self._scratch, self._scratch_cap, res)
                if count < 0:
                    check(count, "get")
                raw = _unpack(self._scratch, res.bytes)
                next_offset = res.next_offset
            elif hi == 0:
                return _new_get_result(GetResult, (_NO_MESSAGE_IN_QUEUE, 0, lo, hi, b"", 0))
            elif offset < lo:
                return _new_get_result(GetResult, (_OFFSET_TOO_SMALL, lo, lo, hi, b"", 0))
            elif offset == hi:
                return _new_get_result(GetResult, (_OFFSET_OVERFLOW_ONE, offset, lo, hi, b"", 0))
            else:
                return _new_get_result(GetResult, (_OFFSET_OVERFLOW_BADLY, hi, lo, hi, b"", 0))
        finally:
            self._release()
        return _new_get_result(GetResult, (_GET_FOUND if count > 0 else _NO_MATCHED_MESSAGE, next_offset, lo, hi, raw, count))

    def _tag_array(self, tag_codes: Iterable[int]) -> tuple[object, int]:
        """(int64_t[] of the codes, how many): kept per frozenset, built per call otherwise."""
        codes = list(tag_codes)
        tags = (ffi.new("int64_t[]", codes), len(codes))
        if type(tag_codes) is frozenset:
            if len(self._tag_arrays) >= _TAG_ARRAYS_MAX:
                self._tag_arrays.clear()
            self._tag_arrays[tag_codes] = tags
        return tags

    def get(
        self,
        topic: str,
        queue_id: int,
        offset: int,
        max_count: int = 32,
        tag_codes: Iterable[int] | None = None,
        max_bytes: int | None = None,
    ) -> GetResult:
        """Like :meth:`get_raw`; ``messages`` (bodies as stored) are decoded on first access.

        Decoding costs several times the read (~0.4 us a record with the C decoder, ~2 us
        without, against ~0.02 us), and a caller that only forwards ``raw`` or counts never
        pays it. Nothing is lost by
        deferring: decoding stops quietly at a record it cannot read either way
        (``iter_stored_messages``, like MessageDecoder.decodesBatch).
        """
        return self.get_raw(topic, queue_id, offset, max_count, tag_codes, max_bytes)

    def look_message(self, commitlog_offset: int) -> MessageExt | None:
        """The message stored at ``commitlog_offset``, or None if no record starts there."""
        raw = self.look_message_raw(commitlog_offset)
        return decode_stored_message(raw, decompress=False)[0] if raw is not None else None

    def look_message_raw(self, commitlog_offset: int) -> bytes | None:
        with self._lock:
            if not self._open:
                raise StoreClosedError("the store is closed")
            if commitlog_offset < self._commitlog.min_offset:
                return None
            return self._commitlog.record_bytes(commitlog_offset)

    def query_by_key(
        self,
        topic: str,
        key: str,
        max_count: int = 32,
        begin_ms: int = 0,
        end_ms: int = 2**63 - 1,
    ) -> QueryResult:
        """Messages of ``topic`` whose UNIQ_KEY or a KEYS token is ``key``, stored within
        [begin_ms, end_ms]; at most ``max_count``, in CommitLog order."""
        if self._index is None:
            return QueryResult([], b"", 0, 0)
        max_count = max(0, min(max_count, 64))  # IndexService.queryOffset: min(maxNum, maxMsgsNumBatch=64)
        with self._lock:
            if not self._open:
                raise StoreClosedError("the store is closed")
            # ask for more than max_count: hash collisions are filtered out below
            offsets = self._index.query(topic, key, max_count * 2 + 8, begin_ms, end_ms)
            last_ts, last_phys = self._index.last_update()
            records = [(o, self._commitlog.record_bytes(o)) for o in sorted(set(offsets))]
        found: list[tuple[int, MessageExt, bytes]] = []
        for o, raw in records:
            if raw is None:
                continue
            msg = decode_stored_message(raw, decompress=False)[0]
            if msg.topic != topic or not (begin_ms <= msg.store_timestamp <= end_ms):
                continue
            if key != msg.properties.get(_UNIQ) and key not in msg.keys:
                continue
            found.append((o, msg, raw))
        if len(found) > max_count:
            found = found[-max_count:]  # the newest, as the index walk returns them first
        return QueryResult([m for _, m, _ in found], b"".join(r for _, _, r in found), last_ts, last_phys)

    def max_offset(self, topic: str, queue_id: int) -> int:
        """Next queue offset to be assigned (0 for an unknown queue)."""
        with self._lock:  # close() frees the queues: never read one it may be freeing
            cq = self._queues.get((topic, queue_id))
            return cq.ptr.max_logical if cq is not None and self._open else 0

    def min_offset(self, topic: str, queue_id: int) -> int:
        """First queue offset still stored (0 for an unknown queue)."""
        with self._lock:
            cq = self._queues.get((topic, queue_id))
            return cq.ptr.min_logical if cq is not None and self._open else 0

    def offset_by_time(self, topic: str, queue_id: int, ts_ms: int, *, upper: bool = False) -> int:
        """The queue offset for a store time, as RocketMQ 5.x's
        ``getOffsetInQueueByTime(timestamp, boundaryType)`` answers (clamped to [min, max]).

        LOWER (default): the first offset stored at or after ``ts_ms`` -- among messages
        stored exactly then, the first; the max offset if all are older.
        ``upper=True`` (UPPER): the last offset stored at or before ``ts_ms`` -- among
        messages stored exactly then, the last; the min offset if all are newer.
        An unknown queue answers 0, an empty one its max (= min) offset.
        """
        with self._lock:
            cq = self._queues.get((topic, queue_id))
            if cq is None or not self._open:
                return 0
            return lib.rmq_cq_offset_by_time(self._cl, cq.ptr, ts_ms, 1 if upper else 0)

    def queue_keys(self) -> list[tuple[str, int]]:
        """(topic, queue_id) of every ConsumeQueue in the store."""
        return sorted(self._queues)

    @property
    def max_phy_offset(self) -> int:
        """CommitLog write position (end of the last record)."""
        return self._cl.write_pos if self._open else 0

    @property
    def min_phy_offset(self) -> int:
        return self._commitlog.min_offset if self._open else 0

    @property
    def flushed_offset(self) -> int:
        """CommitLog bytes below this offset have been msync'ed."""
        return self._flusher.flushed_offset

    def wait_flushed(self, end: int, timeout_s: float) -> int:
        """Block until ``flushed_offset >= end``, ``timeout_s`` passes or the store closes;
        return ``flushed_offset`` then (the caller compares it with ``end``).

        What a put waits for under SYNC_FLUSH, for a caller that put with
        ``wait_for_flush=False``: it asks the group-commit thread for a sync, which covers
        everything written by then, so one thread waiting for the highest end of many puts
        learns of all of them. Under ASYNC_FLUSH it flushes on the calling thread. The GIL
        is released while waiting. Raises StoreIOError when the msync failed.
        """
        if self._open:
            self._flusher.wait_durable(end, timeout_s)
        return self._flusher.flushed_offset

    @property
    def sync_count(self) -> int:
        """How many msyncs of the CommitLog ran (group commit shares them)."""
        return self._flusher.sync_count

    # -- flush, checkpoint ---------------------------------------------------------------------
    def flush(self) -> None:
        """Make everything stored so far durable: CommitLog, ConsumeQueues, index, checkpoint."""
        if not self._open:
            raise StoreClosedError("the store is closed")
        self._flusher.flush_all()
        self._flush_logics()

    def _flush_logics(self) -> None:
        """Sync the ConsumeQueues and the index, then record in the checkpoint what that covered.

        Only the snapshot (write position, queue ends, index state: counters, no I/O) is taken
        under the store lock. The msyncs and the checkpoint's fdatasync run after releasing it,
        under ``_logics_lock`` (which retention and close also take before unmapping files), so
        puts and reads never wait for a disk here. Queues with no entry since their last sync
        are skipped; a queue that had some is synced from where its last sync ended.
        """
        with self._logics_lock:
            with self._lock:
                if not self._open:
                    return
                snapshot = self._logics_snapshot()
            self._sync_logics(snapshot, final=False)

    def _flush_logics_unlocked(self, final: bool) -> None:
        """close(): no put runs any more; the caller holds ``_logics_lock``."""
        self._sync_logics(self._logics_snapshot(), final)

    def _logics_snapshot(self) -> _LogicsSnapshot:
        """What the next logics sync covers; under the store lock (or with no put possible)."""
        synced = self._cq_synced
        dirty = []
        for key, cq in self._queues.items():
            end = cq.ptr.max_logical
            done = synced.get(key)
            if done != end:
                dirty.append((key, cq, done, end))
        index_state = None
        if self._index is not None:
            ptr = self._index.ptr
            n = ptr.count
            state = (n, lib.rmq_index_count(ptr, n - 1) if n else 0)  # every insert bumps the count
            if state != self._index_synced:
                index_state = state
        return _LogicsSnapshot(self._cl.write_pos, self._cl.last_store_ts, dirty, index_state)

    def _sync_logics(self, snapshot: _LogicsSnapshot, final: bool) -> None:
        """Outside the store lock, holding ``_logics_lock``: syncs first, then the checkpoint,
        so the checkpoint never claims more than is durable."""
        queues = snapshot.queues
        if len(queues) > 2:
            # one msync costs a device flush, which under write load waits for whatever else is
            # being written back: overlap them (the 160-queue profile: ~0.9 s in a row, ~0.13 s)
            pool = self._sync_pool
            if pool is None:
                pool = self._sync_pool = ThreadPoolExecutor(_SYNC_THREADS, thread_name_prefix="rmqcore-store-sync")
            pending = [(key, end, pool.submit(self._sync_consume_queue, cq, done, end)) for key, cq, done, end in queues]
        else:
            pending = []
            for key, cq, done, end in queues:
                self._sync_consume_queue(cq, done, end)
                self._cq_synced[key] = end
        failed: BaseException | None = None
        if snapshot.index_state is not None:
            try:
                self._sync_index()
                self._index_synced = snapshot.index_state
            except Exception as exc:  # still wait for the queue syncs below before raising
                failed = exc
        for key, end, future in pending:
            try:
                future.result()
                self._cq_synced[key] = end
            except Exception as exc:
                failed = failed or exc
        if failed is not None:
            raise failed  # no checkpoint: it must not claim what was not synced
        flushed = self._flusher.flushed_offset  # read after the syncs, as it only grows
        confirm = min(snapshot.write_pos, flushed)
        prev = self._checkpoint.values
        last_ts = snapshot.last_store_ts
        values = CheckpointValues(
            physic_msg_timestamp=max(last_ts, prev.physic_msg_timestamp),
            logics_msg_timestamp=max(last_ts, prev.logics_msg_timestamp),
            index_msg_timestamp=max(last_ts, prev.index_msg_timestamp),
            master_flushed_offset=flushed,
            confirm_phy_offset=max(confirm, prev.confirm_phy_offset) if not final else confirm,
        )
        if final or values != prev:  # nothing new: no write, no fdatasync
            self._checkpoint.write(values)

    def _sync_consume_queue(self, cq: ConsumeQueue, done: int | None, end: int) -> None:
        """msync entries [done, end) of ``cq``; all of it when ``done`` is None (its first sync
        since open: recovery may have rewritten any part). Segments only get appended while
        this runs without the store lock (mapped_file.h); retention waits for ``_logics_lock``."""
        if done is None:
            rc = lib.rmq_cq_sync(cq.ptr)
        else:
            rc = lib.rmq_mfq_sync(cq.ptr.q, done * CQ_UNIT_SIZE, end * CQ_UNIT_SIZE)
        check(rc, f"msync consume queue {cq.topic}/{cq.queue_id}")

    def _sync_index(self) -> None:
        """fdatasync every index file. Not ``rmq_index_sync``: it walks the C list of files,
        which a put may grow (realloc) when the index rolls, and this runs without the store
        lock. On Linux fdatasync writes back pages dirtied through a shared mapping exactly as
        msync(MS_SYNC) of the whole file does; unchanged (full) files cost next to nothing."""
        assert self._index is not None
        index_dir = self._index.dir
        for name in sorted(os.listdir(index_dir)):
            if not _INDEX_FILE_NAME.match(name):
                continue
            try:
                fd = os.open(index_dir / name, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
            except FileNotFoundError:
                continue
            try:
                os.fdatasync(fd)
            except OSError as exc:
                raise StoreIOError(exc.errno or 5, f"fdatasync index file {name}: {exc.strerror}") from exc
            finally:
                os.close(fd)

    # -- disk and retention --------------------------------------------------------------------
    def check_disk(self) -> float:
        """Re-read disk usage; puts are refused while it is above disk_max_used_space_ratio."""
        used = self.retention.disk_used_percent(str(self.path))
        if self.retention.disk_full(used):
            if self._refusal is None:
                log.error("store.disk_full", used_percent=round(used, 1), limit=self.config.disk_max_used_space_ratio)
            self._refusal = (
                f"disk holding {self.path} is {used:.1f}% used, above disk_max_used_space_ratio="
                f"{self.config.disk_max_used_space_ratio}%; puts are refused until space is freed"
            )
        else:
            if self._refusal is not None:
                log.info("store.disk_ok", used_percent=round(used, 1))
            self._refusal = None
        self._update_put_path()
        return used

    def run_retention(self, *, force: bool = False) -> RetentionReport:
        """Delete expired CommitLog files (and the ConsumeQueue/index files they cover).

        Runs RetentionPolicy's rules with the store's clock and disk probe; ``force``
        deletes expired files whatever the hour (RocketMQ's manual delete).
        """
        policy = self.retention
        used = self.check_disk()
        report = RetentionReport(disk_used_percent=used, disk_full=self._refusal is not None)
        now = self.clock.now_ms()
        over = used > self.config.disk_max_used_space_ratio
        if not (force or over or policy.is_delete_time(now)):
            report.reason = "not delete time"
            report.min_commitlog_offset = self.min_phy_offset
            return report
        report.reason = "forced" if force else ("disk over ratio" if over else "delete time")
        forcibly = policy.clean_forcibly(used)
        with self._logics_lock, self._lock, self._flusher.sync_lock:
            if not self._open:
                raise StoreClosedError("the store is closed")
            q = self._cl.q
            while q.count > 1 and len(report.deleted_commitlog_files) < self.config.delete_file_batch_max:
                next_start = getattr(q.segs[1], "from")
                first_ts = lib.rmq_record_store_ts(self._cl, next_start)
                if first_ts < 0:
                    break  # the next file has no record yet: the first file is still the last written
                if not (policy.expired(first_ts, now) or forcibly):
                    break
                start = getattr(q.segs[0], "from")
                check(lib.rmq_mfq_drop_first(q), f"delete commitlog file {start:020d}")
                report.deleted_commitlog_files.append(start)
            cl_min = self._commitlog.min_offset
            if report.deleted_commitlog_files:
                for cq in self._queues.values():
                    report.deleted_consume_queue_files += lib.rmq_cq_correct_min(cq.ptr, cl_min)
                if self._index is not None:
                    report.deleted_index_files = self._index.drop_files_before(cl_min)
                    self._index_synced = None  # (files, newest entries) may repeat after a drop
            report.min_commitlog_offset = cl_min
        if report.deleted_commitlog_files:
            log.info(
                "store.retention_deleted",
                commitlog_files=len(report.deleted_commitlog_files),
                consume_queue_files=report.deleted_consume_queue_files,
                index_files=report.deleted_index_files,
                min_commitlog_offset=cl_min,
                reason=report.reason,
            )
        return report
