"""``TransactionProducer``: half message, local transaction, END_TRANSACTION (reference section 8).

``send_in_transaction(msg, arg)`` sends ``msg`` as a prepared (half) message; if it is stored,
``listener.execute_local_transaction(msg, arg)`` decides COMMIT / ROLLBACK / UNKNOW, and the
producer tells the broker with a one-way END_TRANSACTION carrying the commitlog offset (decoded
from the offset message id) and the half message's queue offset. When the answer was UNKNOW
(or got lost) the broker later asks with CHECK_TRANSACTION_STATE; the producer answers with
``listener.check_local_transaction(msg_ext)``. Listener methods may be plain or ``async``.
"""

from __future__ import annotations

import enum
import inspect
from dataclasses import dataclass
from typing import Any, Protocol

import anyio
import structlog

from rmqcore.client.client_instance import TransactionChecker
from rmqcore.client.errors import MQClientError
from rmqcore.client.producer import Producer
from rmqcore.client.send_result import SendResult, SendStatus
from rmqcore.message import Message, MessageExt, decode_offset_message_id
from rmqcore.message import constants as C
from rmqcore.remoting import headers as H
from rmqcore.remoting.headers.transaction import CommitOrRollback

log = structlog.get_logger(__name__)


class LocalTransactionState(enum.Enum):
    COMMIT_MESSAGE = "COMMIT_MESSAGE"
    ROLLBACK_MESSAGE = "ROLLBACK_MESSAGE"
    UNKNOW = "UNKNOW"
    # Short names for the same states.
    COMMIT = "COMMIT_MESSAGE"
    ROLLBACK = "ROLLBACK_MESSAGE"
    UNKNOWN = "UNKNOW"


_WIRE = {
    LocalTransactionState.COMMIT_MESSAGE: CommitOrRollback.COMMIT,
    LocalTransactionState.ROLLBACK_MESSAGE: CommitOrRollback.ROLLBACK,
    LocalTransactionState.UNKNOW: CommitOrRollback.UNKNOWN,
}


class TransactionListener(Protocol):
    def execute_local_transaction(self, msg: Message, arg: Any) -> LocalTransactionState: ...

    def check_local_transaction(self, msg: MessageExt) -> LocalTransactionState: ...


@dataclass(frozen=True, slots=True)
class TransactionSendResult:
    send_result: SendResult
    local_transaction_state: LocalTransactionState

    @property
    def status(self) -> SendStatus:
        return self.send_result.status

    @property
    def msg_id(self) -> str | None:
        return self.send_result.msg_id

    def __str__(self) -> str:
        return f"{self.send_result} localTransactionState={self.local_transaction_state.value}"


async def _call(fn: Any, *args: Any) -> Any:
    if inspect.iscoroutinefunction(fn):
        return await fn(*args)
    result = await anyio.to_thread.run_sync(fn, *args)
    return await result if inspect.isawaitable(result) else result


class TransactionProducer(Producer):
    def __init__(self, group: str, listener: TransactionListener, namesrv_addr: str | None = None, **kwargs: Any) -> None:
        super().__init__(group, namesrv_addr, **kwargs)
        self.listener = listener

    def _transaction_checker(self) -> TransactionChecker | None:
        return self._check_transaction_state

    async def send_in_transaction(self, msg: Message, arg: Any = None, timeout: float | None = None) -> TransactionSendResult:
        if msg.delay_level:
            # The broker would deliver a delayed half message late; Java clears the level too.
            msg.delay_level = 0
        msg.properties[C.PROPERTY_TRANSACTION_PREPARED] = "true"
        msg.properties[C.PROPERTY_PRODUCER_GROUP] = self.group
        result = await self.send(msg, timeout)
        state = LocalTransactionState.UNKNOW
        error: BaseException | None = None
        if result.status is SendStatus.SEND_OK:
            # Java: the transaction id is the message's UNIQ_KEY (the broker echoes it in the check).
            msg.transaction_id = msg.uniq_key or result.transaction_id
            try:
                state = LocalTransactionState(await _call(self.listener.execute_local_transaction, msg, arg) or "UNKNOW")
            except Exception as exc:  # the broker's check will ask again
                log.warning("execute_local_transaction_failed", group=self.group, msg_id=result.msg_id, error=str(exc))
                error = exc
        else:
            state = LocalTransactionState.ROLLBACK_MESSAGE
        try:
            await self.end_transaction(result, state, error)
        except MQClientError as exc:
            # One-way and best effort, as in Java: the check loop settles a lost END_TRANSACTION.
            log.warning("end_transaction_failed", group=self.group, msg_id=result.msg_id, error=str(exc))
        return TransactionSendResult(result, state)

    async def end_transaction(self, result: SendResult, state: LocalTransactionState, error: BaseException | None = None) -> None:
        if result.offset_msg_id is None:
            raise MQClientError("send result has no offset message id; cannot end the transaction")
        _, commitlog_offset = decode_offset_message_id(result.offset_msg_id)
        mq = result.message_queue
        addr = await self.instance.find_broker_addr(mq.broker_name, mq.topic)
        header = H.EndTransactionRequestHeader(
            producer_group=self.group,
            tran_state_table_offset=result.queue_offset,
            commit_log_offset=commitlog_offset,
            commit_or_rollback=int(_WIRE[state]),
            msg_id=result.msg_id or "",
            from_transaction_check=False,
            transaction_id=result.transaction_id or result.msg_id,
            topic=mq.topic,
            broker_name=mq.broker_name,
        )
        remark = f"executeLocalTransactionBranch exception: {error}" if error else None
        await self.instance.api.end_transaction_oneway(addr, header, remark)

    async def _check_transaction_state(self, addr: str, msg: MessageExt, check: H.CheckTransactionStateRequestHeader) -> None:
        error: BaseException | None = None
        msg.transaction_id = check.transaction_id or msg.properties.get(C.PROPERTY_TRANSACTION_ID) or msg.uniq_key
        try:
            state = LocalTransactionState(await _call(self.listener.check_local_transaction, msg) or "UNKNOW")
        except Exception as exc:
            log.warning("check_local_transaction_failed", group=self.group, msg_id=check.msg_id, error=str(exc))
            state, error = LocalTransactionState.UNKNOW, exc
        uniq = msg.properties.get(C.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX) or msg.msg_id or check.msg_id or ""
        header = H.EndTransactionRequestHeader(
            producer_group=self.group,
            tran_state_table_offset=check.tran_state_table_offset,
            commit_log_offset=check.commit_log_offset,
            commit_or_rollback=int(_WIRE[state]),
            msg_id=uniq,
            from_transaction_check=True,
            transaction_id=check.transaction_id,
            topic=check.topic or msg.topic,
            broker_name=check.broker_name,
        )
        remark = f"checkLocalTransactionState exception: {error}" if error else None
        try:
            await self.instance.api.end_transaction_oneway(addr, header, remark)
        except MQClientError as exc:
            log.warning("end_transaction_after_check_failed", group=self.group, msg_id=uniq, error=str(exc))
