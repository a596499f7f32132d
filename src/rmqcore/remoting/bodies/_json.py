"""JSON helpers shared by the bodies: lenient parsing of fastjson output and compact emission.

Plain fastjson writes ``Map<Long|Integer, ...>`` keys unquoted (``{0:"10.0.0.1:10911"}``;
reference sections 3 and 10), which ``json.loads`` rejects. ``rectify_int_keys`` quotes
such keys outside string literals (the Go client's RectifyJsonIntKeys does the same).
"""

from __future__ import annotations

import json
import re
from typing import Any

from rmqcore.remoting.errors import BodyError

_STRING_LITERAL = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BARE_INT_KEY = re.compile(r"([{,]\s*)(-?\d+)(\s*:)")
_dumps_utf8 = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_dumps_ascii = json.JSONEncoder(ensure_ascii=True, separators=(",", ":")).encode


def rectify_int_keys(text: str) -> str:
    """Quote bare integer object keys, leaving string literals untouched.

    >>> rectify_int_keys('{"brokerAddrs":{0:"a:1",1:"b:{2:x}"}}')
    '{"brokerAddrs":{"0":"a:1","1":"b:{2:x}"}}'
    """
    out: list[str] = []
    last = 0
    for match in _STRING_LITERAL.finditer(text):
        out.append(_BARE_INT_KEY.sub(r'\1"\2"\3', text[last : match.start()]))
        out.append(match.group())
        last = match.end()
    out.append(_BARE_INT_KEY.sub(r'\1"\2"\3', text[last:]))
    return "".join(out)


def loads_lenient(data: bytes | bytearray | memoryview | str, what: str = "body") -> Any:
    """Parse JSON, retrying once with unquoted integer keys rectified; ``BodyError`` if still bad.

    >>> loads_lenient(b'{"offsetTable":{"T@G":{0:5,1:7}}}')
    {'offsetTable': {'T@G': {'0': 5, '1': 7}}}
    """
    try:
        text = data if isinstance(data, str) else bytes(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyError(f"{what} is not UTF-8: {exc}") from None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        pass
    try:
        return json.loads(rectify_int_keys(text))
    except (ValueError, RecursionError) as exc:
        raise BodyError(f"{what} is not JSON: {exc}") from None


def dumps(obj: Any, *, ascii_only: bool = False) -> bytes:
    """Compact JSON bytes; ``ascii_only`` escapes non-ASCII (fastjson BrowserCompatible)."""
    return (_dumps_ascii if ascii_only else _dumps_utf8)(obj).encode("utf-8")


def drop_none(obj: dict[str, Any]) -> dict[str, Any]:
    """fastjson omits null fields."""
    return {k: v for k, v in obj.items() if v is not None}
