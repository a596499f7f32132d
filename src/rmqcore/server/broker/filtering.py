"""Server-side message filters: a consumer's subscription compiled once, used on every pull.

Expressions compile through ``rmqcore.filter`` by ``expressionType``: ``TAG`` gives a
set of tag codes (Java ``String.hashCode()`` of each tag, reference section 3) that the
store's ConsumeQueue scan filters by, and the client re-filters by tag string; ``SQL92``
(section 6) and any registered custom type give a predicate applied to each record the
store returns. An evaluation error means "no match"
(``ExpressionMessageFilter.isMatchedByCommitLog``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from rmqcore.message import MessageExt
from rmqcore.remoting import ResponseCode

log = structlog.get_logger(__name__)

TAG_TYPE = "TAG"
SQL92_TYPE = "SQL92"
SUB_ALL = "*"


class FilterParseError(ValueError):
    """A subscription that does not compile; ``response_code`` is 23 (bad expression) or 27 (unknown type)."""

    def __init__(self, message: str, response_code: int = ResponseCode.SUBSCRIPTION_PARSE_FAILED) -> None:
        super().__init__(message)
        self.response_code = int(response_code)


def is_tag_type(expression_type: str | None) -> bool:
    """``ExpressionType.isTagType``: null, empty or ``TAG``."""
    return not expression_type or expression_type.upper() == TAG_TYPE


class FilterFactory:
    """Compiles subscriptions with ``rmqcore.filter`` (its registry decides which types exist)."""

    def compile(self, expression_type: str | None, expression: str) -> Any:
        from rmqcore.filter import FilterError, compile_filter

        try:
            return compile_filter(expression_type, expression)
        except FilterError as exc:
            code = getattr(exc, "response_code", None) or ResponseCode.SUBSCRIPTION_PARSE_FAILED
            raise FilterParseError(str(exc), code) from exc


@dataclass(frozen=True, eq=False)
class SubscriptionFilter:
    """One subscription with its compiled filter; ``sub_version`` orders heartbeats."""

    topic: str
    sub_string: str
    expression_type: str
    sub_version: int
    tag_codes: frozenset[int] | None = None  # for the store's scan; None: every code
    code_check: Callable[[int], bool] | None = None  # cheap test on an arriving tag code (long polling)
    message_predicate: Callable[[MessageExt], bool] | None = None  # None: no per-record filter
    property_predicate: Callable[[Mapping[str, str]], bool] | None = None  # SQL92: properties only
    compile_error: str | None = None
    error_code: int = 0

    @property
    def is_tag(self) -> bool:
        return is_tag_type(self.expression_type)

    @property
    def filters_records(self) -> bool:
        return self.message_predicate is not None

    def matches_tag_code(self, code: int) -> bool:
        if self.code_check is not None:
            return self.code_check(code)
        return self.tag_codes is None or code in self.tag_codes

    def matches_properties(self, properties: Mapping[str, str]) -> bool:
        try:
            return self.property_predicate(properties) is True  # type: ignore[misc]
        except Exception:  # any evaluation error is "no match" (reference section 6)
            return False

    def matches_message(self, msg: MessageExt) -> bool:
        try:
            return bool(self.message_predicate(msg))  # type: ignore[misc]
        except Exception:
            return False

    @classmethod
    def build(
        cls, topic: str, sub_string: str | None, expression_type: str | None, sub_version: int, factory: FilterFactory
    ) -> SubscriptionFilter:
        """``FilterAPI.build`` + ``ConsumerFilterManager.build``; raises FilterParseError."""
        expression_type = (expression_type or TAG_TYPE).strip().upper()
        sub_string = (sub_string or "").strip()
        if is_tag_type(expression_type):
            if not sub_string or sub_string == SUB_ALL:
                return cls(topic, SUB_ALL, TAG_TYPE, sub_version)
            compiled = factory.compile(TAG_TYPE, sub_string)
            return cls(topic, sub_string, TAG_TYPE, sub_version, compiled.tag_codes, compiled.code_check)
        if not sub_string:
            raise FilterParseError(f"empty {expression_type} expression")
        compiled = factory.compile(expression_type, sub_string)
        source = getattr(compiled, "source", None)
        selector_matches = getattr(source, "matches", None) if expression_type == SQL92_TYPE else None
        return cls(
            topic,
            sub_string,
            expression_type,
            sub_version,
            compiled.tag_codes,
            compiled.code_check,
            compiled.predicate,
            selector_matches,
        )

    @classmethod
    def from_subscription_data(cls, sd: Any, factory: FilterFactory) -> SubscriptionFilter:
        """From a heartbeat's SubscriptionData. A bad expression is kept with ``compile_error`` set, so a
        later pull relying on it answers FILTER_DATA_NOT_EXIST as RocketMQ does."""
        try:
            built = cls.build(sd.topic, sd.sub_string, sd.expression_type, sd.sub_version, factory)
        except FilterParseError as exc:
            log.warning("subscription_filter_rejected", topic=sd.topic, expression=sd.sub_string, error=str(exc))
            return cls(
                sd.topic, sd.sub_string, sd.expression_type, sd.sub_version, compile_error=str(exc), error_code=exc.response_code
            )
        if built.is_tag and built.tag_codes is not None and sd.code_set:
            # The client computed the codes (FilterAPI on its side): filter by what it sent.
            codes = frozenset(sd.code_set)
            built = cls(built.topic, built.sub_string, TAG_TYPE, built.sub_version, codes, codes.__contains__)
        return built
