"""``JsonBody``: the shared encode/decode contract of every JSON body."""

from __future__ import annotations

from typing import Any, TypeVar

from rmqcore.remoting.bodies._json import dumps, loads_lenient
from rmqcore.remoting.errors import BodyError

B = TypeVar("B", bound="JsonBody")


class JsonBody:
    """Subclasses implement ``to_json()`` (a JSON-ready dict, Java field names) and
    ``from_json(obj)``; ``encode``/``decode`` add bytes and error handling: any malformed
    body raises ``BodyError`` (never KeyError/TypeError)."""

    __slots__ = ()

    def to_json(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_json(cls: type[B], obj: Any) -> B:
        raise NotImplementedError

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


def as_int(value: Any) -> int:
    """A JSON number (or numeric string) as int; bool and other types are rejected."""
    if isinstance(value, bool):
        raise TypeError(f"expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise TypeError(f"expected an integer, got {value!r}")


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
