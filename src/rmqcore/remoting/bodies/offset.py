"""Offset tables: GET_ALL_CONSUMER_OFFSET (43) and GET_ALL_DELAY_OFFSET (45) bodies, the
same shapes as ``consumerOffset.json`` and ``delayOffset.json`` (reference section 10).

Java writes the Integer keys unquoted (plain fastjson); parsing accepts both forms,
emission quotes them. Unknown keys (``groupTopicMap``) are ignored.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any

from rmqcore.remoting._records import record
from rmqcore.remoting.bodies._base import JsonBody, as_dict, as_int, as_int32, as_str
from rmqcore.remoting.bodies.data_version import DataVersion

#: Separator of the ``"<topic>@<group>"`` keys of the consumer offset table.
TOPIC_GROUP_SEPARATOR = "@"


@record
class ConsumerOffsetSerializeWrapper(JsonBody):
    """``offset_table``: ``"topic@group"`` → {queueId: offset}.

    >>> w = ConsumerOffsetSerializeWrapper.decode(b'{"offsetTable":{"T@G":{0:5,1:7}},"groupTopicMap":{"G":["T"]}}')
    >>> w.offset_table
    {'T@G': {0: 5, 1: 7}}
    >>> w.encode()
    b'{"offsetTable":{"T@G":{"0":5,"1":7}}}'
    """

    offset_table: dict[str, dict[int, int]] = field(default_factory=dict)
    data_version: DataVersion | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.data_version is not None:
            out["dataVersion"] = self.data_version.to_json()
        out["offsetTable"] = {
            key: {str(qid): off for qid, off in sorted(queues.items())} for key, queues in self.offset_table.items()
        }
        return out

    @classmethod
    def from_json(cls, obj: Any) -> ConsumerOffsetSerializeWrapper:
        obj = as_dict(obj)
        dv = obj.get("dataVersion")
        return cls(
            {
                as_str(key): {as_int32(qid): as_int(off) for qid, off in as_dict(queues).items()}
                for key, queues in as_dict(obj.get("offsetTable")).items()
            },
            DataVersion.from_json(dv) if dv is not None else None,
        )


@record
class DelayOffsetSerializeWrapper(JsonBody):
    """``offset_table``: delay level → offset in SCHEDULE_TOPIC_XXXX queue level-1."""

    offset_table: dict[int, int] = field(default_factory=dict)
    data_version: DataVersion | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.data_version is not None:
            out["dataVersion"] = self.data_version.to_json()
        out["offsetTable"] = {str(level): off for level, off in sorted(self.offset_table.items())}
        return out

    @classmethod
    def from_json(cls, obj: Any) -> DelayOffsetSerializeWrapper:
        obj = as_dict(obj)
        dv = obj.get("dataVersion")
        return cls(
            {as_int32(level): as_int(off) for level, off in as_dict(obj.get("offsetTable")).items()},
            DataVersion.from_json(dv) if dv is not None else None,
        )
