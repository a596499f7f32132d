"""``DataVersion`` (``{"stateVersion","timestamp","counter"}``): the change stamp of a broker's
topic table, in REGISTER_BROKER bodies, QUERY_DATA_VERSION and the config files."""

from __future__ import annotations

from typing import Any

from rmqcore.remoting._records import record
from rmqcore.remoting.bodies._base import JsonBody, as_dict, as_int


@record
class DataVersion(JsonBody):
    """
    >>> DataVersion.decode(DataVersion(0, 1700000000000, 3).encode())
    DataVersion(state_version=0, timestamp=1700000000000, counter=3)
    """

    state_version: int = 0
    timestamp: int = 0
    counter: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"counter": self.counter, "stateVersion": self.state_version, "timestamp": self.timestamp}

    @classmethod
    def from_json(cls, obj: Any) -> DataVersion:
        obj = as_dict(obj)
        return cls(as_int(obj.get("stateVersion", 0)), as_int(obj.get("timestamp", 0)), as_int(obj.get("counter", 0)))
