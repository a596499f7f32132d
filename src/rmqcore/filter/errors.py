"""Typed errors of the filter piece, each one a broker can map to a response code.

Reference section 2 gives the codes: a subscription whose expression does not
parse is SUBSCRIPTION_PARSE_FAILED (23); a subscription whose filter type the
broker does not have is FILTER_DATA_NOT_EXIST (27). An error while evaluating a
selector against one message never fails the pull: that message just does not
match (section 6, ``ExpressionMessageFilter.isMatchedByCommitLog``).
"""

from __future__ import annotations

from typing import ClassVar

SUBSCRIPTION_PARSE_FAILED = 23
FILTER_DATA_NOT_EXIST = 27


class FilterError(Exception):
    """Base class of every error raised by ``rmqcore.filter``."""

    response_code: ClassVar[int | None] = None


class FilterExpressionError(FilterError, ValueError):
    """A subscription expression that its filter type refuses (SUBSCRIPTION_PARSE_FAILED)."""

    response_code: ClassVar[int | None] = SUBSCRIPTION_PARSE_FAILED


class SelectorSyntaxError(FilterExpressionError):
    """An SQL92 selector that does not parse, or fails a parse-time check.

    ``position`` is the 0-based character offset of the offending token (or of the
    end of the text), ``line`` and ``column`` are 1-based.

    >>> err = SelectorSyntaxError("expected a string literal after IN (", "a IN (1)", 6)
    >>> str(err)
    'expected a string literal after IN ( at column 7'
    >>> (err.line, err.column, isinstance(err, ValueError))
    (1, 7, True)
    """

    def __init__(self, reason: str, expression: str, position: int | None) -> None:
        self.reason = reason
        self.expression = expression
        self.position = position
        if position is None:
            self.line = self.column = None
            message = reason
        else:
            before = expression[:position]
            self.line = before.count("\n") + 1
            self.column = position - (before.rfind("\n") + 1) + 1
            where = f"column {self.column}" if self.line == 1 else f"line {self.line}, column {self.column}"
            message = f"{reason} at {where}"
        super().__init__(message)


class SelectorEvaluationError(FilterError):
    """Evaluating a selector raised where RocketMQ's Java code throws.

    ``java_exception`` names what Java would throw (``NumberFormatException``,
    ``ClassCastException``, ``RuntimeException``); a broker treats the message as
    not matching.
    """

    def __init__(self, message: str, java_exception: str = "RuntimeException") -> None:
        super().__init__(message)
        self.java_exception = java_exception


class UnsupportedPropertyTypeError(SelectorEvaluationError):
    """A property value that is not ``str``, ``int`` (within Java long), ``float``, ``bool`` or ``None``."""

    def __init__(self, name_or_value: object) -> None:
        super().__init__(f"unsupported property value {name_or_value!r}: use str, int, float or bool", "ClassCastException")


class UnknownFilterTypeError(FilterError, LookupError):
    """No filter type is registered under the subscription's ``expressionType``."""

    response_code: ClassVar[int | None] = FILTER_DATA_NOT_EXIST

    def __init__(self, type_name: str, known: list[str]) -> None:
        self.type_name = type_name
        self.known = known
        super().__init__(f"unknown filter type {type_name!r}; registered types: {', '.join(known) or 'none'}")
