"""Typed errors of the client.

Three families a caller handles differently (reference section 2, client-local codes):

* :class:`MQBrokerError`: the broker (or name server) answered with a non-success code;
  it carries that ``code`` and ``remark`` exactly as received.
* :class:`RemotingTimeoutError`: no answer in time (client-local ``RPC_TIME_OUT``).
* :class:`RemotingConnectError`: could not reach the peer, or the connection dropped
  while the request was in flight (``RPC_SEND_TO_CHANNEL_FAILED``).

Everything else the client refuses on its own (bad arguments, wrong state, no route)
is an :class:`MQClientError`.
"""

from __future__ import annotations


class MQClientError(Exception):
    """Base of every error the client raises; also the client's own refusals."""


class MQBrokerError(MQClientError):
    """A broker or name server answered with ``code`` (not SUCCESS) and ``remark``.

    >>> e = MQBrokerError(code=17, remark="topic[T] not exist", addr="127.0.0.1:10911")
    >>> e.code, str(e)
    (17, 'CODE: 17 DESC: topic[T] not exist (from 127.0.0.1:10911)')
    """

    def __init__(self, code: int, remark: str | None = None, addr: str | None = None) -> None:
        self.code = code
        self.remark = remark
        self.addr = addr
        text = f"CODE: {code} DESC: {remark}"
        if addr:
            text += f" (from {addr})"
        super().__init__(text)


class RemotingError(MQClientError):
    """The transport failed; no answer from the peer."""

    def __init__(self, message: str, addr: str | None = None) -> None:
        self.addr = addr
        super().__init__(message)


class RemotingTimeoutError(RemotingError, TimeoutError):
    """The peer did not answer within the request's timeout."""


class RemotingConnectError(RemotingError, ConnectionError):
    """The connection could not be made, or it dropped while a request waited."""


class NoRouteError(MQClientError):
    """The name servers know no route for the topic (and auto-create found none either)."""


class ClientStateError(MQClientError):
    """The producer or consumer is not in a state that allows the call (not started, shut down)."""


class RequestTimeoutError(MQClientError, TimeoutError):
    """A request (:meth:`Producer.request`) was sent, but no reply came within its timeout
    (``RequestTimeoutException``, client error code 10006)."""

    code = 10006
