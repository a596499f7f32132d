"""Reopening after a clean close, a crash, and with corrupted CommitLog bytes."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

from structlog.testing import capture_logs

from rmqcore.clock import FakeClock
from rmqcore.message import Message
from rmqcore.store import MessageStore

from .conftest import small_config

OpenStore = Callable[..., MessageStore]


def _fill(store: MessageStore, n: int, topic: str = "T") -> list[int]:
    return [store.put(Message(topic, b"m%03d" % i + b"." * 150, tags="TagA", keys=f"k{i}"), 0).commitlog_offset for i in range(n)]


def _reopen(path: Path, clock: FakeClock) -> MessageStore:
    return MessageStore.open(path, small_config(), clock=clock)


def _bodies(store: MessageStore) -> list[bytes]:
    out = []
    offset = 0
    while True:
        got = store.get("T", 0, offset, max_count=32)
        if not got.messages:
            return out
        out += [m.body[:4] for m in got.messages]
        offset = got.next_offset


def test_clean_reopen_keeps_everything(tmp_path: Path, clock: FakeClock) -> None:
    with _reopen(tmp_path / "s", clock) as store:
        _fill(store, 40)
        end = store.max_phy_offset
    assert not (tmp_path / "s" / "abort").exists()
    with _reopen(tmp_path / "s", clock) as store:
        assert store.recovery_report.abnormal is False
        assert store.max_phy_offset == end
        assert _bodies(store) == [b"m%03d" % i for i in range(40)]
        assert store.put(Message("T", b"next"), 0).queue_offset == 40


def test_crash_rebuilds_missing_consume_queue_and_index_entries(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "s"
    store = _reopen(path, clock)
    store.flush()  # checkpoint at 0 messages
    offsets = _fill(store, 30)
    store._simulate_crash()
    assert (path / "abort").exists()
    # lose the ConsumeQueue and the index entirely: only the CommitLog survives
    for f in (path / "consumequeue" / "T" / "0").iterdir():
        f.unlink()
    for f in (path / "index").iterdir():
        f.unlink()
    with _reopen(path, clock) as again:
        report = again.recovery_report
        assert report.abnormal and report.redispatched_records == 30
        assert _bodies(again) == [b"m%03d" % i for i in range(30)]
        assert [m.commitlog_offset for m in again.query_by_key("T", "k7").messages] == [offsets[7]]
        assert again.get("T", 0, 0, tag_codes={2598919}).message_count == 30  # TagA


def test_torn_tail_is_truncated_and_logged(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "s"
    store = _reopen(path, clock)
    offsets = _fill(store, 12)
    store._simulate_crash()
    # tear the last record: zero its second half, as a write cut short would leave it
    last = offsets[-1]
    seg_start = last - last % 4096
    seg = path / "commitlog" / ("%020d" % seg_start)
    data = bytearray(seg.read_bytes())
    at = last - seg_start
    data[at + 100 : at + 170] = bytes(70)
    seg.write_bytes(bytes(data))
    with capture_logs() as logs:
        again = _reopen(path, clock)
    try:
        truncated = [e for e in logs if e["event"] == "store.commitlog_truncated"]
        assert truncated and truncated[0]["valid_end"] == last
        assert truncated[0]["reason"] in ("body CRC mismatch", "field lengths do not add up to the record size")
        dropped = [e for e in logs if e["event"] == "store.consume_queue_entries_dropped"]
        assert dropped and dropped[0]["entries"] == 1
        assert again.max_offset("T", 0) == 11
        assert _bodies(again) == [b"m%03d" % i for i in range(11)]
        assert again.look_message(last) is None
        assert again.query_by_key("T", "k11").messages == []
        r = again.put(Message("T", b"m011-again"), 0)
        assert (r.queue_offset, r.commitlog_offset) == (11, last)
    finally:
        again.close()


def test_corruption_in_the_middle_of_a_file(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "s"
    with _reopen(path, clock) as store:
        offsets = _fill(store, 40)
    # flip body bytes of a record in the middle of the last file: its CRC no longer matches
    last_file = sorted((path / "commitlog").iterdir())[-1]
    start = int(last_file.name)
    in_last = [o for o in offsets if o >= start]
    victim = in_last[len(in_last) // 2]
    data = bytearray(last_file.read_bytes())
    data[victim - start + 100] ^= 0xFF
    last_file.write_bytes(bytes(data))
    with capture_logs() as logs:
        again = _reopen(path, clock)
    try:
        [event] = [e for e in logs if e["event"] == "store.commitlog_truncated"]
        assert event["valid_end"] == victim and event["reason"] == "body CRC mismatch"
        expected = offsets.index(victim)
        assert again.max_offset("T", 0) == expected
        assert _bodies(again) == [b"m%03d" % i for i in range(expected)]
        # the bytes after the valid end were zeroed: nothing stale can come back later
        tail = (path / "commitlog" / last_file.name).read_bytes()[victim - start :]
        assert tail == bytes(len(tail))
    finally:
        again.close()


def test_corrupt_magic_after_crash_and_later_files_removed(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "s"
    store = _reopen(path, clock)
    store.flush()
    offsets = _fill(store, 60)
    store._simulate_crash()
    files = sorted((path / "commitlog").iterdir())
    assert len(files) >= 3
    # break the first record of the second file: everything from there on is gone
    second = int(files[1].name)
    victim = min(o for o in offsets if o >= second)
    data = bytearray(files[1].read_bytes())
    struct.pack_into(">I", data, victim - second + 4, 0x12345678)
    files[1].write_bytes(bytes(data))
    with capture_logs() as logs:
        again = _reopen(path, clock)
    try:
        [event] = [e for e in logs if e["event"] == "store.commitlog_truncated"]
        assert event["reason"] == "bad magic code" and event["files_removed"] == len(files) - 2
        assert again.max_offset("T", 0) == offsets.index(victim)
        assert len(list((path / "commitlog").iterdir())) == 2
    finally:
        again.close()


def test_crash_rebuild_recomputes_schedule_tag_codes(tmp_path: Path, clock: FakeClock) -> None:
    from rmqcore.message import constants

    path = tmp_path / "s"
    store = _reopen(path, clock)
    store.flush()
    m = Message(constants.SCHEDULE_TOPIC, b"later", tags="TagA")
    m.delay_level = 4  # 30 s
    store.put(m, 3)
    deliver = clock.now_ms() + 30_000
    store._simulate_crash()
    for f in (path / "consumequeue" / constants.SCHEDULE_TOPIC / "3").iterdir():
        f.unlink()
    with _reopen(path, clock) as again:
        assert again.get(constants.SCHEDULE_TOPIC, 3, 0, tag_codes={deliver}).message_count == 1


def test_dispatch_listener_once_per_batch(tmp_path: Path, clock: FakeClock) -> None:
    with _reopen(tmp_path / "s", clock) as store:
        calls: list[tuple[str, int, int]] = []
        store.add_dispatch_listener(lambda topic, queue_id, offset: calls.append((topic, queue_id, offset)))
        store.put(Message("T", b"a"), 1)
        store.put_batch([Message("T", b"b"), Message("T", b"c")], 1)

        def broken(*_: object) -> None:
            raise RuntimeError("listener bug")

        store.add_dispatch_listener(broken)
        assert store.put(Message("T", b"d"), 1).ok  # a failing listener does not fail the put
        assert calls == [("T", 1, 0), ("T", 1, 2), ("T", 1, 3)]
