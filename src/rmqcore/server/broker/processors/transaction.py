"""END_TRANSACTION (37): commit or roll back a half message (reference section 8).

The producer sends it one-way (after its local transaction, or answering a
CHECK_TRANSACTION_STATE); the response is still built for clients that wait.
Checks and the commit itself are ``TransactionalMessageService.end``; its
``TransactionError(code, remark)`` becomes the response.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog

from rmqcore.remoting import RemotingCommand, RequestCode, ResponseCode, make_response
from rmqcore.remoting.headers.transaction import EndTransactionRequestHeader
from rmqcore.server.broker.store_adapter import put_error_response

if TYPE_CHECKING:
    from rmqcore.server.broker.controller import BrokerController

log = structlog.get_logger(__name__)


class EndTransactionProcessor:
    def __init__(self, broker: BrokerController) -> None:
        self.broker = broker

    def handlers(self) -> dict[int, Any]:
        return {RequestCode.END_TRANSACTION: self.end_transaction}

    def end_transaction(self, channel: Any, cmd: RemotingCommand) -> RemotingCommand | None:
        from rmqcore.transaction.errors import TransactionError

        header = EndTransactionRequestHeader.from_ext(cmd.ext_fields)
        service = self.broker.transactions
        if service is None:
            return make_response(cmd, ResponseCode.SYSTEM_ERROR, "transactions are not available on this broker")
        try:
            result = service.end(
                header.producer_group,
                header.tran_state_table_offset,
                header.commit_log_offset,
                header.commit_or_rollback,
                header.from_transaction_check,
            )
        except TransactionError as exc:
            log.warning(
                "end_transaction_refused",
                producer_group=header.producer_group,
                commit_log_offset=header.commit_log_offset,
                remark=exc.remark,
            )
            return make_response(cmd, exc.code, exc.remark)
        if result is not None:
            error = put_error_response(cmd, result)
            if error is not None:
                return error
        return make_response(cmd, ResponseCode.SUCCESS)
