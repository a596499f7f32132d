"""Warm-ahead: open prefaults nothing synchronously; the next file is prepared ahead.

The warm-ahead thread (csrc/warm_ahead.c) keeps ``warm_ahead_window`` bytes past the
write position prefaulted and creates the next CommitLog file once the window reaches
it, so a roll adopts a file that is already there.
"""

from __future__ import annotations

from pathlib import Path

from rmqcore.clock import FakeClock
from rmqcore.message import Message
from rmqcore.store import MessageStore, StoreConfig

FILE = 8 * 1024 * 1024
WINDOW = 1024 * 1024


def _config(**overrides: object) -> StoreConfig:
    return StoreConfig(**{"mapped_file_size_commit_log": FILE, "warm_ahead_window": WINDOW, **overrides})  # type: ignore[arg-type]


def _files(path: Path) -> list[str]:
    return sorted(p.name for p in (path / "commitlog").iterdir())


def test_next_file_prepared_when_the_window_reaches_it(tmp_path: Path, clock: FakeClock) -> None:
    store = MessageStore.open(tmp_path / "s", _config(), clock=clock)
    try:
        store.wait_warm()
        assert _files(tmp_path / "s") == ["%020d" % 0]  # the first file, before any put
        body = b"x" * 4000
        # stay more than a window away from the end: no next file yet
        while store.max_phy_offset < FILE - 3 * WINDOW:
            assert store.put_batch([Message("T", body)] * 16, 0).ok
        store.wait_warm()
        assert _files(tmp_path / "s") == ["%020d" % 0]
        while store.max_phy_offset < FILE - WINDOW // 4:
            assert store.put(Message("T", body), 0).ok
        store.wait_warm()
        assert _files(tmp_path / "s") == ["%020d" % 0, "%020d" % FILE]
        # the roll adopts the prepared file; every message reads back
        while store.max_phy_offset < FILE + WINDOW:
            assert store.put(Message("T", body), 0).ok
        total = store.max_offset("T", 0)
        assert [m.body for m in store.get("T", 0, total - 1, 1).messages] == [body]
    finally:
        store.close()
    # close deletes a prepared file that was never written; reopening finds the log intact
    again = MessageStore.open(tmp_path / "s", _config(), clock=clock)
    try:
        assert not again.recovery_report.truncated
        assert again.max_offset("T", 0) == total
    finally:
        again.close()


def test_no_warm_ahead_when_disabled(tmp_path: Path, clock: FakeClock) -> None:
    store = MessageStore.open(tmp_path / "s", _config(warm_mapped_file_enable=False), clock=clock)
    try:
        store.wait_warm()  # no thread: returns at once
        assert _files(tmp_path / "s") == []
        assert store.put(Message("T", b"x"), 0).ok
        assert _files(tmp_path / "s") == ["%020d" % 0]
    finally:
        store.close()
