"""The checker's progress: consume offsets of the half and op queues, persisted like RocketMQ's.

RocketMQ keeps them as the consumer offsets of the system group ``CID_SYS_RMQ_TRANS`` in
consumerOffset.json (section 10).  Here they are a file of that same shape, of their own::

    {"offsetTable": {"RMQ_SYS_TRANS_HALF_TOPIC@CID_SYS_RMQ_TRANS": {"0": 12},
                     "RMQ_SYS_TRANS_OP_HALF_TOPIC@CID_SYS_RMQ_TRANS": {"0": 4}},
     "dataVersion": {"stateVersion": 0, "timestamp": 1700000000000, "counter": 3}}

>>> import tempfile, pathlib
>>> f = CheckProgressFile(pathlib.Path(tempfile.mkdtemp()) / FILE_NAME)
>>> f.load()
CheckProgress(half_offset=0, op_offset=0)
>>> f.save(CheckProgress(half_offset=12, op_offset=4), now_ms=1)
>>> f.load()
CheckProgress(half_offset=12, op_offset=4)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from rmqcore.message import constants as C

from rmqcore.transaction.atomic_file import write_atomically
from rmqcore.transaction.errors import TransactionProgressError

FILE_NAME: Final = "transactionCheckOffset.json"
SYSTEM_GROUP: Final = "CID_SYS_RMQ_TRANS"  # TransactionalMessageUtil.buildConsumerGroup()
HALF_KEY: Final = f"{C.TRANS_HALF_TOPIC}@{SYSTEM_GROUP}"
OP_KEY: Final = f"{C.TRANS_OP_HALF_TOPIC}@{SYSTEM_GROUP}"
_BARE_INT_KEY = re.compile(r'([{,]\s*)(-?\d+)(\s*:)')  # fastjson's unquoted Integer keys


@dataclass(frozen=True, slots=True)
class CheckProgress:
    half_offset: int = 0  # next half-queue offset the checker has not moved past
    op_offset: int = 0  # next op-queue offset whose markers may still matter


class CheckProgressFile:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._counter = 0

    def load(self) -> CheckProgress:
        if not self.path.exists():
            return CheckProgress()
        try:
            data = json.loads(_BARE_INT_KEY.sub(r'\1"\2"\3', self.path.read_text(encoding="utf-8")))
            table = data.get("offsetTable") or {}
            self._counter = int((data.get("dataVersion") or {}).get("counter", 0))
            half = int((table.get(HALF_KEY) or {}).get("0", 0))
            op = int((table.get(OP_KEY) or {}).get("0", 0))
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            raise TransactionProgressError(str(self.path), str(exc)) from exc
        return CheckProgress(half, op)

    def save(self, progress: CheckProgress, *, now_ms: int) -> None:
        self._counter += 1
        document = {
            "offsetTable": {HALF_KEY: {"0": progress.half_offset}, OP_KEY: {"0": progress.op_offset}},
            "dataVersion": {"stateVersion": 0, "timestamp": now_ms, "counter": self._counter},
        }
        write_atomically(self.path, json.dumps(document, separators=(",", ":")).encode("utf-8"))
