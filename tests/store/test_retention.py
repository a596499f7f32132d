"""Retention with an injected clock, and a full disk simulated by an injected probe."""

from __future__ import annotations

import time
from collections.abc import Callable

from rmqcore.clock import FakeClock
from rmqcore.message import Message
from rmqcore.store import GetStatus, MessageStore, PutStatus

OpenStore = Callable[..., MessageStore]
HOUR = 3_600_000


def _local_hour_ms(day_start_ms: int, hour: int) -> int:
    """A timestamp whose local hour is ``hour`` (delete_when is local time, as in RocketMQ)."""
    t = time.localtime(day_start_ms / 1000)
    return int(time.mktime((t.tm_year, t.tm_mon, t.tm_mday, hour, 30, 0, 0, 0, -1)) * 1000)


def test_expired_files_go_at_delete_time_with_their_queue_and_index_entries(open_store: OpenStore, clock: FakeClock) -> None:
    clock.set(_local_hour_ms(clock.now_ms(), 10))  # not the delete hour "04"
    store = open_store(file_reserved_time=1, delete_when="04", mapped_file_size_consume_queue=20 * 4)
    old = [store.put(Message("T", b"o" * 400, keys=f"old{i}"), 0) for i in range(20)]
    clock.advance(2 * HOUR)
    fresh = [store.put(Message("T", b"f" * 400, keys=f"new{i}"), 0) for i in range(3)]
    files_before = sorted((store.path / "commitlog").iterdir())

    report = store.run_retention()
    assert report.reason == "not delete time" and report.deleted_commitlog_files == []

    clock.set(_local_hour_ms(clock.now_ms() + 24 * HOUR, 4))  # the next 04:xx
    fresh.append(store.put(Message("T", b"f" * 400, keys="new3"), 0))
    report = store.run_retention()
    assert report.reason == "delete time"
    deleted = report.deleted_commitlog_files
    assert deleted and all(d < fresh[0].commitlog_offset for d in deleted)
    remaining = {int(p.name) for p in (store.path / "commitlog").iterdir()}
    assert not remaining & set(deleted) and {int(p.name) for p in files_before} - set(deleted) <= remaining
    assert store.min_phy_offset == report.min_commitlog_offset > 0
    # the ConsumeQueue's min offset moved to the first message still in the CommitLog
    first_kept = min(i for i, r in enumerate(old + fresh) if r.commitlog_offset >= store.min_phy_offset)
    assert store.min_offset("T", 0) == first_kept
    assert report.deleted_consume_queue_files >= 1
    got = store.get("T", 0, 0)
    assert (got.status, got.next_offset) == (GetStatus.OFFSET_TOO_SMALL, first_kept)
    assert store.get("T", 0, first_kept).messages[0].commitlog_offset >= store.min_phy_offset
    assert store.look_message(old[0].commitlog_offset) is None
    assert store.query_by_key("T", "old0").messages == []
    assert [m.body[:1] for m in store.query_by_key("T", "new0").messages] == [b"f"]
    # the files of the last hours stay whatever the hour
    assert all(store.look_message(r.commitlog_offset) is not None for r in fresh)


def test_retention_survives_reopen(open_store: OpenStore, clock: FakeClock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = open_store(file_reserved_time=1)
    for i in range(20):
        store.put(Message("T", b"o" * 400), 0)
    clock.advance(2 * HOUR)
    store.put(Message("T", b"new"), 0)
    report = store.run_retention(force=True)
    assert report.deleted_commitlog_files
    lo, hi = store.min_offset("T", 0), store.max_offset("T", 0)
    store.close()
    again = open_store()
    assert (again.min_offset("T", 0), again.max_offset("T", 0)) == (lo, hi)
    assert again.get("T", 0, lo).status is GetStatus.FOUND


def test_full_disk_refuses_puts_and_keeps_data(open_store: OpenStore, clock: FakeClock) -> None:
    usage = {"fraction": 0.10}
    store = open_store(disk_usage_probe=lambda path: usage["fraction"], disk_max_used_space_ratio=75)
    kept = [store.put(Message("T", b"kept%d" % i), 0) for i in range(5)]
    usage["fraction"] = 0.80  # above 75 %, below the forcible-clean ratio
    report = store.run_retention()
    assert report.disk_full and report.deleted_commitlog_files == []
    refused = store.put(Message("T", b"no room"), 0)
    assert refused.status is PutStatus.DISK_FULL and not refused.ok
    assert "80.0% used" in (refused.error or "") and "disk_max_used_space_ratio=75" in (refused.error or "")
    assert store.put_batch([Message("T", b"no")], 0).status is PutStatus.DISK_FULL
    assert store.max_offset("T", 0) == 5
    assert [m.body for m in store.get("T", 0, 0).messages] == [b"kept%d" % i for i in range(5)]
    usage["fraction"] = 0.50
    store.check_disk()
    assert store.put(Message("T", b"room again"), 0).queue_offset == 5
    assert all(store.look_message(r.commitlog_offset) is not None for r in kept)
