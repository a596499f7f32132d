"""``Selector``: a parsed, checked and compiled SQL92 selector, and the cached ``compile``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

import structlog

from rmqcore.filter.errors import SelectorEvaluationError, SelectorSyntaxError
from rmqcore.filter.sql92 import ast
from rmqcore.filter.sql92.codegen import compile_functions
from rmqcore.filter.sql92.parser import DEFAULT_MAX_DEPTH, DEFAULT_MAX_LENGTH, parse

_log = structlog.get_logger("rmqcore.filter.sql92")

# RocketMQ caches 100 parse results; a broker here may serve more groups, so the cache is larger.
CACHE_SIZE = 1024


class Selector:
    """A compiled selector. Evaluate it against a property mapping.

    >>> s = compile("TAGS IN ('TagA', 'TagC') AND price > 10")
    >>> s.evaluate({"TAGS": "TagA", "price": "12"}), s.evaluate({"TAGS": "TagA"})
    (True, None)
    >>> s.matches({"TAGS": "TagA", "price": "12.5"})  # Integer.valueOf("12.5") throws: no match
    False
    >>> sorted(s.properties), str(s)
    (['TAGS', 'price'], "TAGS IN ('TagA', 'TagC') AND price > 10")

    ``evaluate(properties)`` gives the three-valued result (``True``, ``False`` or
    ``None`` for Java null) and raises :class:`SelectorEvaluationError` where
    RocketMQ's evaluation throws. ``matches(properties)`` is the broker's decision:
    only an exact TRUE matches, and an evaluation error is no match. Both are the
    compiled functions themselves (no wrapper call per message).

    ``properties`` names every property the selector reads. A message lacking
    them all is not always a non-match (``a IS NULL``, ``'x' <> a``): use
    ``evaluate({})`` once to learn what such a message gets.
    """

    __slots__ = ("expression", "tree", "properties", "evaluate", "matches", "_text")

    evaluate: Callable[[Mapping[str, Any]], bool | None]
    matches: Callable[[Mapping[str, Any]], bool]

    def __init__(self, expression: str, tree: ast.Node) -> None:
        self.expression = expression
        self.tree = tree
        self.properties: frozenset[str] = ast.property_names(tree)
        self._text = ast.to_text(tree)
        self.evaluate, self.matches = compile_functions(tree, self._evaluation_failed, label=f"<selector {self._text[:60]}>")

    def _evaluation_failed(self, exc: SelectorEvaluationError) -> None:
        _log.debug("selector_evaluation_failed", selector=self._text, error=str(exc))

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return f"Selector({self._text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Selector) and other.tree == self.tree

    def __hash__(self) -> int:
        return hash(self.tree)


@lru_cache(maxsize=CACHE_SIZE)
def _compile_cached(expression: str, max_length: int, max_depth: int) -> Selector:
    tree = parse(expression, max_length=max_length, max_depth=max_depth)
    try:
        return Selector(expression, tree)
    except (RecursionError, SyntaxError, MemoryError) as exc:
        # Only reachable when a caller raises max_depth far above the default.
        raise SelectorSyntaxError(
            f"the selector is nested too deeply to compile ({tree.depth} levels): {type(exc).__name__}", expression, None
        ) from None


def compile(expression: str, *, max_length: int = DEFAULT_MAX_LENGTH, max_depth: int = DEFAULT_MAX_DEPTH) -> Selector:  # noqa: A001
    """Parse, check and compile ``expression`` (cached); raises :class:`SelectorSyntaxError`.

    >>> compile("a = 1") is compile("a = 1")
    True
    >>> compile("a = 1 OR")
    Traceback (most recent call last):
    ...
    rmqcore.filter.errors.SelectorSyntaxError: expected an operand (a property, a literal, '(', '-' or NOT) after 1 OR, but the selector ends at column 9
    """
    return _compile_cached(expression, max_length, max_depth)
