"""ConsumeQueues of a store: one per topic/queue, found by walking the directory.

Layout (reference section 5): ``{root}/consumequeue/{topic}/{queueId}/%020d`` files
of ``mapped_file_size_consume_queue`` bytes holding 20-byte entries.

Deviation: a topic that cannot be a directory name (over 255 bytes, containing
``/`` or NUL, or ``.``/``..``) is stored under ``_rmqcore_topic_<sha1>`` with the
topic name in a ``.topic`` file inside; RocketMQ's own topic rules never produce
such names, so RocketMQ-valid topics keep RocketMQ's layout exactly.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from rmqcore.store._ffi import NULL, check, ffi, lib
from rmqcore.store.config import CQ_UNIT_SIZE, StoreConfig
from rmqcore.store.errors import StoreIOError, StoreLayoutError

_SEGMENT_NAME = re.compile(r"^\d{20}$")
_HASHED_PREFIX = "_rmqcore_topic_"
_TOPIC_FILE = ".topic"


def topic_dir_name(topic: str) -> str:
    raw = topic.encode("utf-8")
    if len(raw) <= 255 and "/" not in topic and "\0" not in topic and topic not in (".", "..") and not topic.startswith(_HASHED_PREFIX):
        return topic
    return _HASHED_PREFIX + hashlib.sha1(raw).hexdigest()


class ConsumeQueue:
    """Owns one C ``rmq_cq``."""

    __slots__ = ("topic", "queue_id", "dir", "ptr")

    def __init__(self, root: Path, topic: str, queue_id: int, config: StoreConfig, *, create: bool) -> None:
        self.topic = topic
        self.queue_id = queue_id
        topic_dir = root / "consumequeue" / topic_dir_name(topic)
        self.dir = topic_dir / str(queue_id)
        if create:
            self.dir.mkdir(parents=True, exist_ok=True)
            if topic_dir.name != topic:
                (topic_dir / _TOPIC_FILE).write_bytes(topic.encode("utf-8"))
        raw_topic = topic.encode("utf-8")
        self.ptr = lib.rmq_cq_new(
            str(self.dir).encode(),
            config.mapped_file_size_consume_queue,
            config.max_consume_queue_files,
            raw_topic,
            len(raw_topic),
            queue_id,
        )
        if self.ptr == NULL:
            raise StoreIOError(12, "cannot allocate a ConsumeQueue")
        if not create:
            file_size = config.mapped_file_size_consume_queue
            for name in sorted(p.name for p in self.dir.iterdir() if _SEGMENT_NAME.match(p.name)):
                if int(name) % file_size:
                    raise StoreLayoutError(
                        f"consume queue file {self.dir / name} does not start on a multiple of "
                        f"mapped_file_size_consume_queue ({file_size})"
                    )
                check(lib.rmq_cq_load(self.ptr, int(name)), f"map consume queue file {self.dir / name}")

    @property
    def min_offset(self) -> int:
        return self.ptr.min_logical

    @property
    def max_offset(self) -> int:
        return self.ptr.max_logical

    def entry(self, logical: int) -> tuple[int, int, int] | None:
        """(commitlog offset, size, tag code) of entry ``logical``, None if not mapped."""
        out = ffi.new("int64_t[2]")
        size = ffi.new("int32_t *")
        if lib.rmq_cq_read(self.ptr, logical, out, size, out + 1) != 0:
            return None
        return out[0], size[0], out[1]

    def free(self) -> None:
        if self.ptr != NULL:
            lib.rmq_cq_free(self.ptr)
            self.ptr = NULL


def discover(root: Path, config: StoreConfig) -> list[ConsumeQueue]:
    """Open every ConsumeQueue directory under ``root/consumequeue``."""
    base = root / "consumequeue"
    found: list[ConsumeQueue] = []
    if not base.is_dir():
        return found
    for topic_dir in sorted(base.iterdir()):
        if not topic_dir.is_dir():
            continue
        topic = topic_dir.name
        if topic.startswith(_HASHED_PREFIX):
            marker = topic_dir / _TOPIC_FILE
            if not marker.exists():
                raise StoreLayoutError(f"{topic_dir} has no {_TOPIC_FILE} file naming its topic")
            topic = marker.read_bytes().decode("utf-8")
        for queue_dir in sorted(topic_dir.iterdir()):
            if queue_dir.is_dir() and queue_dir.name.lstrip("-").isdigit():
                found.append(ConsumeQueue(root, topic, int(queue_dir.name), config, create=False))
    return found


__all__ = ["CQ_UNIT_SIZE", "ConsumeQueue", "discover", "topic_dir_name"]
