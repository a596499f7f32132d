"""``JsonBody``: the shared encode/decode contract of every JSON body."""

from __future__ import annotations

import abc

from typing import Any, TypeVar

from rmqcore.remoting._javanum import java_int_of
from rmqcore.remoting._records import Record
from rmqcore.remoting.bodies._json import dumps, loads_lenient
from rmqcore.remoting.errors import BodyError

B = TypeVar("B", bound="JsonBody")


class JsonBody(Record, abc.ABC):
    """Subclasses (``@record`` classes) implement ``to_json()`` (a JSON-ready dict, Java field
    names) and ``from_json(obj)``; ``encode``/``decode`` add bytes and error handling: any
    malformed body raises ``BodyError`` (never KeyError/TypeError)."""

    __slots__ = ()

    @abc.abstractmethod
    def to_json(self) -> dict[str, Any]:
        """The body as a JSON-ready dict with Java's field names."""

    @classmethod
    @abc.abstractmethod
    def from_json(cls: type[B], obj: Any) -> B:
        """Build the body from parsed JSON; malformed input raises KeyError/TypeError/ValueError."""

    def encode(self) -> bytes:
        return dumps(self.to_json())

    @classmethod
    def decode(cls: type[B], data: bytes | bytearray | memoryview | None) -> B:
        if not data:
            raise BodyError(f"{cls.__name__}: request has no body")
        obj = loads_lenient(data, cls.__name__)
        try:
            return cls.from_json(obj)
        except BodyError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BodyError(f"{cls.__name__}: malformed body: {type(exc).__name__}: {exc}") from None


def as_int(value: Any, bits: int = 64) -> int:
    """A JSON number (or numeric string) as a Java ``long`` (``bits=64``) or ``int``
    (``bits=32``): integral and in range, a string read as ``Long.parseLong`` /
    ``Integer.parseInt`` read it; bool and other types are rejected (``ValueError``).

    >>> as_int(7), as_int("-3"), as_int(2.0)
    (7, -3, 2)
    >>> as_int(2**31, bits=32)
    Traceback (most recent call last):
    ...
    ValueError: 2147483648 is outside the range of a Java int
    """
    return java_int_of(value, bits)


def as_int32(value: Any) -> int:
    """``as_int`` for a Java ``int`` field."""
    return java_int_of(value, 32)


def as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.lower() == "true"
    if isinstance(value, (int, float)):
        return value != 0
    raise TypeError(f"expected a boolean, got {value!r}")


def as_str(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    raise TypeError(f"expected a string, got {value!r}")


def opt_str(value: Any) -> str | None:
    return None if value is None else as_str(value)


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise TypeError(f"expected a list, got {type(value).__name__}")
    return value


def as_dict(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TypeError(f"expected an object, got {type(value).__name__}")
    return value
