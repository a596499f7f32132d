"""Small client-facing bodies: GET_CONSUMER_LIST_BY_GROUP (38) reply, KV tables (namesrv KV
config), CONSUME_MESSAGE_DIRECTLY (309) result. GET_CONSUMER_RUNNING_INFO (307) replies are
not modelled: read them with ``decode_json_body``."""

from __future__ import annotations

from dataclasses import field
from typing import Any

from rmqcore.remoting._records import record
from rmqcore.remoting.bodies._base import JsonBody, as_bool, as_dict, as_int, as_list, as_str, opt_str
from rmqcore.remoting.bodies._json import drop_none, loads_lenient


def decode_json_body(data: bytes | bytearray | memoryview) -> Any:
    """Any fastjson body as plain Python data (unquoted integer keys tolerated); ``BodyError`` if not JSON."""
    return loads_lenient(data)


@record
class ConsumerListBody(JsonBody):
    """
    >>> ConsumerListBody(["c1", "c2"]).encode()
    b'{"consumerIdList":["c1","c2"]}'
    """

    consumer_id_list: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"consumerIdList": list(self.consumer_id_list)}

    @classmethod
    def from_json(cls, obj: Any) -> ConsumerListBody:
        return cls([as_str(c) for c in as_list(as_dict(obj).get("consumerIdList"))])


@record
class KVTable(JsonBody):
    """``{"table":{key:value}}``: the KV pairs of one name-server namespace."""

    table: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"table": dict(self.table)}

    @classmethod
    def from_json(cls, obj: Any) -> KVTable:
        return cls({as_str(k): as_str(v) for k, v in as_dict(as_dict(obj).get("table")).items()})


@record
class ConsumeMessageDirectlyResult(JsonBody):
    """``consume_result``: ``CR_SUCCESS``, ``CR_LATER``, ``CR_ROLLBACK``, ``CR_COMMIT``,
    ``CR_THROW_EXCEPTION`` or ``CR_RETURN_NULL``."""

    order: bool = False
    auto_commit: bool = True
    consume_result: str | None = None
    remark: str | None = None
    spent_time_mills: int = 0

    def to_json(self) -> dict[str, Any]:
        return drop_none(
            {
                "autoCommit": self.auto_commit,
                "consumeResult": self.consume_result,
                "order": self.order,
                "remark": self.remark,
                "spentTimeMills": self.spent_time_mills,
            }
        )

    @classmethod
    def from_json(cls, obj: Any) -> ConsumeMessageDirectlyResult:
        obj = as_dict(obj)
        return cls(
            as_bool(obj.get("order", False)),
            as_bool(obj.get("autoCommit", True)),
            opt_str(obj.get("consumeResult")),
            opt_str(obj.get("remark")),
            as_int(obj.get("spentTimeMills", 0)),
        )
