"""Java value semantics the selector depends on (reference section 6, "Evaluation").

Runtime values model Java's boxed types so that coercion follows RocketMQ's
``ComparisonExpression.__compare`` exactly:

=================  ==========================================================
Java               Python value
=================  ==========================================================
null               ``None``
String             ``str``
Boolean            ``bool``
Integer            ``int`` (always within int32)
Long               :class:`JLong` (an ``int`` subclass, within int64)
Double             ``float``
=================  ==========================================================

Java ``Float`` never reaches a selector (literals are Double, broker properties
are strings, Python floats are Double), so the Double-vs-Float
ClassCastException of ``__compare`` is unreachable and not modelled.
"""

from __future__ import annotations

import re

from rmqcore.filter.errors import SelectorEvaluationError, UnsupportedPropertyTypeError

# The functions below dispatch on exact types (``type(x) is int``, often through a local
# holding the type: the cheapest test, and exact, as bool must not pass for int), which the
# checker does not narrow on; the ``type: ignore`` comments on those branches are for that.

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1


class JLong(int):
    """A Java ``Long`` (an ``int`` whose Java type is Long, whatever its magnitude).

    >>> JLong(5), type(-JLong(5)) is int
    (JLong(5), True)
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"JLong({int(self)})"


def _number_format(text: str, target: str) -> SelectorEvaluationError:
    return SelectorEvaluationError(f'{target}.valueOf("{text}") fails: not a {target.lower()}', "NumberFormatException")


def _parse_java_integral(text: str, lo: int, hi: int, target: str) -> int:
    # Integer.parseInt / Long.parseLong: optional sign then Character.digit(c, 10)
    # digits (any Unicode Nd digit in the BMP); no white space, no underscores.
    digits = text[1:] if text[:1] in ("+", "-") else text
    if not digits or not all(c.isdecimal() and ord(c) < 0x10000 for c in digits):
        raise _number_format(text, target)
    value = int(digits)
    if text[:1] == "-":
        value = -value
    if value < lo or value > hi:
        raise _number_format(text, target)
    return value


def parse_java_int(text: str) -> int:
    """``Integer.valueOf(text)`` or a NumberFormatException as :class:`SelectorEvaluationError`.

    >>> parse_java_int("42"), parse_java_int("-7"), parse_java_int("+3")
    (42, -7, 3)
    >>> parse_java_int("1.0")
    Traceback (most recent call last):
    ...
    rmqcore.filter.errors.SelectorEvaluationError: Integer.valueOf("1.0") fails: not a integer
    """
    if text.isascii() and text.isdigit() and len(text) < 10:
        return int(text)
    return _parse_java_integral(text, INT_MIN, INT_MAX, "Integer")


def parse_java_long(text: str) -> JLong:
    """``Long.valueOf(text)``; see :func:`parse_java_int`.

    >>> parse_java_long("5000000000")
    JLong(5000000000)
    """
    if text.isascii() and text.isdigit() and len(text) < 19:
        return JLong(int(text))
    return JLong(_parse_java_integral(text, LONG_MIN, LONG_MAX, "Long"))


# Double.valueOf grammar (FloatingDecimal.readJavaFormatString), applied after String.trim().
_JAVA_DOUBLE = re.compile(
    r"[+-]?(?:NaN|Infinity"
    r"|(?P<dec>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)[fFdD]?"
    r"|(?P<hex>0[xX](?:[0-9a-fA-F]+\.?|[0-9a-fA-F]*\.[0-9a-fA-F]+)[pP][+-]?[0-9]+)[fFdD]?)"
)
_JAVA_TRIM = "".join(chr(c) for c in range(0x21))


def parse_java_double(text: str) -> float:
    """``Double.valueOf(text)``: trims, accepts NaN, Infinity, hex floats and a d/f suffix.

    >>> parse_java_double(" 1.5d "), parse_java_double("-Infinity"), parse_java_double("0x1p3")
    (1.5, -inf, 8.0)
    >>> parse_java_double("1_0")
    Traceback (most recent call last):
    ...
    rmqcore.filter.errors.SelectorEvaluationError: Double.valueOf("1_0") fails: not a double
    """
    trimmed = text.strip(_JAVA_TRIM)
    match = _JAVA_DOUBLE.fullmatch(trimmed)
    if match is None:
        raise _number_format(text, "Double")
    negative = trimmed.startswith("-")
    if match.group("dec") is not None:
        value = float(match.group("dec"))
    elif match.group("hex") is not None:
        value = float.fromhex(match.group("hex"))
    else:
        value = float("nan") if "NaN" in trimmed else float("inf")
        return -value if negative and value == value else value
    return -value if negative else value


def parse_java_boolean(text: str) -> bool:
    """``Boolean.valueOf(text)``: true only for "true" in any case, false for anything else.

    >>> parse_java_boolean("TRUE"), parse_java_boolean("yes")
    (True, False)
    """
    return len(text) == 4 and text.isascii() and text.lower() == "true"


def compare_doubles(a: float, b: float) -> int:
    """``Double.compare``: -0.0 < 0.0, NaN equals itself and is above +Infinity.

    >>> compare_doubles(-0.0, 0.0), compare_doubles(float("nan"), float("inf")), compare_doubles(2.0, 2.0)
    (-1, 1, 0)
    """
    if a < b:
        return -1
    if a > b:
        return 1
    a_nan, b_nan = a != a, b != b
    if a_nan or b_nan:
        return int(a_nan) - int(b_nan)
    if a == 0.0:
        a_neg, b_neg = str(a)[0] == "-", str(b)[0] == "-"
        return int(b_neg) - int(a_neg)
    return 0


def _compare_same_type(lv: object, rv: object) -> int:
    if type(lv) is float:
        return compare_doubles(lv, rv)  # type: ignore[arg-type]
    if lv == rv:
        return 0
    return -1 if lv < rv else 1  # type: ignore[operator]


def java_compare(lv: object, rv: object) -> int:
    """RocketMQ's ``ComparisonExpression.__compare(lv, rv, convertStringExpressions=true)``.

    Both values are non-null. Returns the sign of ``lv.compareTo(rv)`` after the
    conversions; -1 for pairs it cannot convert (so Boolean vs number is "less").

    >>> java_compare("3", 3), java_compare(2, JLong(10)), java_compare(True, 1)
    (0, -1, -1)
    >>> java_compare("abc", False)
    0
    >>> java_compare(True, "true")
    Traceback (most recent call last):
    ...
    rmqcore.filter.errors.SelectorEvaluationError: java.lang.Boolean cannot be cast to java.lang.String
    """
    lt, rt = type(lv), type(rv)
    if lt is rt:
        return _compare_same_type(lv, rv)
    if lt is bool:
        if rt is str:
            # RocketMQ converts the left (Boolean) operand with a String cast: a bug kept as is.
            raise SelectorEvaluationError("java.lang.Boolean cannot be cast to java.lang.String", "ClassCastException")
        return -1
    if lt is int or lt is JLong:
        if rt is int or rt is JLong:
            return _compare_same_type(int(lv), int(rv))  # type: ignore[call-overload]
        if rt is float:
            return compare_doubles(float(lv), rv)  # type: ignore[arg-type]
        if rt is str:
            parsed = parse_java_int(rv) if lt is int else parse_java_long(rv)  # type: ignore[arg-type]
            return _compare_same_type(int(lv), int(parsed))  # type: ignore[call-overload]
        return -1
    if lt is float:
        if rt is int or rt is JLong:
            return compare_doubles(lv, float(rv))  # type: ignore[arg-type]
        if rt is str:
            return compare_doubles(lv, parse_java_double(rv))  # type: ignore[arg-type]
        return -1
    if lt is str:
        if rt is bool:
            return _compare_same_type(parse_java_boolean(lv), rv)  # type: ignore[arg-type]
        if rt is int:
            return _compare_same_type(parse_java_int(lv), rv)  # type: ignore[arg-type]
        if rt is JLong:
            return _compare_same_type(int(parse_java_long(lv)), int(rv))  # type: ignore[arg-type, call-overload]
        if rt is float:
            return compare_doubles(parse_java_double(lv), rv)  # type: ignore[arg-type]
        return -1
    return -1


def java_equal(lv: object, rv: object) -> bool | None:
    """The ``=`` operator: null on the left only ⇒ null; null on the right only ⇒ FALSE.

    Both null is TRUE (``lv == rv`` in Java). Otherwise ``equals`` then ``__compare == 0``.

    >>> java_equal(None, "x"), java_equal("x", None), java_equal(None, None)
    (None, False, True)
    >>> java_equal("abc", False), java_equal(1, 1.0), java_equal(1, True)
    (True, True, False)
    """
    if lv is None:
        return None if rv is not None else True
    if rv is None:
        return False
    if type(lv) is type(rv):
        if type(lv) is float:
            return compare_doubles(lv, rv) == 0  # type: ignore[arg-type]
        return lv == rv
    return java_compare(lv, rv) == 0


def java_order(lv: object, rv: object) -> int | None:
    """Compare for ``<``, ``<=``, ``>``, ``>=``: null if either is null; two Strings as Doubles.

    >>> java_order("10", "9"), java_order(None, 1)
    (1, None)
    """
    if lv is None or rv is None:
        return None
    if type(lv) is str and type(rv) is str:
        try:
            return compare_doubles(parse_java_double(lv), parse_java_double(rv))
        except SelectorEvaluationError:
            raise SelectorEvaluationError(
                f"It's illegal to compare string by '>=', '>', '<', '<='. lv={lv}, rv={rv}"
            ) from None
    return java_compare(lv, rv)


def java_between(value: object, low: object, high: object, negated: bool) -> bool:
    """``value [NOT] BETWEEN low AND high`` for non-null operands, as RocketMQ builds it:
    ``value >= low AND value <= high`` (negated: ``value < low OR value > high``).

    >>> java_between(5, 1, 10, False), java_between(2.5, 1, 2, True)
    (True, True)
    """
    below = java_order(value, low) < 0  # type: ignore[operator]
    if below:
        return negated
    above = java_order(value, high) > 0  # type: ignore[operator]
    return above if negated else not above


def java_negate(value: object) -> object:
    """Unary minus: numbers negate with Java overflow (``-Integer.MIN_VALUE`` stays), others ⇒ null.

    >>> java_negate(5), java_negate(-2**31), java_negate("5"), java_negate(True)
    (-5, -2147483648, None, None)
    """
    t = type(value)
    if t is int:
        return value if value == INT_MIN else -value  # type: ignore[operator]
    if t is JLong:
        return JLong(value if value == LONG_MIN else -value)  # type: ignore[operator]
    if t is float:
        return -value  # type: ignore[operator]
    return None


def to_java_value(value: object) -> object:
    """Map a property value to its Java type: int ⇒ Integer or Long by range; str subclasses ⇒ str.

    >>> to_java_value(7), to_java_value(2**40), to_java_value(True)
    (7, JLong(1099511627776), True)
    """
    t = type(value)
    if t is str or t is bool or t is float or t is JLong or value is None:
        return value
    if t is int:
        if INT_MIN <= value <= INT_MAX:  # type: ignore[operator]
            return value
        if LONG_MIN <= value <= LONG_MAX:  # type: ignore[operator]
            return JLong(value)  # type: ignore[call-overload]
        raise UnsupportedPropertyTypeError(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, int):
        return to_java_value(int(value))
    raise UnsupportedPropertyTypeError(value)
