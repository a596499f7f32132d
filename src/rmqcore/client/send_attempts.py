"""The attempts of one send, as RocketMQ's ``sendDefaultImpl`` counts them.

:class:`SendAttempts` holds the retry rules and the state between attempts; whoever makes
an attempt (the event loop's transport, or the synchronous facade's blocking socket) asks it
for the next queue and reports what happened, so both follow the same rules:

* at most ``1 + retries`` attempts (one when the queue is fixed by a selector or the
  caller), all within the send's one deadline;
* a transport failure or a broker answer in ``RETRY_RESPONSE_CODES`` marks the broker
  unavailable for a while, asks for a route refresh and moves to another broker; any other
  broker answer is raised at once;
* an answer stored but not as durably as asked (FLUSH_DISK_TIMEOUT, ...) is kept and, with
  ``retry_when_not_ok``, another broker is tried; if none does better, the kept one is the
  result.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import structlog

from rmqcore.client.errors import MQBrokerError, RemotingError, RemotingTimeoutError
from rmqcore.client.route import TopicPublishInfo
from rmqcore.client.send_result import SendResult, SendStatus
from rmqcore.message import MessageQueue
from rmqcore.remoting import ResponseCode

if TYPE_CHECKING:
    from rmqcore.client.client_instance import ClientInstance

log = structlog.get_logger("rmqcore.client.producer")

RETRY_RESPONSE_CODES = frozenset(
    {
        ResponseCode.TOPIC_NOT_EXIST,
        ResponseCode.SERVICE_NOT_AVAILABLE,
        ResponseCode.SYSTEM_ERROR,
        ResponseCode.SYSTEM_BUSY,  # in the 5.x set: a busy broker (page cache, flow control) is worth another
        ResponseCode.NO_PERMISSION,
        ResponseCode.NO_BUYER_ID,
        ResponseCode.NOT_IN_CURRENT_UNIT,
    }
)
"""``DefaultMQProducer.retryResponseCodes``: broker answers after which another broker is tried."""


class SendAttempts:
    """State of one send between attempts; see the module docstring.

    Use::

        while (mq := attempts.next_queue()) is not None:
            try:
                result = <send to mq within attempts.remaining seconds>
            except (RemotingError, MQBrokerError) as exc:
                attempts.failed(mq, exc)  # raises when not worth another attempt
                continue
            if attempts.answered(mq, result):
                return result
        return attempts.outcome()  # the kept answer, or raises the last error
    """

    __slots__ = ("instance", "info", "topic", "timeout", "deadline", "remaining", "fixed_mq", "limit", "tried",
                 "retry_when_not_ok", "refresh_route", "last_broker", "last_error", "stored_not_ok")

    def __init__(
        self,
        instance: ClientInstance,
        info: TopicPublishInfo,
        topic: str,
        timeout: float,
        *,
        retries: int,
        retry_when_not_ok: bool,
        fixed_mq: MessageQueue | None,
        refresh_route: Callable[[str], object],
    ) -> None:
        self.instance = instance
        self.info = info
        self.topic = topic
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.remaining = timeout
        self.fixed_mq = fixed_mq
        self.limit = 1 if fixed_mq is not None else 1 + retries
        self.tried = 0
        self.retry_when_not_ok = retry_when_not_ok
        self.refresh_route = refresh_route
        self.last_broker: str | None = None
        self.last_error: Exception | None = None
        self.stored_not_ok: SendResult | None = None

    def next_queue(self) -> MessageQueue | None:
        """The queue for the next attempt, or None when attempts or time are used up."""
        if self.tried >= self.limit:
            return None
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            return None
        self.remaining = remaining
        self.tried += 1
        if self.fixed_mq is not None:
            return self.fixed_mq
        return self.info.select_queue(self.last_broker, self.instance.availability)

    def failed(self, mq: MessageQueue, exc: RemotingError | MQBrokerError) -> None:
        """The attempt on ``mq`` raised ``exc``: re-raise it unless another attempt may help."""
        if isinstance(exc, MQBrokerError) and exc.code not in RETRY_RESPONSE_CODES:
            raise exc
        self.last_error = exc
        self.last_broker = mq.broker_name
        instance = self.instance
        instance.availability.mark_failed(mq.broker_name)
        self.refresh_route(self.topic)
        log.warning("send_attempt_failed", topic=self.topic, mq=str(mq), attempt=self.tried, error=str(exc))
        if self.fixed_mq is None:
            self.info = instance.publish_info.get(self.topic, self.info)

    def answered(self, mq: MessageQueue, result: SendResult) -> bool:
        """The broker of ``mq`` stored the message: True when ``result`` is the send's result."""
        self.instance.availability.mark_ok(mq.broker_name)
        if result.status is not SendStatus.SEND_OK and self.retry_when_not_ok and self.tried < self.limit:
            # Stored, but not as durably as asked: try another broker, keep this answer meanwhile.
            self.stored_not_ok = result
            self.last_broker = mq.broker_name
            return False
        return True

    def outcome(self) -> SendResult:
        """After the last attempt: the kept answer, or the last attempt's own typed error."""
        if self.stored_not_ok is not None:
            return self.stored_not_ok
        error = self.last_error
        if error is None:
            raise RemotingTimeoutError(f"send to topic {self.topic} timed out after {self.timeout:.3f}s")
        error.add_note(f"send to topic {self.topic} failed {self.tried} time(s)")
        raise error
