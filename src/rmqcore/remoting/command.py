"""``RemotingCommand``: one request or response, independent of its serialization.

``ext_fields`` always holds strings (what Java's ``extFields`` map holds after
``makeCustomHeaderToNet``); decoders stringify JSON numbers and booleans the way
Java's ``toString()`` does (reference section 13).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, Union

from rmqcore.remoting.codes import CURRENT_VERSION, ONEWAY_FLAG, RESPONSE_FLAG, LanguageCode, SerializeType
from rmqcore.remoting.errors import RequestError


class HasToExt(Protocol):
    def to_ext(self) -> dict[str, str]: ...


ExtLike = Union[Mapping[str, str], HasToExt, None]


@dataclass(slots=True, eq=True)
class RemotingCommand:
    """A request or response (reference section 1, "Header fields").

    >>> req = RemotingCommand(code=105, opaque=7, ext_fields={"topic": "T"})
    >>> (req.is_response, req.is_oneway)
    (False, False)
    >>> make_response(req, 0).is_response, make_response(req, 0).opaque
    (True, 7)
    """

    code: int
    language: LanguageCode = LanguageCode.JAVA
    version: int = CURRENT_VERSION
    opaque: int = 0
    flag: int = 0
    remark: str | None = None
    ext_fields: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    serialize_type: SerializeType = SerializeType.JSON

    @property
    def is_response(self) -> bool:
        return bool(self.flag & RESPONSE_FLAG)

    @property
    def is_oneway(self) -> bool:
        return bool(self.flag & ONEWAY_FLAG)

    def mark_response(self) -> None:
        self.flag |= RESPONSE_FLAG

    def mark_oneway(self) -> None:
        self.flag |= ONEWAY_FLAG


def _ext_dict(ext: ExtLike) -> dict[str, str]:
    if ext is None:
        return {}
    to_ext = getattr(ext, "to_ext", None)
    if to_ext is not None:
        return to_ext()
    return dict(ext)  # type: ignore[arg-type]


def make_request(
    code: int,
    ext: ExtLike = None,
    body: bytes | None = None,
    *,
    opaque: int = 0,
    oneway: bool = False,
    language: LanguageCode = LanguageCode.JAVA,
    version: int = CURRENT_VERSION,
    serialize_type: SerializeType = SerializeType.JSON,
) -> RemotingCommand:
    """A request; ``ext`` is a dict of strings or a typed header (anything with ``to_ext()``).

    >>> make_request(105, {"topic": "T"}, opaque=3, oneway=True).flag
    2
    """
    return RemotingCommand(
        code=int(code),
        language=language,
        version=version,
        opaque=opaque,
        flag=ONEWAY_FLAG if oneway else 0,
        ext_fields=_ext_dict(ext),
        body=body,
        serialize_type=serialize_type,
    )


def make_response(
    request: RemotingCommand,
    code: int,
    remark: str | None = None,
    ext: ExtLike = None,
    body: bytes | None = None,
    *,
    language: LanguageCode = LanguageCode.JAVA,
    version: int = CURRENT_VERSION,
    serialize_type: SerializeType = SerializeType.JSON,
) -> RemotingCommand:
    """The response to ``request``: same opaque, RESPONSE flag set.

    The serialize type is the server's own default (JSON), not the request's, as the
    Java server does (reference section 1); pass ``serialize_type`` to change it.

    >>> req = RemotingCommand(code=10, opaque=42)
    >>> resp = make_response(req, 17, remark="topic not exist")
    >>> (resp.code, resp.opaque, resp.flag, resp.remark)
    (17, 42, 1, 'topic not exist')
    """
    return RemotingCommand(
        code=int(code),
        language=language,
        version=version,
        opaque=request.opaque,
        flag=RESPONSE_FLAG,
        remark=remark,
        ext_fields=_ext_dict(ext),
        body=body,
        serialize_type=serialize_type,
    )


def make_error_response(request: RemotingCommand, error: RequestError) -> RemotingCommand:
    """Answer ``request`` with the code and remark a ``HeaderError``/``BodyError`` carries.

    >>> from rmqcore.remoting.errors import HeaderError
    >>> r = make_error_response(RemotingCommand(code=10, opaque=5), HeaderError("b", "the custom field b is null"))
    >>> (r.code, r.opaque, r.remark)
    (1, 5, 'the custom field b is null')
    """
    return make_response(request, error.response_code, remark=error.remark)


class OpaqueCounter:
    """Thread-safe request ids: 0, 1, 2, ... wrapping to 0 after 2**31-1 (Java int).

    >>> c = OpaqueCounter(start=2**31 - 1)
    >>> (c.next(), c.next())
    (2147483647, 0)
    """

    __slots__ = ("_counter", "_lock")

    def __init__(self, start: int = 0) -> None:
        self._counter = itertools.count(start)
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            return next(self._counter) & 0x7FFFFFFF

    __next__ = next

    def __iter__(self) -> OpaqueCounter:
        return self
