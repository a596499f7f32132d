"""Typed errors of the remoting protocol.

Two kinds, because the server reacts differently (reference section 1):

* ``FrameError``: the byte stream itself is broken (oversize frame, header length
  past the frame, unknown serialize type, unparsable header). Java's Netty decoder
  closes the channel; the server should log and close the connection.
* ``HeaderError`` / ``BodyError``: one request carries a missing or unparsable
  field. The connection stays healthy; the server answers that request with
  ``response_code`` and ``remark``.
"""

from __future__ import annotations

from rmqcore.remoting.codes import ResponseCode


class RemotingError(Exception):
    """Base of every error raised by ``rmqcore.remoting``."""


class FrameError(RemotingError):
    """The stream cannot be decoded any further; close the connection."""


class RequestError(RemotingError):
    """One request is bad; answer it with ``response_code`` and ``remark``."""

    def __init__(self, remark: str, response_code: int = ResponseCode.SYSTEM_ERROR) -> None:
        super().__init__(remark)
        self.remark = remark
        self.response_code = int(response_code)


class HeaderError(RequestError):
    """A custom-header field (``extFields`` key ``key``) is missing or unparsable.

    >>> e = HeaderError("queueId", "the custom field queueId is null")
    >>> (e.key, e.response_code, e.remark)
    ('queueId', 1, 'the custom field queueId is null')
    """

    def __init__(self, key: str, remark: str, response_code: int = ResponseCode.SYSTEM_ERROR) -> None:
        super().__init__(remark, response_code)
        self.key = key


class BodyError(RequestError):
    """A JSON or binary request body cannot be decoded."""


class EncodeError(RemotingError, ValueError):
    """A command cannot be encoded (e.g. a header longer than the 24-bit length field)."""
