"""SIGKILL crash tests: what a store serves after its writer is killed mid-append.

Each cycle starts ``append_child.py`` on the same store directory, reads its stdout until
a random number of acknowledgements have arrived, kills it with SIGKILL at a random
moment, reopens the store in this process and checks it:

* everything served is a prefix of the writes: queue offsets 0..max-1, each message
  exactly the one written there (body and properties), body CRC correct, records
  contiguous in the CommitLog, and nothing is served past the tail;
* under SYNC_FLUSH every acknowledged message is among them and found again by its
  CommitLog offset (``look_message``) and by its key (``query_by_key``); under
  ASYNC_FLUSH acknowledged messages may be lost (they are counted, not required).

The next cycle appends to what recovery left, so recovery is also tested on files that
were themselves recovered. The seed is printed on failure (``RMQCORE_CRASH_SEED`` replays
the same choices; the kill moments themselves depend on timing).
"""

from __future__ import annotations

import importlib.util
import os
import random
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rmqcore.message import MessageDecodeError, MessageExt, body_crc32, constants, decode_stored_message
from rmqcore.store import MessageStore, StoreConfig

CHILD_SCRIPT = Path(__file__).with_name("append_child.py")
CYCLES = 24
ACK_TIMEOUT_SECONDS = 20.0
# Acknowledgements to wait for before choosing the kill moment. A SYNC_FLUSH put waits for
# an msync (milliseconds here), so it gets fewer; the CommitLog still rolls every cycle or two.
MAX_ACKS = {"SYNC_FLUSH": 48, "ASYNC_FLUSH": 160}
MAX_KILL_DELAY_SECONDS = 0.004


def _load_child() -> Any:
    spec = importlib.util.spec_from_file_location("append_child", CHILD_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


child = _load_child()


class ChildOutput:
    """The child's stdout, read line by line without blocking past a deadline."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        self._fd = proc.stdout.fileno()
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._fd, selectors.EVENT_READ)
        self._pending = b""
        self.eof = False
        self.start: int | None = None
        self.acks: list[tuple[int, int]] = []  # (queue offset, commitlog offset)

    def _read_some(self, timeout: float) -> None:
        if not self._selector.select(timeout):
            return
        chunk = os.read(self._fd, 1 << 16)
        if not chunk:
            self.eof = True
            return
        *lines, self._pending = (self._pending + chunk).split(b"\n")
        for line in lines:
            kind, *numbers = line.split()
            if kind == b"start":
                self.start = int(numbers[0])
            elif kind == b"ack":
                self.acks.append((int(numbers[0]), int(numbers[1])))
            else:
                raise AssertionError(f"unexpected line from the child: {line!r}")

    def wait_for_acks(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acks) < count and not self.eof:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{len(self.acks)} of {count} acknowledgements after {timeout} s")
            self._read_some(remaining)

    def drain(self) -> None:
        """Reads what the (dead) child wrote before it died; a torn last line is not an ack."""
        while not self.eof:
            self._read_some(ACK_TIMEOUT_SECONDS)

    def close(self) -> None:
        self._selector.close()


@dataclass
class Tally:
    acked: int = 0
    acked_lost: int = 0
    highest_acked: int = -1  # queue offset
    partial_tails: int = 0  # kills that left bytes past the last whole record (a torn write)
    torn_tails: int = 0  # recoveries that stopped at bytes that are not a whole record
    redispatched: int = 0  # records recovery found in the CommitLog but not in the ConsumeQueue


@dataclass(frozen=True)
class Checked:
    """How far the checks got: the queue offset and CommitLog offset of the next record.
    The store was closed cleanly after that check, so everything below it must survive."""

    queue_offset: int = 0
    commitlog_offset: int = 0


def walk_commitlog(store_dir: Path, from_offset: int) -> list[MessageExt]:
    """Whole records in the CommitLog files from ``from_offset`` on, read independently of
    the store.

    Files are ``commitlog/%020d`` (reference section 4); a blank record ends a file; the
    first record that does not decode or whose body CRC is wrong ends the log (a torn tail).
    """
    records = []
    for path in sorted((store_dir / "commitlog").iterdir()):
        start = int(path.name)
        if start + child.COMMITLOG_SEGMENT <= from_offset:
            continue
        data = path.read_bytes()
        pos = max(0, from_offset - start)
        while pos + 8 <= len(data):
            if int.from_bytes(data[pos + 4 : pos + 8], "big", signed=True) == constants.BLANK_MAGIC_CODE:
                break
            try:
                msg, size = decode_stored_message(data, pos, decompress=False)
            except MessageDecodeError:
                return records
            if msg.body_crc != body_crc32(msg.body) or msg.commitlog_offset != start + pos:
                return records
            records.append(msg)
            pos += size
        else:
            return records
    return records


def bytes_past_whole_records(store_dir: Path, from_offset: int) -> bool:
    """Whether anything but zeros follows the last whole record: a record the kill tore."""
    records = walk_commitlog(store_dir, from_offset)
    tail = records[-1].commitlog_offset + records[-1].store_size if records else from_offset
    segment = store_dir / "commitlog" / f"{tail - tail % child.COMMITLOG_SEGMENT:020d}"
    if not segment.exists():
        return False
    with open(segment, "rb") as f:
        f.seek(tail % child.COMMITLOG_SEGMENT)
        return any(f.read(child.MAX_MESSAGE_SIZE + 4096))


def open_store(store_dir: Path, flush: str) -> MessageStore:
    return MessageStore.open(str(store_dir), StoreConfig(**child.store_config(flush)))


def assert_written_message(msg: MessageExt, queue_offset: int, where: str) -> None:
    expected = child.expected_message(queue_offset)
    assert msg.topic == child.TOPIC, where
    assert msg.queue_offset == queue_offset, where
    assert msg.body == expected.body, f"{where}: body differs from what was written"
    assert msg.flag == expected.flag, where
    assert {k: msg.properties.get(k) for k in expected.properties} == expected.properties, where
    assert msg.body_crc == body_crc32(msg.body), f"{where}: stored body CRC is wrong"


def check_recovered(
    store: MessageStore,
    store_dir: Path,
    tally: Tally,
    cycle_acks: list[tuple[int, int]],
    flush: str,
    seed: int,
    since: Checked,
) -> Checked:
    """Checks the reopened store against the writes from ``since`` on (``Checked()``: all)."""
    context = f"seed {seed}, {flush}"
    topic, queue_id = child.TOPIC, child.QUEUE_ID
    assert store.min_offset(topic, queue_id) == 0, context
    max_offset = store.max_offset(topic, queue_id)
    assert max_offset >= since.queue_offset, f"{context}: messages below a clean close were lost"

    served = []
    offset = since.queue_offset
    while offset < max_offset:
        result = store.get(topic, queue_id, offset, max_count=32)
        assert result.messages, f"{context}: nothing served at {offset} below max offset {max_offset}"
        for msg in result.messages:
            assert_written_message(msg, offset, f"{context}: queue offset {offset}")
            served.append(msg.commitlog_offset)
            offset += 1
        assert result.next_offset == offset, context
    assert not store.get(topic, queue_id, max_offset, max_count=32).messages, f"{context}: served past the tail"
    # The whole records on disk, contiguous from the last checked one, are exactly those
    # served: nothing torn or past the valid tail is served, no whole record is left out.
    on_disk = walk_commitlog(store_dir, since.commitlog_offset)
    assert served == [m.commitlog_offset for m in on_disk], (
        f"{context}: served {len(served)} records from queue offset {since.queue_offset}, "
        f"the CommitLog holds {len(on_disk)} whole ones from {since.commitlog_offset}"
    )
    tail = on_disk[-1].commitlog_offset + on_disk[-1].store_size if on_disk else since.commitlog_offset
    assert _look(store, tail) is None, f"{context}: a record is served past the CommitLog tail {tail}"

    lost = [q for q, _ in cycle_acks if q >= max_offset]
    if flush == "SYNC_FLUSH":
        assert not lost, f"{context}: acknowledged messages lost under SYNC_FLUSH: queue offsets {lost[:10]}..."
        assert tally.highest_acked < max_offset, f"{context}: max offset {max_offset} fell below an earlier ack"
    for queue_offset, commitlog_offset in cycle_acks:
        if queue_offset < max_offset:
            found = _look(store, commitlog_offset)
            assert found is not None, f"{context}: acknowledged record at {commitlog_offset} not found"
            assert_written_message(found, queue_offset, f"{context}: look_message({commitlog_offset})")
    if cycle_acks and cycle_acks[-1][0] < max_offset:
        queue_offset = cycle_acks[-1][0]
        hits = store.query_by_key(topic, f"key-{queue_offset}", 32, 0, 2**62).messages
        assert [m.queue_offset for m in hits] == [queue_offset], f"{context}: key of offset {queue_offset}"
    tally.acked_lost += len(lost)
    return Checked(max_offset, tail)


def _look(store: MessageStore, commitlog_offset: int) -> MessageExt | None:
    try:
        return store.look_message(commitlog_offset)
    except (LookupError, ValueError):
        return None


def run_cycle(store_dir: Path, flush: str, rng: random.Random, tally: Tally, expected_start: int, seed: int) -> list[tuple[int, int]]:
    """One child life: start, wait for acks, SIGKILL at a random moment; returns its acks."""
    stderr_path = store_dir.parent / "child.stderr"
    with open(stderr_path, "wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, str(CHILD_SCRIPT), str(store_dir), flush], stdout=subprocess.PIPE, stderr=stderr
        )
    output = ChildOutput(proc)
    try:
        output.wait_for_acks(rng.randint(1, MAX_ACKS[flush]), ACK_TIMEOUT_SECONDS)
        # A random pause picks the kill moment: anywhere inside a put, an fsync or a roll.
        time.sleep(rng.uniform(0, MAX_KILL_DELAY_SECONDS))
        proc.send_signal(signal.SIGKILL)
        proc.wait(ACK_TIMEOUT_SECONDS)
        output.drain()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        output.close()
        assert proc.stdout is not None
        proc.stdout.close()
    detail = f"seed {seed}; child stderr:\n{stderr_path.read_text(errors='replace')[-3000:]}"
    assert proc.returncode == -signal.SIGKILL, f"child ended by itself (rc {proc.returncode}); {detail}"
    assert output.start == expected_start, f"child recovered to {output.start}, the parent to {expected_start}; {detail}"
    offsets = [q for q, _ in output.acks]
    assert offsets == list(range(expected_start, expected_start + len(offsets))), f"acks out of order; {detail}"
    tally.acked += len(output.acks)
    if output.acks:
        tally.highest_acked = max(tally.highest_acked, output.acks[-1][0])
    return output.acks


@pytest.mark.crash
@pytest.mark.parametrize("flush", ["SYNC_FLUSH", "ASYNC_FLUSH"])
def test_sigkill_during_appends_serves_only_whole_written_records(tmp_path: Path, flush: str) -> None:
    seed = int(os.environ.get("RMQCORE_CRASH_SEED", random.randrange(2**32)))
    rng = random.Random(seed)
    store_dir = tmp_path / "store"
    tally = Tally()
    checked = Checked()
    for _ in range(CYCLES):
        acks = run_cycle(store_dir, flush, rng, tally, checked.queue_offset, seed)
        tally.partial_tails += bytes_past_whole_records(store_dir, checked.commitlog_offset)
        with open_store(store_dir, flush) as store:
            report = store.recovery_report
            assert report.abnormal, f"seed {seed}: a SIGKILLed store was not seen as shut down abnormally"
            tally.torn_tails += report.truncated and report.stop_reason != "clean end"
            tally.redispatched += report.redispatched_records
            checked = check_recovered(store, store_dir, tally, acks, flush, seed, checked)
    # Each cycle checked what it added; once more over everything, from the first record.
    with open_store(store_dir, flush) as store:
        assert check_recovered(store, store_dir, tally, [], flush, seed, Checked()) == checked
    served = checked.queue_offset
    # Shown with -rP or -s: the figures a crash report quotes.
    print(f"{flush}: {CYCLES} SIGKILL cycles, {tally.acked} acked, {tally.acked_lost} acked then lost, "
          f"{served} served after the last recovery; {tally.partial_tails} kills left bytes past the last whole "
          f"record, {tally.torn_tails} recoveries stopped at such bytes, {tally.redispatched} records "
          f"redispatched (seed {seed})")
    assert served > 0
