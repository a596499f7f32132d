"""Name-server KV config (PUT/GET/DELETE_KV_CONFIG), persisted like RocketMQ's kvConfig.json.

File shape: ``{"configTable": {namespace: {key: value}}}`` (``KVConfigSerializeWrapper``),
written atomically so a crash never leaves half a file.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)


class KVConfigManager:
    """
    >>> kv = KVConfigManager(None)
    >>> kv.put("ORDER_TOPIC_CONFIG", "TopicOrder", "broker-a:4")
    >>> kv.get("ORDER_TOPIC_CONFIG", "TopicOrder")
    'broker-a:4'
    """

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        self._path = Path(path) if path else None
        self._lock = threading.Lock()
        self._table: dict[str, dict[str, str]] = {}
        if self._path and self._path.exists():
            try:
                data = json.loads(self._path.read_text(encoding="utf-8"))
                self._table = {ns: dict(kv) for ns, kv in data.get("configTable", {}).items()}
            except (OSError, ValueError, AttributeError) as exc:
                log.error("namesrv_kv_config_unreadable", path=str(self._path), error=str(exc), action="starting empty")

    def put(self, namespace: str, key: str, value: str) -> None:
        with self._lock:
            self._table.setdefault(namespace, {})[key] = value
            self._persist()

    def get(self, namespace: str, key: str) -> str | None:
        with self._lock:
            return self._table.get(namespace, {}).get(key)

    def delete(self, namespace: str, key: str) -> None:
        with self._lock:
            table = self._table.get(namespace)
            if table and table.pop(key, None) is not None:
                if not table:
                    del self._table[namespace]
                self._persist()

    def namespace(self, namespace: str) -> dict[str, str]:
        with self._lock:
            return dict(self._table.get(namespace, {}))

    def _persist(self) -> None:
        if self._path is None:
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_suffix(self._path.suffix + ".tmp")
        tmp.write_text(json.dumps({"configTable": self._table}, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self._path)
