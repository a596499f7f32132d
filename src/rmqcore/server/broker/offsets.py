"""Committed consumer offsets (RocketMQ's ``ConsumerOffsetManager``), persisted as ``config/consumerOffset.json``.

File shape (reference section 10)::

    {"offsetTable": {"<topic>@<group>": {"<queueId>": <offset>, ...}},
     "dataVersion": {"stateVersion": 0, "timestamp": <ms>, "counter": <n>}}

Java writes the queue-id keys unquoted; this writes them quoted (standard JSON, what
every reader accepts) and reads either. Commits only touch memory; :meth:`persist`
(every ``flushConsumerOffsetInterval`` ms and at shutdown) writes the file if it changed.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import structlog

from rmqcore.clock import Clock
from rmqcore.server.broker.persistence import DataVersion, read_json_file, write_json_atomic

log = structlog.get_logger(__name__)

CONSUMER_OFFSET_FILE = "consumerOffset.json"
TOPIC_GROUP_SEPARATOR = "@"


def offset_key(topic: str, group: str) -> str:
    return f"{topic}{TOPIC_GROUP_SEPARATOR}{group}"


class ConsumerOffsetManager:
    """``topic@group`` → queue id → committed offset.

    >>> from rmqcore.clock import FakeClock
    >>> import tempfile
    >>> m = ConsumerOffsetManager(Path(tempfile.mkdtemp()), FakeClock(5))
    >>> m.commit("G", "T", 0, 42)
    >>> m.query("G", "T", 0), m.query("G", "T", 1)
    (42, -1)
    >>> m.to_json()["offsetTable"]
    {'T@G': {'0': 42}}
    """

    def __init__(self, config_dir: Path, clock: Clock) -> None:
        self.path = Path(config_dir) / CONSUMER_OFFSET_FILE
        self._clock = clock
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._table: dict[str, dict[int, int]] = {}
        self.data_version = DataVersion()
        self._dirty = False

    # -- persistence ---------------------------------------------------------------------
    def load(self) -> None:
        data = read_json_file(self.path)
        if not data:
            return
        table: dict[str, dict[int, int]] = {}
        for key, queues in (data.get("offsetTable") or {}).items():
            if TOPIC_GROUP_SEPARATOR not in key or not isinstance(queues, dict):
                log.warning("consumer_offset_entry_skipped", key=key, path=str(self.path))
                continue
            table[key] = {int(q): int(o) for q, o in queues.items()}
        with self._lock:
            self._table = table
            self.data_version = DataVersion.from_json(data.get("dataVersion"))
        log.info("consumer_offsets_loaded", path=str(self.path), entries=len(table))

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            table = {key: {str(q): o for q, o in sorted(queues.items())} for key, queues in self._table.items()}
            return {"offsetTable": table, "dataVersion": self.data_version.to_json()}

    def persist(self, *, force: bool = False) -> bool:
        """Write the file when offsets changed since the last write (or ``force``); True if written."""
        if not (self._dirty or force):
            return False
        # One writer at a time: the periodic flush runs in a worker thread, shutdown on the loop.
        with self._write_lock:
            with self._lock:
                self._dirty = False
                self.data_version.next_version(self._clock)
            write_json_atomic(self.path, self.to_json())
        return True

    # -- offsets --------------------------------------------------------------------------
    def commit(self, group: str, topic: str, queue_id: int, offset: int) -> None:
        key = offset_key(topic, group)
        with self._lock:
            queues = self._table.get(key)
            if queues is None:
                queues = self._table[key] = {}
            queues[queue_id] = offset
            self._dirty = True

    def query(self, group: str, topic: str, queue_id: int) -> int:
        """The committed offset, or -1 when none (``queryOffset``)."""
        queues = self._table.get(offset_key(topic, group))
        if queues is None:
            return -1
        return queues.get(queue_id, -1)

    def group_offsets(self, group: str, topic: str) -> dict[int, int]:
        return dict(self._table.get(offset_key(topic, group), {}))

    def groups_of_topic(self, topic: str) -> set[str]:
        prefix = topic + TOPIC_GROUP_SEPARATOR
        return {k[len(prefix):] for k in list(self._table) if k.startswith(prefix)}

    def remove_group(self, group: str, topic: str) -> None:
        with self._lock:
            if self._table.pop(offset_key(topic, group), None) is not None:
                self._dirty = True
