"""Message store benchmarks, measured side by side in one run.

* append: single ``put`` and ``put_batch`` of 64, 128-byte and 1 KiB bodies,
  ``put_batch_encoded`` of the same batches as a SEND_BATCH body (what a broker receives),
  and single ``put_encoded`` of each message's encoded property string (a broker's send);
* ``test_append_warmed``: the same 1 KiB batches into a store whose pages were all
  prefaulted before timing (the store's own cost, apart from page provisioning);
* the ceiling: a C loop memcpy-ing the stored records of the round's messages (the same
  4,096 distinct records a store round appends) into an mmap'ed file
  (``baseline/memcpy_mmap.c``, compiled with cffi into a temporary directory), once
  into pages never touched before and once into a prefaulted ring. The target (a 1 KiB
  put_batch at half the ceiling's MB/s) is checked like for like: test_append against
  the first-touch copy, test_append_warmed against the prefaulted ring;
* peers: queuelib's FifoDiskQueue, persist-queue's file Queue and diskcache's Deque
  (skipped when not installed: ``pip install queuelib persist-queue diskcache``);
* read: ``get_raw`` and ``get`` of 32, and a ConsumeQueue tag-filtered scan;
* SYNC_FLUSH with 1, 8 and 64 writer threads (group commit: 8 writers should at least
  match one writer's rate, 64 writers reach 8 times it).

Run with ``pytest benchmarks/test_store_bench.py --benchmark-only``; ``conftest.py``
prints messages/s, MB/s and every ratio against its target after the table. MB/s
counts stored record bytes (header, body, topic and properties) for the store and the
baseline, and body bytes for the peers (which store less per message).
"""

from __future__ import annotations

import importlib.util
import itertools
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from rmqcore.message import Message, MessageExt, encode_batch_body, encode_properties, encode_stored_message, tags_code
from rmqcore.store import MessageStore, StoreConfig
from rmqcore.store.commitlog import host_bytes

TOPIC = "BenchTopic"
TAG = "TagA"
SIZES = (128, 1024)
BATCH = 64
# Messages one timed round appends: enough that a round takes milliseconds (timer noise
# is negligible) and few enough that the whole file stays well under a second.
ROUND_MESSAGES = 4096
ROUNDS = 15
WARMUP_ROUNDS = 2
# CommitLog file size: the 1 KiB append benchmarks (~78 MB) roll once, so a roll and the
# store's preparation of the next file are part of what is measured.
SEGMENT_SIZE = 64 * 1024 * 1024

BASELINE_DIR = Path(__file__).parent / "baseline"


def make_messages(size: int, count: int, tags: Iterator[str] | None = None) -> list[Message]:
    """Messages as a producer would send them: same topic, a tag, a body of ``size`` bytes."""
    tag_iter = tags if tags is not None else itertools.repeat(TAG)
    return [Message(TOPIC, (b"%08d" % i).ljust(size, b"x"), tags=next(tag_iter)) for i in range(count)]


def stored_record(msg: Message) -> bytes:
    """The bytes the store writes for ``msg`` (section 4 layout), for the baseline to copy."""
    ext = MessageExt(msg.topic, msg.body, flag=msg.flag, properties=msg.properties)
    return encode_stored_message(ext)


# --- the store --------------------------------------------------------------------------------


@pytest.fixture
def open_store(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Opens stores under this test's temporary directory and closes them afterwards."""
    opened: list[Any] = []

    def _open(name: str = "store", **config: Any) -> Any:
        config.setdefault("mapped_file_size_commit_log", SEGMENT_SIZE)
        store = MessageStore.open(tmp_path / name, StoreConfig(**config))
        opened.append(store)
        return store

    yield _open
    for store in opened:
        store.close()


def round_info(benchmark: Any, messages: int, record_bytes: int, **extra: Any) -> None:
    benchmark.extra_info.update(messages=messages, bytes=messages * record_bytes, **extra)


def append_rounds(store: Any, mode: str, size: int) -> tuple[Callable[[], None], Iterator[int], list[Message]]:
    """One timed round of ``mode`` (ROUND_MESSAGES messages of ``size`` bytes), the
    counter it advances, and the messages it appends."""
    messages = make_messages(size, ROUND_MESSAGES)
    rounds_run = itertools.count()
    if mode == "put":
        put = store.put

        def append_round() -> None:
            next(rounds_run)
            for msg in messages:
                put(msg, 0)

    elif mode == "put_encoded":
        # single messages as a broker's send has them: the wire's property string (UNIQ_KEY,
        # CLUSTER added), the connection's born host packed once
        for i, msg in enumerate(messages):
            msg.properties["UNIQ_KEY"] = "%032X" % i
            msg.properties["CLUSTER"] = "DefaultCluster"
        encoded = [(msg.body, encode_properties(msg.properties).encode()) for msg in messages]
        born = host_bytes(("127.0.0.1", 40000))
        put_encoded_one = store.put_encoded

        def append_round() -> None:
            next(rounds_run)
            for body, props in encoded:
                put_encoded_one(TOPIC, 0, body, props, born_timestamp=1_700_000_000_000, born_host=born)

    elif mode == "put_batch_encoded":
        for i, msg in enumerate(messages):  # a producer's batch carries a UNIQ_KEY per message
            msg.properties["UNIQ_KEY"] = "%032X" % i
        bodies = [encode_batch_body(messages[i : i + BATCH]) for i in range(0, ROUND_MESSAGES, BATCH)]
        put_encoded = store.put_batch_encoded

        def append_round() -> None:
            next(rounds_run)
            for body in bodies:
                put_encoded(TOPIC, body, 0)

    else:
        batches = [messages[i : i + BATCH] for i in range(0, ROUND_MESSAGES, BATCH)]
        put_batch = store.put_batch

        def append_round() -> None:
            next(rounds_run)
            for batch in batches:
                put_batch(batch, 0)

    return append_round, rounds_run, messages


def check_appended(store: Any, rounds_run: Iterator[int], messages: list[Message]) -> None:
    """What was written is what is served (outside the timed part)."""
    written = ROUND_MESSAGES * next(rounds_run)
    assert store.max_offset(TOPIC, 0) == written
    got = store.get(TOPIC, 0, written - 1, max_count=1)
    assert [m.body for m in got.messages] == [messages[-1].body]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("mode", ["put", "put_encoded", "put_batch", "put_batch_encoded"])
def test_append(benchmark: Any, open_store: Callable[..., Any], mode: str, size: int) -> None:
    store = open_store()
    append_round, rounds_run, messages = append_rounds(store, mode, size)
    record_size = len(stored_record(messages[0]))
    # Targets: put_batch of 1 KiB at half the memcpy ceiling; 128-byte put above queuelib and
    # put_batch 5x above it; 50x persist-queue and diskcache. Other ratios are reported only.
    # The half-of-memcpy target is checked like for like: this store writes pages it has not
    # touched before, as the "first-touch" baseline does; test_append_warmed compares a
    # prefaulted store with the prefaulted ring. The cross ratio (this row against the
    # prefaulted ring) is reported too.
    per_call = 1 if mode in ("put", "put_encoded") else BATCH
    baseline_target = 0.5 if per_call == BATCH and size == 1024 else None  # the issue sets it for batches
    targets: list[list[Any]] = [[f"test_memcpy_mmap_baseline[{size}-{per_call}-prefaulted]", None, "MB/s"]]
    if per_call != 1:
        targets.append([f"test_memcpy_mmap_baseline[{size}-{BATCH}-first-touch]", baseline_target, "MB/s"])
    if size == 128 and mode in ("put", "put_batch"):
        targets += [
            ["test_peer_put[queuelib-128]", 5.0 if mode == "put_batch" else 1.0, "msgs/s"],
            ["test_peer_put[persist-queue-128]", 50.0, "msgs/s"],
            ["test_peer_put[diskcache-128]", 50.0, "msgs/s"],
        ]
    round_info(benchmark, ROUND_MESSAGES, record_size, record_size=record_size, targets=targets)
    benchmark.pedantic(append_round, rounds=ROUNDS, warmup_rounds=WARMUP_ROUNDS, iterations=1)
    check_appended(store, rounds_run, messages)


# More than twice what all rounds of one benchmark append (~88 MB of 1 KiB records): the
# warm-ahead thread, asked again only at half the window, stays idle while rounds run.
WARMED_WINDOW = 192 * 1024 * 1024


@pytest.mark.parametrize("size", [1024])
@pytest.mark.parametrize("mode", ["put_batch", "put_batch_encoded"])
def test_append_warmed(benchmark: Any, open_store: Callable[..., Any], mode: str, size: int) -> None:
    """The 1 KiB batch append into a store whose pages are all prefaulted before timing (a
    window covering every round, ``wait_warm()`` after a first batch created the queue and
    index files), against the "prefaulted" memcpy ring: the half-of-memcpy target with no
    page provisioning on either side. On a VM whose first touch of a guest page costs
    microseconds, test_append's rounds mostly measure how fast pages are provisioned;
    this row measures the store's own cost per record."""
    store = open_store(mapped_file_size_commit_log=256 * 1024 * 1024, warm_ahead_window=WARMED_WINDOW)
    append_round, rounds_run, messages = append_rounds(store, mode, size)
    record_size = len(stored_record(messages[0]))
    append_round()  # creates the ConsumeQueue and the index file, whose tables the thread then warms
    store.wait_warm()
    targets = [
        [f"test_memcpy_mmap_baseline[1024-{BATCH}-prefaulted]", 0.5, "MB/s"],
        [f"test_append[{mode}-{size}]", None, "MB/s"],
    ]
    round_info(benchmark, ROUND_MESSAGES, record_size, record_size=record_size, targets=targets)
    benchmark.pedantic(append_round, rounds=ROUNDS, warmup_rounds=WARMUP_ROUNDS, iterations=1)
    check_appended(store, rounds_run, messages)


# --- the memcpy ceiling -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def memcpy_baseline(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """``baseline/memcpy_mmap.c`` compiled with cffi (API mode) into a temporary directory."""
    cffi = pytest.importorskip("cffi")
    build_dir = tmp_path_factory.mktemp("memcpy_baseline")
    ffibuilder = cffi.FFI()
    ffibuilder.cdef((BASELINE_DIR / "memcpy_mmap.h").read_text())
    ffibuilder.set_source(
        "_memcpy_mmap",
        '#include "memcpy_mmap.h"',
        sources=[str(BASELINE_DIR / "memcpy_mmap.c")],
        include_dirs=[str(BASELINE_DIR)],
        extra_compile_args=["-O2"],
    )
    library_path = ffibuilder.compile(tmpdir=str(build_dir))
    spec = importlib.util.spec_from_file_location("_memcpy_mmap", library_path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("size", "batch", "pages"),
    [(size, batch, "prefaulted") for size in SIZES for batch in (1, BATCH)]
    + [(size, BATCH, "first-touch") for size in SIZES],
)
def test_memcpy_mmap_baseline(
    benchmark: Any, memcpy_baseline: Any, tmp_path: Path, size: int, batch: int, pages: str
) -> None:
    """The ceiling. "prefaulted": a ring over a file whose pages were all touched before
    timing. "first-touch": a file large enough for every round, so each timed round copies
    into pages never touched before, as an append-only log does unless it warms its files."""
    ffi, lib = memcpy_baseline.ffi, memcpy_baseline.lib
    # The records a store round appends: ROUND_MESSAGES distinct ones (4 MB at 1 KiB), read
    # from memory as the store reads its bodies, not the same few over and over from L1/L2.
    messages = make_messages(size, ROUND_MESSAGES)
    records = [stored_record(m) for m in messages]
    record_size = len(records[0])
    source = ffi.from_buffer("uint8_t[]", b"".join(records))
    region = ffi.new("mm_region *")
    file_size = SEGMENT_SIZE if pages == "prefaulted" else ROUND_MESSAGES * record_size * (ROUNDS + WARMUP_ROUNDS)
    assert lib.mm_open(region, str(tmp_path / "baseline.mmap").encode(), file_size, pages == "prefaulted") == 0
    copy = lib.mm_copy_records
    batches = [source + i * record_size for i in range(0, ROUND_MESSAGES, batch)]

    def copy_round() -> None:
        for records_at in batches:
            copy(region, records_at, record_size, batch)

    round_info(benchmark, ROUND_MESSAGES, record_size, record_size=record_size)
    try:
        benchmark.pedantic(copy_round, rounds=ROUNDS, warmup_rounds=WARMUP_ROUNDS, iterations=1)
        # The ring may have wrapped at any record of a batch: the first slot holds one of them.
        assert bytes(ffi.buffer(region.base, record_size)) in records
    finally:
        lib.mm_close(region)


# --- peers: Python disk queues ------------------------------------------------------------------


def _queuelib(path: Path) -> tuple[Callable[[bytes], None], Callable[[], None]]:
    queue = pytest.importorskip("queuelib").FifoDiskQueue(str(path))
    return queue.push, queue.close


def _persist_queue(path: Path) -> tuple[Callable[[bytes], None], Callable[[], None]]:
    # The file-based Queue: the fastest of persist-queue's queues here (SQLiteQueue is slower).
    queue = pytest.importorskip("persistqueue").Queue(str(path))
    return queue.put, lambda: None


def _diskcache(path: Path) -> tuple[Callable[[bytes], None], Callable[[], None]]:
    deque = pytest.importorskip("diskcache").Deque(directory=str(path))
    return deque.append, deque.cache.close


PEERS = {"queuelib": (_queuelib, ROUND_MESSAGES), "persist-queue": (_persist_queue, 256), "diskcache": (_diskcache, 256)}


@pytest.mark.parametrize("size", [128])
@pytest.mark.parametrize("peer", list(PEERS))
def test_peer_put(benchmark: Any, tmp_path: Path, peer: str, size: int) -> None:
    open_peer, round_messages = PEERS[peer]
    push, close = open_peer(tmp_path / peer)
    body = b"x" * size

    def push_round() -> None:
        for _ in range(round_messages):
            push(body)

    # Slow peers push fewer messages per round so that the benchmark stays bounded.
    round_info(benchmark, round_messages, size)
    try:
        benchmark.pedantic(push_round, rounds=ROUNDS, warmup_rounds=1, iterations=1)
    finally:
        close()


# --- reads ----------------------------------------------------------------------------------------

READ_MESSAGES = 32 * 1024
GET_COUNT = 32
TAGS = [f"Tag{c}" for c in "ABCDEFGH"]


def fill(store: Any, messages: list[Message], queue_id: int = 0) -> None:
    for i in range(0, len(messages), BATCH):
        result = store.put_batch(messages[i : i + BATCH], queue_id)
        assert result.ok, result


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("call", ["get_raw", "get"])
def test_read_32(benchmark: Any, open_store: Callable[..., Any], call: str, size: int) -> None:
    """Reads of 32: ``get_raw`` (the stored bytes, as a PULL serves them) and ``get``
    with its ``messages`` read (every record decoded to a MessageExt, as a Python consumer
    of the store needs)."""
    store = open_store()
    messages = make_messages(size, READ_MESSAGES)
    fill(store, messages)
    offsets = itertools.cycle(range(0, READ_MESSAGES, GET_COUNT))
    calls = range(ROUND_MESSAGES // GET_COUNT)
    get_raw, get = store.get_raw, store.get

    if call == "get_raw":

        def read_round() -> None:
            for _ in calls:
                assert get_raw(TOPIC, 0, next(offsets), GET_COUNT).message_count == GET_COUNT

    else:

        def read_round() -> None:
            for _ in calls:
                assert len(get(TOPIC, 0, next(offsets), GET_COUNT).messages) == GET_COUNT

    round_info(benchmark, ROUND_MESSAGES, len(stored_record(messages[0])))
    benchmark.pedantic(read_round, rounds=ROUNDS, warmup_rounds=WARMUP_ROUNDS, iterations=1)
    got = store.get(TOPIC, 0, 5, max_count=1).messages[0]
    assert (got.body, got.tags) == (messages[5].body, messages[5].tags)


def test_tag_filtered_scan(benchmark: Any, open_store: Callable[..., Any]) -> None:
    """get_raw of 32 with a tag filter matching one message in eight: the ConsumeQueue scan."""
    store = open_store()
    messages = make_messages(128, READ_MESSAGES, itertools.cycle(TAGS))
    fill(store, messages)
    wanted = {tags_code(TAGS[0])}
    scanned_per_get = GET_COUNT * len(TAGS)
    starts = itertools.cycle(range(0, READ_MESSAGES - scanned_per_get + 1, scanned_per_get))
    calls = range(ROUND_MESSAGES // GET_COUNT)
    get = store.get_raw

    def scan_round() -> None:
        for _ in calls:
            assert get(TOPIC, 0, next(starts), GET_COUNT, tag_codes=wanted).message_count == GET_COUNT

    # messages = matching messages served; entries scanned are eight times as many.
    round_info(
        benchmark,
        ROUND_MESSAGES,
        len(stored_record(messages[0])),
        consume_queue_entries_scanned=ROUND_MESSAGES * len(TAGS),
    )
    benchmark.pedantic(scan_round, rounds=ROUNDS, warmup_rounds=WARMUP_ROUNDS, iterations=1)
    result = store.get(TOPIC, 0, 0, GET_COUNT, tag_codes=wanted)
    assert {m.tags for m in result.messages} == {TAGS[0]}


# --- SYNC_FLUSH: group commit across writer threads ---------------------------------------------


class WriterPool:
    """Writer threads that each do ``puts_per_writer`` puts per round, started together."""

    def __init__(self, store: Any, writers: int, puts_per_writer: int, size: int) -> None:
        self._store = store
        self._messages = make_messages(size, puts_per_writer)
        self._start = threading.Barrier(writers + 1)
        self._done = threading.Barrier(writers + 1)
        self._stopping = False
        self.errors: list[BaseException] = []
        self.rounds_run = 0
        self._threads = [
            threading.Thread(target=self._write, args=(queue_id,), daemon=True) for queue_id in range(writers)
        ]
        for thread in self._threads:
            thread.start()

    def _write(self, queue_id: int) -> None:
        while True:
            self._start.wait()
            if self._stopping:
                return
            try:
                for msg in self._messages:
                    result = self._store.put(msg, queue_id)
                    if not result.ok:  # e.g. FLUSH_DISK_TIMEOUT: stored, but not acknowledged as durable
                        raise AssertionError(f"put to queue {queue_id} answered {result.status.name}")
            except BaseException as exc:  # reported by run_round in the main thread
                self.errors.append(exc)
            self._done.wait()

    def run_round(self) -> None:
        self.rounds_run += 1
        self._start.wait()
        self._done.wait()
        if self.errors:
            raise self.errors[0]

    def close(self) -> None:
        self._stopping = True
        self._start.wait()
        for thread in self._threads:
            thread.join()


# Every writer puts this many per round, whatever the number of writers: with only 8 each
# (an earlier 512-put round split over 64 writers) the barrier's start and the stragglers'
# end took much of a round, and the rate measured that more than the group commit.
SYNC_PUTS_PER_WRITER = 64


@pytest.mark.parametrize("writers", [1, 8, 64])
def test_sync_flush_writers(benchmark: Any, open_store: Callable[..., Any], writers: int) -> None:
    store = open_store(flush_disk_type="SYNC_FLUSH")
    puts_per_writer = SYNC_PUTS_PER_WRITER
    pool = WriterPool(store, writers, puts_per_writer, 128)
    round_messages = writers * puts_per_writer
    targets = [] if writers == 1 else [["test_sync_flush_writers[1]", writers / 8, "msgs/s"]]
    round_info(benchmark, round_messages, len(stored_record(make_messages(128, 1)[0])), targets=targets)
    try:
        benchmark.pedantic(pool.run_round, rounds=5, warmup_rounds=1, iterations=1)
    finally:
        pool.close()
    for queue_id in range(writers):
        assert store.max_offset(TOPIC, queue_id) == pool.rounds_run * puts_per_writer
