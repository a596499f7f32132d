"""Typed custom headers: dataclasses that read and write ``extFields``.

A header class is a ``@record`` (a slotted dataclass, ``rmqcore.remoting._records``)
subclass of ``ExtHeader``. Each field maps to one extFields key: by default the camelCase
of the field name, or ``ext_key("a")`` to name it (V2 send headers, ``clientID``, ...). A field
without a default is required (Java's ``@CFNotNull``); its absence raises
``HeaderError``. Types are ``str``, ``JavaInt``, ``JavaLong`` or ``bool`` (optionally
``| None``): an integer field names the width of its Java field (``Integer`` or
``Long`` in the Java header class), and a bare ``int`` is refused.

Values are accepted as strings, JSON numbers or JSON booleans (reference
section 13) and emitted as Java ``toString()`` strings. Keys a header does not
declare (the 5.x base keys ``ns``, ``nsd``, ``bname``, ``oway``, ``lo``,
C++'s ``AccessKey``/``Signature``, ...) are ignored.

Integer strings are read as ``Integer.parseInt`` / ``Long.parseLong`` read them
(optional sign, decimal digits, nothing else, in range; ``_javanum``); JSON numbers
must be integral and in range. Anything else raises ``HeaderError`` naming the key
and the value (SYSTEM_ERROR), as Java's NumberFormatException fails the request.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, TypeVar

from rmqcore.remoting._javanum import INT_MAX, LONG_MAX, java_int_of, parse_java_int
from rmqcore.remoting._records import Record
from rmqcore.remoting.errors import HeaderError

T = TypeVar("T", bound="ExtHeader")
_MISSING = dataclasses.MISSING
_KIND_STR, _KIND_INT, _KIND_BOOL = 0, 1, 2


class JavaWidth:
    """``Annotated`` marker: the bit width of a Java integer field (32 ``Integer``, 64 ``Long``)."""

    __slots__ = ("bits",)

    def __init__(self, bits: int) -> None:
        if bits not in (32, 64):
            raise ValueError(f"a Java integer is 32 or 64 bits, not {bits}")
        self.bits = bits

    def __repr__(self) -> str:
        return f"JavaWidth({self.bits})"


#: A header field Java declares ``Integer``/``int``: ``Integer.parseInt`` rules, 32-bit range.
JavaInt = Annotated[int, JavaWidth(32)]
#: A header field Java declares ``Long``/``long``: ``Long.parseLong`` rules, 64-bit range.
JavaLong = Annotated[int, JavaWidth(64)]


def ext_key(key: str, default: Any = _MISSING) -> Any:
    """A dataclass field stored under extFields key ``key``."""
    return dataclasses.field(default=default, metadata={"ext_key": key})


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _kind_of(annotation: Any, where: str) -> tuple[int, int]:
    """(kind, bits): bits is the Java width of an integer field, else 0."""
    if typing.get_origin(annotation) is not Annotated:
        args = typing.get_args(annotation)
        if args:  # X | None
            annotation = [a for a in args if a is not type(None)][0]
    if typing.get_origin(annotation) is Annotated:
        base, *extras = typing.get_args(annotation)
        widths = [e.bits for e in extras if isinstance(e, JavaWidth)]
        if base is int and len(widths) == 1:
            return _KIND_INT, widths[0]
        raise TypeError(f"{where}: unsupported header field type {annotation!r}")
    if annotation is bool:
        return _KIND_BOOL, 0
    if annotation is str:
        return _KIND_STR, 0
    if annotation is int:
        raise TypeError(f"{where}: declare the Java width of an integer field: JavaInt or JavaLong, not int")
    raise TypeError(f"{where}: unsupported header field type {annotation!r}")


# (attribute, extFields key, kind, required, default, bits)
_Spec = tuple[tuple[str, str, int, bool, Any, int], ...]
_SPECS: dict[type, _Spec] = {}


def _spec(cls: type) -> _Spec:
    spec = _SPECS.get(cls)
    if spec is None:
        hints = typing.get_type_hints(cls, include_extras=True)
        rows = []
        for f in dataclasses.fields(cls):
            kind, bits = _kind_of(hints[f.name], f"{cls.__name__}.{f.name}")
            rows.append(
                (
                    f.name,
                    f.metadata.get("ext_key") or _camel(f.name),
                    kind,
                    f.default is _MISSING and f.default_factory is _MISSING,
                    None if f.default is _MISSING else f.default,
                    bits,
                )
            )
        spec = _SPECS[cls] = tuple(rows)
    return spec


def _parse_int(value: Any, cls: type, key: str, bits: int) -> int:
    try:
        return java_int_of(value, bits)
    except ValueError as exc:
        raise HeaderError(key, f"{cls.__name__}: the custom field {key}: {exc}") from None


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
    for name, key, kind, required, _default, bits in _spec(spec_cls):
        value = get(key)
        if value is None:
            if required:
                raise HeaderError(key, f"{cls.__name__}: the custom field {key} is null")
            continue
        if kind == _KIND_INT:
            kwargs[name] = _parse_int(value, cls, key, bits)
        elif kind == _KIND_STR:
            kwargs[name] = _parse_str(value)
        else:
            kwargs[name] = _parse_bool(value)
    return cls(**kwargs)


def _compile_reader(cls: type, spec_cls: type) -> Any:
    """Generate a straight-line reader for ``cls`` (the broker's hot path: a V2 send header
    is read on every message). Any irregular input falls back to ``_slow_parse``, which
    either converts it (JSON numbers/booleans) or raises the precise ``HeaderError``.

    An integer string is looked up in ``_SMALL_INTS`` first (queue ids, flags, counts: most
    values on the wire); else one of ASCII digits only is converted inline and range-checked;
    any other string (a sign, Unicode digits, junk) goes through ``parse_java_int``, whose
    ValueError also sends the whole header to ``_slow_parse`` for the error."""
    lines = ["def read(ext):", "    g = ext.get", "    try:"]
    args: list[tuple[str, str]] = []
    slow = "return slow(cls, spec_cls, ext)"
    for i, (name, key, kind, required, _default, bits) in enumerate(_spec(spec_cls)):
        var = f"v{i}"
        lines.append(f"        {var} = g({key!r})")
        if required:
            lines.append(f"        if {var}.__class__ is not str: {slow}")
        else:
            lines.append(f"        if {var} is None: {var} = defaults[{i}]")
            lines.append(f"        elif {var}.__class__ is not str: {slow}")
        if kind == _KIND_INT:
            top = INT_MAX if bits == 32 else LONG_MAX
            lines.append(f"        elif (n := small({var})) is not None: {var} = n")
            lines.append(f"        elif {var}.isdigit() and {var}.isascii():")
            lines.append(f"            {var} = int({var})")
            lines.append(f"            if {var} > {top}: {slow}")
            lines.append(f"        else: {var} = parse({var}, {bits})")
        elif kind == _KIND_BOOL:
            lines.append(f"        else: {var} = {var}.lower() == 'true'")
        args.append((name, var))
    lines.append("    except ValueError:")
    lines.append(f"        {slow}")
    # Positional, in ``cls``'s own field order: cheaper than keywords.
    by_name = dict(args)
    lines.append(f"    return cls({', '.join(by_name[f.name] for f in dataclasses.fields(cls))})")
    namespace: dict[str, Any] = {
        "cls": cls,
        "spec_cls": spec_cls,
        "slow": _slow_parse,
        "parse": parse_java_int,
        "small": _SMALL_INTS.get,
        "defaults": [entry[4] for entry in _spec(spec_cls)],
    }
    exec("\n".join(lines), namespace)  # noqa: S102 - source built from our own field specs only
    return namespace["read"]


#: Canonical strings of small integers (valid in both widths) → value: the reader's first try.
_SMALL_INTS: dict[str, int] = {str(i): i for i in range(-1, 1024)}

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
    for name, key, kind, _required, _default, _bits in _spec(spec_cls):
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


class ExtHeader(Record):
    """Base of every typed custom header; subclasses are ``@record`` classes."""

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
        return tuple(key for _name, key, _kind, required, *_ in _spec(cls) if required)

    @classmethod
    def int_widths(cls) -> dict[str, int]:
        """Field name → Java width (32 or 64) of every integer field."""
        return {name: bits for name, _key, kind, _required, _default, bits in _spec(cls) if kind == _KIND_INT}
