"""Config files under ``{storePathRootDir}/config/``: atomic JSON writes and tolerant reads.

RocketMQ's ``ConfigManager`` keeps one JSON file per manager (``topics.json``,
``consumerOffset.json``, ``subscriptionGroup.json``; reference section 10). Files are
written to a temporary sibling and renamed so a crash never leaves half a file.
Java's fastjson writes ``Integer`` map keys unquoted (``{0:5}``, reference sections 3
and 10); reads accept that form, writes always quote.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
from pathlib import Path
from typing import Any

import structlog

from rmqcore.clock import Clock

log = structlog.get_logger(__name__)

# An unquoted integer key right after "{" or "," (fastjson's Integer/Long map keys).
_UNQUOTED_INT_KEY = re.compile(r'([{,]\s*)(-?\d+)(\s*:)')


class DataVersion:
    """RocketMQ's ``DataVersion``: ``{"stateVersion", "timestamp", "counter"}``, bumped on change."""

    __slots__ = ("state_version", "timestamp", "counter", "_lock")

    def __init__(self, timestamp: int = 0, counter: int = 0, state_version: int = 0) -> None:
        self.state_version = state_version
        self.timestamp = timestamp
        self.counter = counter
        self._lock = threading.Lock()

    def next_version(self, clock: Clock) -> None:
        with self._lock:
            self.timestamp = clock.now_ms()
            self.counter += 1

    def to_json(self) -> dict[str, int]:
        return {"stateVersion": self.state_version, "timestamp": self.timestamp, "counter": self.counter}

    @classmethod
    def from_json(cls, data: Any) -> DataVersion:
        if not isinstance(data, dict):
            return cls()
        return cls(int(data.get("timestamp", 0)), int(data.get("counter", 0)), int(data.get("stateVersion", 0)))

    def __repr__(self) -> str:
        return f"DataVersion(timestamp={self.timestamp}, counter={self.counter})"


def loads_tolerant(text: str) -> Any:
    """Parse JSON, accepting fastjson's unquoted integer keys.

    >>> loads_tolerant('{"offsetTable":{"T@G":{0:5,1:7}}}')
    {'offsetTable': {'T@G': {'0': 5, '1': 7}}}
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return json.loads(_UNQUOTED_INT_KEY.sub(r'\1"\2"\3', text))


def read_json_file(path: Path) -> Any | None:
    """The parsed file, or None when absent; a corrupt file falls back to its ``.bak`` copy."""
    for candidate in (path, path.with_name(path.name + ".bak")):
        try:
            text = candidate.read_text(encoding="utf-8")
        except FileNotFoundError:
            continue
        if not text.strip():
            continue
        try:
            return loads_tolerant(text)
        except (json.JSONDecodeError, ValueError) as exc:
            log.error("config_file_unreadable", path=str(candidate), error=str(exc), action="trying backup")
    return None


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` via a tmp file + rename, keeping the previous file as ``.bak``.

    (``MixAll.string2File`` keeps the same ``.bak``.)
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, ensure_ascii=False, indent=1, sort_keys=False)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    if path.exists():
        try:
            shutil.copyfile(path, path.with_name(path.name + ".bak"))
        except OSError as exc:
            log.warning("config_backup_failed", path=str(path), error=str(exc))
    os.replace(tmp, path)
