"""Typed custom headers: dataclasses that read and write ``extFields``.

A header class is a ``@dataclass(slots=True)`` subclass of ``ExtHeader``. Each
field maps to one extFields key: by default the camelCase of the field name,
or ``ext_key("a")`` to name it (V2 send headers, ``clientID``, ...). A field
without a default is required (Java's ``@CFNotNull``); its absence raises
``HeaderError``. Types are ``str``, ``int`` or ``bool`` (optionally ``| None``).

Values are accepted as strings, JSON numbers or JSON booleans (reference
section 13) and emitted as Java ``toString()`` strings. Keys a header does not
declare (the 5.x base keys ``ns``, ``nsd``, ``bname``, ``oway``, ``lo``,
C++'s ``AccessKey``/``Signature``, ...) are ignored.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from rmqcore.remoting.errors import HeaderError

T = TypeVar("T", bound="ExtHeader")
_MISSING = dataclasses.MISSING
_KIND_STR, _KIND_INT, _KIND_BOOL = 0, 1, 2


def ext_key(key: str, default: Any = _MISSING) -> Any:
    """A dataclass field stored under extFields key ``key``."""
    return dataclasses.field(default=default, metadata={"ext_key": key})


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _kind_of(annotation: Any) -> int:
    args = typing.get_args(annotation)
    if args:  # X | None
        candidates = [a for a in args if a is not type(None)]
        annotation = candidates[0]
    if annotation is bool:
        return _KIND_BOOL
    if annotation is int:
        return _KIND_INT
    if annotation is str:
        return _KIND_STR
    raise TypeError(f"unsupported header field type {annotation!r}")


# (attribute, extFields key, kind, required, default)
_Spec = tuple[tuple[str, str, int, bool, Any], ...]
_SPECS: dict[type, _Spec] = {}


def _spec(cls: type) -> _Spec:
    spec = _SPECS.get(cls)
    if spec is None:
        hints = typing.get_type_hints(cls)
        spec = tuple(
            (
                f.name,
                f.metadata.get("ext_key") or _camel(f.name),
                _kind_of(hints[f.name]),
                f.default is _MISSING and f.default_factory is _MISSING,
                None if f.default is _MISSING else f.default,
            )
            for f in dataclasses.fields(cls)
        )
        _SPECS[cls] = spec
    return spec


def _parse_int(value: Any, cls: type, key: str) -> int:
    if value.__class__ is int:
        return value
    try:
        if isinstance(value, str):
            return int(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
    except ValueError:
        pass
    raise HeaderError(key, f"{cls.__name__}: the custom field {key}={value!r} is not an integer")


def _parse_bool(value: Any) -> bool:
    # Java Boolean.parseBoolean: only "true" (any case) is true.
    if value.__class__ is bool:
        return value
    if isinstance(value, str):
        return value.lower() == "true"
    if isinstance(value, (int, float)):
        return value != 0
    return False


def _parse_str(value: Any) -> str:
    if value.__class__ is str:
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def _slow_parse(cls: type[T], spec_cls: type, ext: Mapping[str, Any]) -> T:
    """Reference implementation; also produces the precise ``HeaderError``."""
    kwargs: dict[str, Any] = {}
    get = ext.get
    for name, key, kind, required, _default in _spec(spec_cls):
        value = get(key)
        if value is None:
            if required:
                raise HeaderError(key, f"{cls.__name__}: the custom field {key} is null")
            continue
        if kind == _KIND_INT:
            kwargs[name] = _parse_int(value, cls, key)
        elif kind == _KIND_STR:
            kwargs[name] = _parse_str(value)
        else:
            kwargs[name] = _parse_bool(value)
    return cls(**kwargs)


def _compile_reader(cls: type, spec_cls: type) -> Any:
    """Generate a straight-line reader for ``cls`` (the broker's hot path: a V2 send header
    is read on every message). Any irregular input falls back to ``_slow_parse``, which
    either converts it (JSON numbers/booleans) or raises the precise ``HeaderError``."""
    lines = ["def read(ext):", "    g = ext.get", "    try:"]
    args: list[tuple[str, str]] = []
    for i, (name, key, kind, required, default) in enumerate(_spec(spec_cls)):
        var = f"v{i}"
        lines.append(f"        {var} = g({key!r})")
        if kind == _KIND_STR:
            check = f"{var}.__class__ is not str"
            conv = None
        elif kind == _KIND_INT:
            check = f"{var}.__class__ is not str"
            conv = f"int({var})"
        else:
            check = f"{var}.__class__ is not str"
            conv = f"{var}.lower() == 'true'"
        if required:
            lines.append(f"        if {check}: return slow(cls, spec_cls, ext)")
            if conv:
                lines.append(f"        {var} = {conv}")
        else:
            lines.append(f"        if {var} is None: {var} = defaults[{i}]")
            lines.append(f"        elif {check}: return slow(cls, spec_cls, ext)")
            if conv:
                lines.append(f"        else: {var} = {conv}")
        args.append((name, var))
    lines.append("    except ValueError:")
    lines.append("        return slow(cls, spec_cls, ext)")
    # Positional, in ``cls``'s own field order: cheaper than keywords.
    by_name = dict(args)
    lines.append(f"    return cls({', '.join(by_name[f.name] for f in dataclasses.fields(cls))})")
    namespace: dict[str, Any] = {
        "cls": cls,
        "spec_cls": spec_cls,
        "slow": _slow_parse,
        "defaults": [entry[4] for entry in _spec(spec_cls)],
    }
    exec("\n".join(lines), namespace)  # noqa: S102 - source built from our own field specs only
    return namespace["read"]


_READERS: dict[tuple[type, type], Any] = {}


def parse_ext(cls: type[T], spec_cls: type, ext: Mapping[str, Any]) -> T:
    """Build ``cls`` from ``ext`` using the keys declared by ``spec_cls`` (same field names)."""
    reader = _READERS.get((cls, spec_cls))
    if reader is None:
        reader = _READERS[(cls, spec_cls)] = _compile_reader(cls, spec_cls)
    return reader(ext)


def _compile_writer(spec_cls: type) -> Any:
    """Generate a straight-line extFields writer (the send response is encoded per message)."""
    lines = ["def write(o):", "    ext = {}"]
    for name, key, kind, _required, _default in _spec(spec_cls):
        lines.append(f"    v = o.{name}")
        if kind == _KIND_BOOL:
            lines.append(f"    if v is not None: ext[{key!r}] = 'true' if v else 'false'")
        elif kind == _KIND_INT:
            lines.append(f"    if v is not None: ext[{key!r}] = str(v) if v.__class__ is int else str(int(v))")
        else:
            lines.append(f"    if v is not None: ext[{key!r}] = v if v.__class__ is str else str(v)")
    lines.append("    return ext")
    namespace: dict[str, Any] = {}
    exec("\n".join(lines), namespace)  # noqa: S102 - source built from our own field specs only
    return namespace["write"]


_WRITERS: dict[type, Any] = {}


def render_ext(obj: Any, spec_cls: type) -> dict[str, str]:
    """``obj``'s fields as extFields strings under ``spec_cls``'s keys; ``None`` is omitted."""
    writer = _WRITERS.get(spec_cls)
    if writer is None:
        writer = _WRITERS[spec_cls] = _compile_writer(spec_cls)
    return writer(obj)  # type: ignore[no-any-return]


class ExtHeader:
    """Base of every typed custom header; subclasses are slotted dataclasses."""

    __slots__ = ()
    REQUEST_CODES: ClassVar[tuple[int, ...]] = ()

    @classmethod
    def from_ext(cls: type[T], ext: Mapping[str, Any]) -> T:
        """Read the header from extFields; ``HeaderError`` names a missing or unparsable key."""
        return parse_ext(cls, cls, ext)

    def to_ext(self) -> dict[str, str]:
        """The extFields map, every value a Java ``toString()`` string."""
        return render_ext(self, type(self))

    @classmethod
    def ext_keys(cls) -> dict[str, str]:
        """Field name → extFields key."""
        return {name: key for name, key, *_ in _spec(cls)}

    @classmethod
    def required_keys(cls) -> tuple[str, ...]:
        return tuple(key for _name, key, _kind, required, _default in _spec(cls) if required)
