"""What a broker with ``brokerRole=SLAVE`` refuses: every request that would write its store.

A slave's store holds what its master replicated to it; a write of its own would make the
two diverge. As in RocketMQ, sends, batch sends and consumer send-backs are answered
SERVICE_NOT_AVAILABLE (the store's "slave mode, so putMessage is forbidden"), and
END_TRANSACTION is answered SLAVE_NOT_AVAILABLE (reference section 8). Reads (pulls,
queries, offsets) are served as on a master. The controller installs these handlers over
the write handlers only when the role is SLAVE, and then does not run the delay or
transaction-check jobs either (both write).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog

from rmqcore.remoting import RemotingCommand, RequestCode, ResponseCode, make_response
from rmqcore.server.broker.store_adapter import SERVICE_NOT_AVAILABLE_REMARK

if TYPE_CHECKING:
    from rmqcore.server.broker.controller import BrokerController

log = structlog.get_logger(__name__)

PUT_FORBIDDEN = "message store is slave mode, so putMessage is forbidden"
END_TRANSACTION_FORBIDDEN = "Message store is slave mode, so end transaction is forbidden."

_WRITES = (
    RequestCode.SEND_MESSAGE,
    RequestCode.SEND_MESSAGE_V2,
    RequestCode.SEND_BATCH_MESSAGE,
    RequestCode.CONSUMER_SEND_MSG_BACK,
)


class SlaveWriteRefusal:
    def __init__(self, broker: BrokerController) -> None:
        self.broker = broker

    def handlers(self) -> dict[int, Any]:
        table: dict[int, Any] = {code: self.refuse_put for code in _WRITES}
        table[RequestCode.END_TRANSACTION] = self.refuse_end_transaction
        return table

    def refuse_put(self, channel: Any, cmd: RemotingCommand) -> RemotingCommand | None:
        log.warning("slave_put_refused", code=cmd.code, broker=self.broker.broker_name)
        if cmd.is_oneway:
            return None
        return make_response(cmd, ResponseCode.SERVICE_NOT_AVAILABLE, SERVICE_NOT_AVAILABLE_REMARK.format(detail=PUT_FORBIDDEN))

    def refuse_end_transaction(self, channel: Any, cmd: RemotingCommand) -> RemotingCommand | None:
        log.warning("slave_end_transaction_refused", broker=self.broker.broker_name)
        if cmd.is_oneway:  # clients send END_TRANSACTION one-way; nothing to answer then
            return None
        return make_response(cmd, ResponseCode.SLAVE_NOT_AVAILABLE, END_TRANSACTION_FORBIDDEN)
