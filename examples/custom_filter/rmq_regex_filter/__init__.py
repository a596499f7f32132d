"""A ``REGEX`` filter type for rmqcore, shipped as its own package.

A subscription ``expressionType=REGEX`` with expression ``PROPERTY =~ PATTERN``
keeps the messages whose property matches ``PATTERN`` (Python ``re.search``), for
example ``KEYS =~ ^order-[0-9]+$``. For the ``TAGS`` property with a pattern that
is a plain alternation of tags (``TAGS =~ ^(TagA|TagC)$``) it also gives the tag
codes, so the store's ConsumeQueue scan can skip other tags before reading them.

Installed with its entry point (see ``pyproject.toml``), rmqcore finds it by name:

>>> from rmqcore.filter import register_filter, compile_filter, unregister_filter
>>> from rmqcore.message import Message
>>> register_filter("REGEX", RegexFilterType, replace=True)
>>> keep = compile_filter("REGEX", "KEYS =~ ^order-[0-9]+$")
>>> keep(Message("T", b"", keys="order-17")), keep(Message("T", b"", keys="refund-3"))
(True, False)
>>> unregister_filter("REGEX")
"""

from __future__ import annotations

import re

from rmqcore.filter import CompiledFilter, FilterExpressionError, tag_hash
from rmqcore.message import Message

__all__ = ["RegexFilterType"]

_EXPRESSION = re.compile(r"\s*([A-Za-z_$][A-Za-z0-9_$]*)\s*=~\s*(.+?)\s*$", re.DOTALL)
_TAG_ALTERNATION = re.compile(r"\^\(?([A-Za-z0-9_]+(?:\|[A-Za-z0-9_]+)*)\)?\$")


class RegexFilterType:
    """``compile("PROPERTY =~ PATTERN")`` gives a CompiledFilter (with tag codes when it can)."""

    type_name = "REGEX"

    def compile(self, expression: str) -> CompiledFilter:
        match = _EXPRESSION.match(expression or "")
        if match is None:
            raise FilterExpressionError(f"REGEX expression must read 'PROPERTY =~ PATTERN', got {expression!r}")
        prop, pattern_text = match.groups()
        try:
            pattern = re.compile(pattern_text)
        except re.error as exc:
            raise FilterExpressionError(f"bad REGEX pattern {pattern_text!r}: {exc}") from exc
        search = pattern.search

        def on_properties(properties) -> bool:
            value = properties.get(prop)
            return value is not None and search(str(value)) is not None

        def predicate(message: Message) -> bool:
            return on_properties(message.properties)

        tag_codes = None
        alternation = _TAG_ALTERNATION.fullmatch(pattern_text) if prop == "TAGS" else None
        if alternation is not None:
            tag_codes = frozenset(tag_hash(tag) for tag in alternation.group(1).split("|"))
        return CompiledFilter(
            expression_type=self.type_name,
            expression=expression,
            predicate=predicate,
            tag_codes=tag_codes,
            code_check=None if tag_codes is None else tag_codes.__contains__,
            source=pattern,
            properties_predicate=on_properties,
        )
