"""LOCK_BATCH_MQ (41) and UNLOCK_BATCH_MQ (42): queue locks for orderly consumers (reference section 3)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rmqcore.remoting import RemotingCommand, RequestCode, ResponseCode, make_response
from rmqcore.remoting.bodies.lock import LockBatchRequestBody, LockBatchResponseBody, UnlockBatchRequestBody

if TYPE_CHECKING:
    from rmqcore.server.broker.controller import BrokerController


class LockProcessor:
    def __init__(self, broker: BrokerController) -> None:
        self.broker = broker

    def handlers(self) -> dict[int, Any]:
        return {RequestCode.LOCK_BATCH_MQ: self.lock_batch, RequestCode.UNLOCK_BATCH_MQ: self.unlock_batch}

    def lock_batch(self, channel: Any, cmd: RemotingCommand) -> RemotingCommand:
        body = LockBatchRequestBody.decode(cmd.body)
        locked = self.broker.locks.try_lock_batch(body.consumer_group, body.mq_set, body.client_id)
        # Keep the request's order so responses are stable for clients and tests.
        ok = [mq for mq in body.mq_set if mq in locked]
        return make_response(cmd, ResponseCode.SUCCESS, body=LockBatchResponseBody(ok).encode())

    def unlock_batch(self, channel: Any, cmd: RemotingCommand) -> RemotingCommand:
        body = UnlockBatchRequestBody.decode(cmd.body)
        self.broker.locks.unlock_batch(body.consumer_group, body.mq_set, body.client_id)
        return make_response(cmd, ResponseCode.SUCCESS)
