"""``rmqcore bench store``: append to and read back from a message store, and print the figures.

Writers are threads, each appending to its own queue (queue id = writer number) with
``put`` (``--batch 1``) or ``put_batch``; then every queue is read back with ``get_raw`` of
32 (the stored bytes a PULL serves) and checked against what was written. A progress bar goes to stderr, the figures table to
stdout. MB/s counts stored record bytes (header, body, topic and properties).

The side-by-side comparisons (memcpy baseline, Python disk queues) live in the
benchmark suite, ``benchmarks/test_store_bench.py``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any, TextIO

from rmqcore.logs import configure_logging
from rmqcore.message import Message, decode_stored_message, encode_properties, stored_size

TOPIC = "BenchTopic"
TAG = "TagA"
# Distinct messages each writer cycles through: enough to defeat any per-object caching,
# few enough that building them costs nothing next to the run.
MESSAGE_POOL = 4096
GET_COUNT = 32
TICK_SECONDS = 0.2
MB = 1_000_000


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    targets = parser.add_subparsers(dest="target", metavar="TARGET", required=True)
    store = targets.add_parser("store", help="append to and read back from a message store", description=__doc__,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    store.add_argument("--size", type=_positive_int, default=128, help="message body size in bytes (default 128)")
    store.add_argument("--count", type=_positive_int, default=200_000, help="messages to append in all (default 200000)")
    store.add_argument("--batch", type=_positive_int, default=64, help="messages per put_batch; 1 uses put (default 64)")
    store.add_argument("--flush", choices=("ASYNC_FLUSH", "SYNC_FLUSH"), default="ASYNC_FLUSH",
                       help="flush_disk_type of the store (default ASYNC_FLUSH)")
    store.add_argument("--writers", type=_positive_int, default=1, help="concurrent writer threads (default 1)")
    store.add_argument("--dir", default=None,
                       help="store directory (default: a temporary directory, removed afterwards)")


class ProgressBar:
    """A one-line text progress bar, redrawn in place with ``\\r``."""

    def __init__(self, label: str, total: int, stream: TextIO = sys.stderr, width: int = 30) -> None:
        self._label = label
        self._total = total
        self._stream = stream
        self._width = width

    def draw(self, done: int, rate: float) -> None:
        fraction = min(done / self._total, 1.0) if self._total else 1.0
        filled = int(fraction * self._width)
        bar = "#" * filled + "." * (self._width - filled)
        self._stream.write(
            f"\r{self._label} [{bar}] {fraction:4.0%} {done}/{self._total} msgs {rate / 1000:9.1f} k msgs/s"
        )
        self._stream.flush()

    def finish(self, done: int, rate: float) -> None:
        self.draw(done, rate)
        self._stream.write("\n")
        self._stream.flush()


def _watch(progress: ProgressBar, threads: list[threading.Thread], counted: Callable[[], int]) -> list[float]:
    """Redraws ``progress`` until ``threads`` end; returns the rate of each full tick."""
    rates: list[float] = []
    last_done, last_time = counted(), time.perf_counter()
    for thread in threads:
        while thread.is_alive():
            thread.join(TICK_SECONDS)
            now, done = time.perf_counter(), counted()
            if now - last_time >= TICK_SECONDS:
                rates.append((done - last_done) / (now - last_time))
                last_done, last_time = done, now
            progress.draw(done, rates[-1] if rates else 0.0)
    return rates


def _message_pool(size: int) -> list[Message]:
    return [Message(TOPIC, (b"%08d" % i).ljust(size, b"x"), tags=TAG) for i in range(MESSAGE_POOL)]


def _append(store: Any, args: argparse.Namespace, pool: list[Message], start_offsets: list[int]) -> dict[str, Any]:
    per_writer = [args.count // args.writers + (w < args.count % args.writers) for w in range(args.writers)]
    done = [0] * args.writers
    not_ok: dict[str, int] = {}  # put status (FLUSH_DISK_TIMEOUT, DISK_FULL, ...) -> messages
    errors: list[BaseException] = []

    def count_not_ok(result: Any) -> None:
        not_ok[result.status.name] = not_ok.get(result.status.name, 0) + result.message_count

    def write(queue_id: int) -> None:
        remaining = per_writer[queue_id]
        try:
            # The k-th message of every writer is pool[k % MESSAGE_POOL]: the read-back check relies on it.
            if args.batch == 1:
                put = store.put
                for k in range(remaining):
                    result = put(pool[k % MESSAGE_POOL], queue_id)
                    if not result.ok:
                        count_not_ok(result)
                    done[queue_id] += 1
            else:
                put_batch = store.put_batch
                position = 0
                while remaining:
                    n = min(args.batch, remaining, MESSAGE_POOL - position)
                    result = put_batch(pool[position : position + n], queue_id)
                    if not result.ok:
                        count_not_ok(result)
                    position = (position + n) % MESSAGE_POOL
                    remaining -= n
                    done[queue_id] += n
        except BaseException as exc:  # re-raised by the main thread
            errors.append(exc)

    for queue_id in range(args.writers):
        start_offsets.append(store.max_offset(TOPIC, queue_id))
    threads = [threading.Thread(target=write, args=(q,), name=f"bench-writer-{q}") for q in range(args.writers)]
    progress = ProgressBar("append", args.count)
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    rates = _watch(progress, threads, lambda: sum(done))
    elapsed = time.perf_counter() - began
    progress.finish(sum(done), sum(done) / elapsed)
    if errors:
        raise errors[0]
    return {"elapsed": elapsed, "messages": sum(done), "rates": rates, "per_writer": per_writer, "not_ok": not_ok}


def _read_back(
    store: Any, pool: list[Message], start_offsets: list[int], per_writer: list[int], record_size: int
) -> dict[str, Any]:
    """Reads every queue back with get_raw of 32 (what a PULL costs the store) and checks it.

    Only the get_raw calls are timed. Every record has the same size, so each answer's
    length checks its count; the first record of each answer is decoded and compared with
    what was written there (decoding all of them in Python would cost more than the reads).
    """
    progress = ProgressBar("read  ", sum(per_writer))
    read = mismatched = 0
    timed = 0.0
    last_draw = time.perf_counter()
    for queue_id, (start, expected) in enumerate(zip(start_offsets, per_writer, strict=True)):
        offset, end = start, start + expected
        while offset < end:
            began = time.perf_counter()
            result = store.get_raw(TOPIC, queue_id, offset, max_count=min(GET_COUNT, end - offset))
            now = time.perf_counter()
            timed += now - began
            if not result.message_count:
                break
            first, _ = decode_stored_message(result.raw)
            mismatched += len(result.raw) != result.message_count * record_size
            mismatched += first.body != pool[(offset - start) % MESSAGE_POOL].body
            read += result.message_count
            offset = result.next_offset
            if now - last_draw >= TICK_SECONDS:
                progress.draw(read, read / timed)
                last_draw = now
    progress.finish(read, read / timed if timed else 0.0)
    return {"elapsed": timed, "messages": read, "mismatched": mismatched}


def _table(rows: list[tuple[str, str]], out: TextIO) -> None:
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}", file=out)


def _run_store(args: argparse.Namespace) -> int:
    from rmqcore.store import MessageStore, StoreConfig

    tags_property = encode_properties(Message(TOPIC, tags=TAG).properties).encode()
    record_size = stored_size(len(TOPIC.encode()), args.size, len(tags_property))
    with ExitStack() as stack:
        directory = args.dir or stack.enter_context(tempfile.TemporaryDirectory(prefix="rmqcore-bench-"))
        store = stack.enter_context(MessageStore.open(directory, StoreConfig(flush_disk_type=args.flush)))
        pool = _message_pool(args.size)
        start_offsets: list[int] = []
        wrote = _append(store, args, pool, start_offsets)
        read = _read_back(store, pool, start_offsets, wrote["per_writer"], record_size)

    append_rate = wrote["messages"] / wrote["elapsed"]
    read_rate = read["messages"] / read["elapsed"] if read["elapsed"] else 0.0
    rates = wrote["rates"] or [append_rate]
    rows = [
        ("store", f"{directory} ({'kept' if args.dir else 'temporary'})"),
        ("workload", f"{args.count} msgs, body {args.size} B, stored record {record_size} B, "
                     f"{'put' if args.batch == 1 else f'put_batch of {args.batch}'}, {args.flush}, "
                     f"{args.writers} writer(s)"),
        ("append msgs/s", f"{append_rate:,.0f} overall; median of {TICK_SECONDS} s intervals {statistics.median(rates):,.0f}"),
        ("append MB/s", f"{append_rate * record_size / MB:,.1f} overall; median {statistics.median(rates) * record_size / MB:,.1f}"),
        ("append time", f"{wrote['elapsed']:.3f} s"),
        (f"read get_raw({GET_COUNT}) msgs/s", f"{read_rate:,.0f} ({read_rate * record_size / MB:,.1f} MB/s)"),
        ("read back", f"{read['messages']} of {wrote['messages']} msgs"),
        ("puts not OK", ", ".join(f"{n} {status}" for status, n in wrote["not_ok"].items()) or "none"),
    ]
    _table(rows, sys.stdout)
    if read["messages"] != wrote["messages"] or read["mismatched"] or wrote["not_ok"]:
        print(f"error: read back {read['messages']} of {wrote['messages']} messages "
              f"({read['mismatched']} answers not as written)", file=sys.stderr)
        return 1
    return 0


def run(args: argparse.Namespace) -> int:
    configure_logging("warning")  # stderr, and only what needs attention: stdout is the figures table
    if args.target == "store":
        return _run_store(args)
    raise AssertionError(f"unknown bench target {args.target!r}")
