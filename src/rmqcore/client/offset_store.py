"""Consumer offsets: on the broker (CLUSTERING) or in a local file (BROADCASTING).

Both keep the latest consumed offset per queue in memory (``update_offset``) and write it
out on ``persist``/``persist_all``; the push consumer calls ``persist_all`` periodically
(``persist_consumer_offset_interval``, 5 s) and at shutdown, so a restarted consumer replays
at most what was consumed since the last persist and never skips anything.

``read_offset`` returns, like the Java ``OffsetStore``: the offset (>= 0), ``-1`` when the
store has none for the queue, or ``-2`` when it could not be asked (broker unreachable).
"""

from __future__ import annotations

import abc
import enum
import json
import os
import threading
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

import anyio
import structlog

from rmqcore.client.errors import MQBrokerError, MQClientError
from rmqcore.message import MessageQueue

log = structlog.get_logger(__name__)

QUERY_NOT_FOUND = 22
OFFSET_NOT_FOUND = -1
OFFSET_UNAVAILABLE = -2


class ReadOffsetType(enum.Enum):
    READ_FROM_MEMORY = "READ_FROM_MEMORY"
    READ_FROM_STORE = "READ_FROM_STORE"
    MEMORY_FIRST_THEN_STORE = "MEMORY_FIRST_THEN_STORE"


class OffsetStore(abc.ABC):
    """The in-memory table shared by both stores; a subclass says where offsets persist."""

    def __init__(self, group: str) -> None:
        self.group = group
        self.offset_table: dict[MessageQueue, int] = {}

    def update_offset(self, mq: MessageQueue, offset: int, increase_only: bool = False) -> None:
        """Remember ``offset`` as the next offset to consume for ``mq`` (not yet persisted).

        >>> s = LocalFileOffsetStore("g", "127.0.0.1@1", "offsets"); mq = MessageQueue("T", "b", 0)  # no file until persist
        >>> s.update_offset(mq, 5); s.update_offset(mq, 3, increase_only=True); s.offset_table[mq]
        5
        """
        if offset < 0:
            return
        current = self.offset_table.get(mq)
        if increase_only and current is not None and current >= offset:
            return
        self.offset_table[mq] = offset

    def remove_offset(self, mq: MessageQueue) -> None:
        self.offset_table.pop(mq, None)

    async def load(self) -> None:
        """Read what the store keeps from an earlier run (the local file store only)."""

    async def read_offset(self, mq: MessageQueue, how: ReadOffsetType) -> int:
        if how is not ReadOffsetType.READ_FROM_STORE:
            offset = self.offset_table.get(mq)
            if offset is not None:
                return offset
            if how is ReadOffsetType.READ_FROM_MEMORY:
                return OFFSET_NOT_FOUND
        return await self._read_stored_offset(mq)

    @abc.abstractmethod
    async def _read_stored_offset(self, mq: MessageQueue) -> int:
        """``read_offset`` from the store itself (the in-memory table not asked)."""

    @abc.abstractmethod
    async def persist(self, mq: MessageQueue) -> None:
        """Write ``mq``'s offset from the in-memory table to the store."""

    @abc.abstractmethod
    async def persist_all(self, mqs: Iterable[MessageQueue]) -> None:
        """Write the offsets of ``mqs`` (the queues this consumer holds) to the store."""


QueryOffset = Callable[[MessageQueue], Awaitable[int]]
UpdateOffset = Callable[[MessageQueue, int], Awaitable[None]]


class RemoteBrokerOffsetStore(OffsetStore):
    """CLUSTERING: offsets live on the broker that owns each queue.

    ``query`` and ``update`` are QUERY_CONSUMER_OFFSET / UPDATE_CONSUMER_OFFSET on that
    broker (the consumer binds them); ``query`` raises :class:`MQBrokerError` code 22 when the
    broker has no offset for the queue.
    """

    def __init__(self, group: str, query: QueryOffset, update: UpdateOffset) -> None:
        super().__init__(group)
        self._query = query
        self._update = update

    async def _read_stored_offset(self, mq: MessageQueue) -> int:
        try:
            offset = await self._query(mq)
        except MQBrokerError as exc:
            if exc.code == QUERY_NOT_FOUND:
                return OFFSET_NOT_FOUND
            log.warning("consumer_offset_query_failed", group=self.group, mq=str(mq), error=str(exc))
            return OFFSET_UNAVAILABLE
        except MQClientError as exc:
            log.warning("consumer_offset_query_failed", group=self.group, mq=str(mq), error=str(exc))
            return OFFSET_UNAVAILABLE
        self.update_offset(mq, offset)
        return offset

    async def persist(self, mq: MessageQueue) -> None:
        offset = self.offset_table.get(mq)
        if offset is not None:
            await self._update(mq, offset)

    async def persist_all(self, mqs: Iterable[MessageQueue]) -> None:
        wanted = set(mqs)
        for mq, offset in list(self.offset_table.items()):
            if mq not in wanted:
                continue
            try:
                await self._update(mq, offset)
            except MQClientError as exc:
                # The next round retries; the offset stays in memory meanwhile.
                log.warning("consumer_offset_persist_failed", group=self.group, mq=str(mq), offset=offset, error=str(exc))


def default_local_offset_dir() -> Path:
    """``rocketmq.client.localOffsetStoreDir``: ``~/.rocketmq_offsets`` unless overridden."""
    return Path(os.environ.get("ROCKETMQ_CLIENT_LOCAL_OFFSET_STORE_DIR", Path.home() / ".rocketmq_offsets"))


class LocalFileOffsetStore(OffsetStore):
    """BROADCASTING: offsets in ``<dir>/<clientId>/<group>/offsets.json``.

    The file is standard JSON ``{"offsetTable": [{"topic", "brokerName", "queueId", "offset"}, ...]}``
    (Java writes fastjson with object keys, which is not JSON); it is replaced atomically
    (write a temporary file, fsync, rename) and the previous version is kept as ``.bak``.
    """

    def __init__(self, group: str, client_id: str, base_dir: Path | str | None = None) -> None:
        super().__init__(group)
        base = Path(base_dir) if base_dir is not None else default_local_offset_dir()
        self.path = base / client_id.replace(":", "_") / group / "offsets.json"
        self._write_lock = threading.Lock()

    async def load(self) -> None:
        self.offset_table.update(await anyio.to_thread.run_sync(self._read_file))

    def _read_file(self) -> dict[MessageQueue, int]:
        for candidate in (self.path, self.path.with_suffix(".json.bak")):
            try:
                data = json.loads(candidate.read_text(encoding="utf-8"))
            except FileNotFoundError:
                continue
            except (OSError, ValueError) as exc:
                log.warning("local_offset_file_unreadable", path=str(candidate), error=str(exc))
                continue
            return {
                MessageQueue(e["topic"], e["brokerName"], int(e["queueId"])): int(e["offset"])
                for e in data.get("offsetTable", [])
            }
        return {}

    async def _read_stored_offset(self, mq: MessageQueue) -> int:
        stored = (await anyio.to_thread.run_sync(self._read_file)).get(mq)
        if stored is None:
            return OFFSET_NOT_FOUND
        self.update_offset(mq, stored)
        return stored

    async def persist(self, mq: MessageQueue) -> None:
        await self.persist_all(self.offset_table)

    async def persist_all(self, mqs: Iterable[MessageQueue]) -> None:
        # Broadcasting keeps every queue it has seen (each consumer reads all of them).
        table = dict(self.offset_table)
        try:
            await anyio.to_thread.run_sync(self._write_file, table)
        except OSError as exc:
            # The next round retries; the offsets stay in memory meanwhile.
            log.warning("local_offset_persist_failed", path=str(self.path), error=str(exc))

    def _write_file(self, table: dict[MessageQueue, int]) -> None:
        with self._write_lock:  # the periodic persist and a queue release may overlap
            self._write_file_locked(table)

    def _write_file_locked(self, table: dict[MessageQueue, int]) -> None:
        entries = [{**mq.to_json(), "offset": offset} for mq, offset in sorted(table.items())]
        text = json.dumps({"offsetTable": entries}, indent=1)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".json.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if self.path.exists():
            os.replace(self.path, self.path.with_suffix(".json.bak"))
        os.replace(tmp, self.path)
