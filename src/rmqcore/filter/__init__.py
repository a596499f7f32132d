"""Message filtering (``rmqcore.filter``): tag codes and tag expressions, the SQL92
selector, and filter types chosen by a subscription's ``expressionType``.

Reference rocketmq-facts.md sections 3 (tag subscription parse), 5 (tag code)
and 6 (SQL92 selector). Imports only ``rmqcore.message``, its own files, the
standard library, lark and structlog.

>>> from rmqcore.filter import compile_filter, parse_tag_expression, sql92, tag_hash
>>> tag_hash("TagA")
2598919
>>> sorted(parse_tag_expression("TagA || TagC").codes)
[2598919, 2598921]
>>> selector = sql92.compile("TAGS IN ('TagA', 'TagC') AND baiLi BETWEEN 0 AND 3")
>>> selector.evaluate({"TAGS": "TagC", "baiLi": "2"}), selector.evaluate({"TAGS": "TagC"})
(True, None)
>>> compile_filter("SQL92", "a <> 'x'").expression_type
'SQL92'
"""

from typing import Any

from rmqcore.filter.errors import (
    FilterError,
    FilterExpressionError,
    SelectorEvaluationError,
    SelectorSyntaxError,
    UnknownFilterTypeError,
    UnsupportedPropertyTypeError,
)
from rmqcore.filter.registry import (
    ENTRY_POINT_GROUP,
    CompiledFilter,
    FilterType,
    compile_filter,
    get_filter_type,
    load_entry_points,
    register_filter,
    registered_filter_types,
    unregister_filter,
)
from rmqcore.filter.tag import TagExpression, parse_tag_expression, tag_hash

__all__ = [
    "ENTRY_POINT_GROUP",
    "CompiledFilter",
    "FilterError",
    "FilterExpressionError",
    "FilterType",
    "SelectorEvaluationError",
    "SelectorSyntaxError",
    "TagExpression",
    "UnknownFilterTypeError",
    "UnsupportedPropertyTypeError",
    "compile_filter",
    "get_filter_type",
    "load_entry_points",
    "parse_tag_expression",
    "register_filter",
    "registered_filter_types",
    "sql92",
    "tag_hash",
    "unregister_filter",
]


def __getattr__(name: str) -> Any:
    # ``sql92`` (the selector and its lark grammar) loads on first use: importing it costs tens of
    # milliseconds that tag-only brokers and clients need not pay.
    if name == "sql92":
        import importlib

        return importlib.import_module("rmqcore.filter.sql92")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
