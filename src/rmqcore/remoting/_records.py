"""``@record``: the slotted dataclass of every header and body class, with ``__repr__`` and
``__eq__`` shared through the ``Record`` base instead of generated per class.

``@dataclass`` compiles each generated method from source text (one ``exec`` apiece in
Python 3.11); for the sixty-odd header and body classes the generated ``__repr__`` and
``__eq__`` were a good part of importing ``rmqcore.remoting``, which every broker, name
server and client start-up pays. ``record`` keeps the generated ``__init__`` (headers are
built on the request path) and takes the other two from ``Record``, which behave exactly
as the generated ones: ``Class(field=value, ...)`` over the fields in order, and equality
when both are of the same class and the tuples of their fields are equal (else
``NotImplemented``); instances stay unhashable, as with ``eq=True``.

>>> from dataclasses import field
>>> @record
... class Point(Record):
...     x: int
...     y: int = 0
...     tags: list[str] = field(default_factory=list)
>>> Point(1), Point(1) == Point(1, 0), Point(1) == Point(2), Point(1).__eq__((1, 0, []))
(Point(x=1, y=0, tags=[]), True, False, NotImplemented)
"""

from __future__ import annotations

import dataclasses
import reprlib
from typing import TypeVar, dataclass_transform

R = TypeVar("R", bound=type)

# Per class: the names of the fields shown by __repr__ and compared by __eq__.
_REPR_FIELDS: dict[type, tuple[str, ...]] = {}
_COMPARE_FIELDS: dict[type, tuple[str, ...]] = {}


def _fields(cls: type, table: dict[type, tuple[str, ...]], flag: str) -> tuple[str, ...]:
    names = table.get(cls)
    if names is None:
        names = table[cls] = tuple(f.name for f in dataclasses.fields(cls) if getattr(f, flag))
    return names


class Record:
    """Base of ``@record`` classes: the dataclass ``__repr__`` and ``__eq__``, written once."""

    __slots__ = ()

    @reprlib.recursive_repr()
    def __repr__(self) -> str:
        cls = self.__class__
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in _fields(cls, _REPR_FIELDS, "repr"))
        return f"{cls.__qualname__}({shown})"

    def __eq__(self, other: object) -> bool:
        cls = self.__class__
        if other.__class__ is not cls:
            return NotImplemented
        names = _fields(cls, _COMPARE_FIELDS, "compare")
        return tuple([getattr(self, n) for n in names]) == tuple([getattr(other, n) for n in names])

    __hash__ = None  # type: ignore[assignment]  # as @dataclass(eq=True) leaves a mutable class


@dataclass_transform(field_specifiers=(dataclasses.field,))
def record(cls: R) -> R:
    """``@dataclass(slots=True)`` minus the generated ``__repr__`` and ``__eq__`` (``cls`` derives
    from ``Record``, which provides them)."""
    if not issubclass(cls, Record):
        raise TypeError(f"{cls.__name__}: a @record class derives from Record")
    return dataclasses.dataclass(cls, slots=True, repr=False, eq=False)  # type: ignore[return-value]


__all__ = ["Record", "record"]
