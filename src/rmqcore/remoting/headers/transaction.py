"""Transactions (reference sections 3 and 8): END_TRANSACTION (37, producer → broker,
one-way) and CHECK_TRANSACTION_STATE (39, broker → producer, one-way)."""

from __future__ import annotations

from enum import IntEnum
from typing import ClassVar

from rmqcore.remoting._records import record
from rmqcore.remoting.codes import RequestCode
from rmqcore.remoting.headers._base import ExtHeader, JavaInt, JavaLong, ext_key


class CommitOrRollback(IntEnum):
    """``commitOrRollback`` values: MessageSysFlag transaction types."""

    UNKNOWN = 0
    COMMIT = 8
    ROLLBACK = 12


@record
class EndTransactionRequestHeader(ExtHeader):
    """``topic`` is a 5.x addition (4.x clients omit it)."""

    REQUEST_CODES: ClassVar[tuple[int, ...]] = (RequestCode.END_TRANSACTION,)

    producer_group: str
    tran_state_table_offset: JavaLong
    commit_log_offset: JavaLong
    commit_or_rollback: JavaInt
    msg_id: str
    from_transaction_check: bool = False
    transaction_id: str | None = None
    topic: str | None = None
    broker_name: str | None = ext_key("bname", None)


@record
class CheckTransactionStateRequestHeader(ExtHeader):
    REQUEST_CODES: ClassVar[tuple[int, ...]] = (RequestCode.CHECK_TRANSACTION_STATE,)

    tran_state_table_offset: JavaLong
    commit_log_offset: JavaLong
    topic: str | None = None
    msg_id: str | None = None
    transaction_id: str | None = None
    offset_msg_id: str | None = None
    broker_name: str | None = ext_key("bname", None)
