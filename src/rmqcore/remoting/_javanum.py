"""Java's decimal integer parsing: ``Integer.parseInt`` / ``Long.parseLong`` (radix 10).

Java reads every number of a custom header this way (reference sections 1 and 3), and an
unparsable one fails the request (NumberFormatException → SYSTEM_ERROR). Python's ``int()``
is more lenient: it strips whitespace (``" 1"``, ``"1\\n"``), allows underscores
(``"1_000"``), accepts decimal digits outside the BMP, and has no range. Java accepts exactly:
an optional ``+`` or ``-`` followed by one or more decimal digits (Unicode category Nd,
``Character.digit(ch, 10)``, one UTF-16 unit each, so BMP only), with the value inside the
type's range. Leading zeros are fine (``"007"``, ``"-0"``).

>>> parse_java_int("+42"), parse_java_int("-0"), parse_java_int("\\u0661\\u0662")
(42, 0, 12)
>>> parse_java_int("2147483648")
Traceback (most recent call last):
...
ValueError: '2147483648' is outside the range of a Java int
>>> parse_java_int("2147483648", 64)
2147483648
>>> parse_java_int(" 1")
Traceback (most recent call last):
...
ValueError: ' 1' is not a Java int
"""

from __future__ import annotations

import functools

INT_MIN, INT_MAX = -(1 << 31), (1 << 31) - 1
LONG_MIN, LONG_MAX = -(1 << 63), (1 << 63) - 1

#: bits → (minimum, maximum, most significant digits, Java type name)
_RANGES: dict[int, tuple[int, int, int, str]] = {
    32: (INT_MIN, INT_MAX, 10, "int"),
    64: (LONG_MIN, LONG_MAX, 19, "long"),
}


def java_type_name(bits: int) -> str:
    return _RANGES[bits][3]


def _short(text: str) -> str:
    return repr(text) if len(text) <= 40 else repr(text[:40]) + f"... ({len(text)} chars)"


@functools.cache
def _bmp_nd_zeros() -> str:
    """Every BMP character of category Nd whose digit value is 0 (digits come in runs 0..9)."""
    import unicodedata

    return "".join(c for c in map(chr, range(0x10000)) if c.isdecimal() and unicodedata.decimal(c) == 0)


def parse_java_int(text: str, bits: int = 32) -> int:
    """``text`` as Java ``Integer.parseInt`` (``bits=32``) or ``Long.parseLong`` (``bits=64``)
    reads it; ``ValueError`` (naming the text, shortened) where Java throws NumberFormatException."""
    lo, hi, max_digits, name = _RANGES[bits]
    negative = text[:1] == "-"
    body = text[1:] if negative or text[:1] == "+" else text
    if text.isascii():
        if not body.isdigit():  # ASCII: 0-9 only; also refuses "" and a lone sign
            raise ValueError(f"{_short(text)} is not a Java {name}")
        digits = body.lstrip("0")
    else:
        # isdecimal() is Unicode Nd; Java reads char by char, so a digit outside the BMP
        # (a surrogate pair) is not a digit there.
        if not body.isdecimal() or max(body) > "\uffff":
            raise ValueError(f"{_short(text)} is not a Java {name}")
        digits = body.lstrip(_bmp_nd_zeros())
    if len(digits) > max_digits:
        raise ValueError(f"{_short(text)} is outside the range of a Java {name}")
    value = int(digits) if digits else 0  # int() maps any Nd digit to its value
    if negative:
        value = -value
    if value < lo or value > hi:
        raise ValueError(f"{_short(text)} is outside the range of a Java {name}")
    return value


def java_int_of(value: object, bits: int = 32) -> int:
    """A JSON value read as a Java int/long: a string as ``parse_java_int``, a JSON number when it
    is integral and in range (booleans and everything else refused); ``ValueError`` otherwise."""
    lo, hi, _digits, name = _RANGES[bits]
    if isinstance(value, str):
        return parse_java_int(str(value), bits)
    if isinstance(value, int) and not isinstance(value, bool):
        number = int(value)
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    else:
        raise ValueError(f"{value!r:.60} is not a Java {name}")
    if number < lo or number > hi:
        shown = str(number) if number.bit_length() < 256 else f"a {number.bit_length()}-bit number"
        raise ValueError(f"{shown} is outside the range of a Java {name}")
    return number
