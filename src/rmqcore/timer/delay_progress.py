"""``delayOffset.json``: per-level progress of the schedule queues (reference sections 7, 10).

Shape (``DelayOffsetSerializeWrapper``)::

    {"offsetTable": {"1": 5, "3": 0}, "dataVersion": {"stateVersion": 0, "timestamp": 1700000000000, "counter": 4}}

The offset of a level is the next SCHEDULE_TOPIC_XXXX queue offset (queue level−1) still to
deliver.  fastjson writes the Integer keys unquoted (``{1:5}``); that form is read too, and the
quoted form (valid JSON) is written.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "delayOffset.json"
>>> DelayOffsetFile(path).load()
{}
>>> DelayOffsetFile(path).save({3: 7, 1: 2}, now_ms=1000)
>>> DelayOffsetFile(path).load()
{1: 2, 3: 7}
>>> parse_delay_offsets('{"offsetTable":{1:5,18:0},"dataVersion":{"counter":1}}')
{1: 5, 18: 0}
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from rmqcore.timer.atomic_file import write_atomically
from rmqcore.timer.errors import DelayProgressError

FILE_NAME = "delayOffset.json"

# fastjson's unquoted Integer keys: `{1:5` or `,18:0` → quote the key.
_BARE_INT_KEY = re.compile(r'([{,]\s*)(-?\d+)(\s*:)')


def parse_delay_offsets(text: str) -> dict[int, int]:
    """The offsetTable of a delayOffset.json text (quoted or fastjson's bare Integer keys)."""
    data = json.loads(_BARE_INT_KEY.sub(r'\1"\2"\3', text))
    table = data.get("offsetTable") or {}
    return {int(level): int(offset) for level, offset in table.items()}


class DelayOffsetFile:
    """Reads and writes ``delayOffset.json`` atomically; keeps RocketMQ's dataVersion counter."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._counter = 0

    def load(self) -> dict[int, int]:
        if not self.path.exists():
            return {}
        try:
            text = self.path.read_text(encoding="utf-8")
            offsets = parse_delay_offsets(text)
            self._counter = int((json.loads(_BARE_INT_KEY.sub(r'\1"\2"\3', text)).get("dataVersion") or {}).get("counter", 0))
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            raise DelayProgressError(str(self.path), str(exc)) from exc
        return dict(sorted(offsets.items()))

    def save(self, offsets: dict[int, int], *, now_ms: int) -> None:
        self._counter += 1
        document = {
            "offsetTable": {str(level): offset for level, offset in sorted(offsets.items())},
            "dataVersion": {"stateVersion": 0, "timestamp": now_ms, "counter": self._counter},
        }
        write_atomically(self.path, json.dumps(document, separators=(",", ":")).encode("utf-8"))
