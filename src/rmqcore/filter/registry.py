"""Filter types by name (the subscription's ``expressionType``), built in and pluggable.

RocketMQ chooses a filter by ``expressionType``: ``TAG`` (also when the type is
null or empty, ``ExpressionType.isTagType``) or ``SQL92``. Here a filter type is
any object with ``compile(expression)`` returning a :class:`CompiledFilter` (or a
bare predicate over a message). Types are registered with :func:`register_filter`
or discovered from the ``rmqcore.filters`` entry-point group, so another package
adds a type without touching rmqcore:

.. code-block:: toml

    [project.entry-points."rmqcore.filters"]
    REGEX = "my_package:RegexFilterType"

>>> tag_filter = compile_filter("TAG", "TagA || TagC")
>>> sorted(tag_filter.tag_codes), tag_filter.matches_code(2598920)
([2598919, 2598921], False)
>>> from rmqcore.message import Message
>>> compile_filter("SQL92", "price > 10")(Message("T", b"", properties={"price": "11"}))
True
>>> compile_filter("XPATH", "/a")
Traceback (most recent call last):
...
rmqcore.filter.errors.UnknownFilterTypeError: unknown filter type 'XPATH'; registered types: SQL92, TAG
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import structlog

from rmqcore.filter.errors import FilterError, UnknownFilterTypeError
from rmqcore.filter.tag import parse_tag_expression, tag_hash
from rmqcore.message import Message

ENTRY_POINT_GROUP = "rmqcore.filters"
TAG = "TAG"
SQL92 = "SQL92"

_log = structlog.get_logger("rmqcore.filter.registry")


@dataclass(frozen=True, slots=True)
class CompiledFilter:
    """A compiled subscription filter.

    ``predicate(message)`` is the full test. ``code_check(code)`` is an optional
    cheap test on the ConsumeQueue tag code, run before the message is read;
    ``tag_codes`` is the set of codes the store's C scan can filter by
    (``None``: no filtering by code). ``properties_predicate`` is an optional
    test on the property map alone (SQL92 has one), used by
    :meth:`matches_properties` when a broker holds only the decoded properties.
    ``source`` is the type's own compiled form (a TagExpression, a Selector, ...).
    """

    expression_type: str
    expression: str
    predicate: Callable[[Message], bool]
    tag_codes: frozenset[int] | None = None
    code_check: Callable[[int], bool] | None = None
    source: Any = field(default=None, compare=False)
    properties_predicate: Callable[[Mapping[str, Any]], bool] | None = field(default=None, compare=False)

    def matches_code(self, code: int) -> bool:
        """The cheap pre-check on a ConsumeQueue tag code (True when the type has none)."""
        return True if self.code_check is None else self.code_check(code)

    def matches(self, message: Message) -> bool:
        """The full test on a message (``MessageExt`` or ``Message``)."""
        return self.predicate(message)

    __call__ = matches

    def matches_properties(self, properties: Mapping[str, Any]) -> bool:
        """The full test when only the message's properties are at hand."""
        if self.properties_predicate is not None:
            return self.properties_predicate(properties)
        return self.predicate(Message("", b"", properties=properties))


@runtime_checkable
class FilterType(Protocol):
    """What a filter type provides."""

    def compile(self, expression: str) -> CompiledFilter | Callable[[Message], bool]: ...


FilterFactory = Callable[[], FilterType]


class TagFilterType:
    """``TAG``: ``*`` or ``TagA || TagB`` (reference section 3)."""

    def compile(self, expression: str) -> CompiledFilter:
        parsed = parse_tag_expression(expression)
        tags = parsed.matches_tags

        def properties_predicate(properties: Mapping[str, Any]) -> bool:
            tag = properties.get("TAGS")
            return parsed.matches_code(tag_hash(tag)) and tags(tag)

        return CompiledFilter(
            TAG, expression, parsed.matches, parsed.tag_codes, parsed.matches_code, parsed, properties_predicate
        )


class Sql92FilterType:
    """``SQL92``: the property selector of section 6; no tag-code pre-filtering."""

    def compile(self, expression: str) -> CompiledFilter:
        # Imported here: the selector's grammar (lark) costs tens of milliseconds to load, and a
        # broker or client that only ever sees tag subscriptions should not pay for it.
        from rmqcore.filter import sql92

        selector = sql92.compile(expression)
        matches = selector.matches

        def predicate(message: Message) -> bool:
            return matches(message.properties)

        return CompiledFilter(SQL92, expression, predicate, None, None, selector, matches)


_lock = threading.RLock()
_factories: dict[str, FilterFactory] = {}
_instances: dict[str, FilterType] = {}
_entry_points_loaded = False


def _key(type_name: str | None) -> str:
    # ExpressionType.isTagType: null or "" is TAG. Names compare case-insensitively here.
    return TAG if not type_name else type_name.strip().upper()


def register_filter(type_name: str, factory: FilterFactory, *, replace: bool = False) -> None:
    """Register ``factory`` (a zero-argument callable returning a filter type) under ``type_name``.

    >>> class Everything:
    ...     def compile(self, expression):
    ...         return lambda message: True
    >>> register_filter("EVERYTHING", Everything)
    >>> compile_filter("everything", "")(Message("T"))
    True
    >>> unregister_filter("EVERYTHING")
    """
    key = _key(type_name)
    if not callable(factory):
        raise TypeError(f"the factory for {key} must be callable, got {factory!r}")
    with _lock:
        if key in _factories and not replace:
            raise FilterError(f"filter type {key} is already registered; pass replace=True to replace it")
        _factories[key] = factory
        _instances.pop(key, None)


def unregister_filter(type_name: str) -> None:
    """Remove a filter type (the built-in ones may be removed too, e.g. to forbid SQL92)."""
    key = _key(type_name)
    with _lock:
        _factories.pop(key, None)
        _instances.pop(key, None)


def registered_filter_types() -> list[str]:
    """Names of the registered types (entry points included once loaded).

    >>> {"TAG", "SQL92"} <= set(registered_filter_types())
    True
    """
    with _lock:
        return sorted(_factories)


def load_entry_points() -> list[str]:
    """Register every type in the ``rmqcore.filters`` entry-point group; returns their names.

    An entry point may name a factory (a class or function returning a filter type)
    or a filter-type object. One that fails to load is logged and skipped; an
    explicitly registered type is not replaced.

    >>> isinstance(load_entry_points(), list)
    True
    """
    import importlib.metadata  # here: slow to import, and needed only for an unknown type name

    global _entry_points_loaded
    loaded: list[str] = []
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            target = entry_point.load()
        except Exception as exc:  # a broken plug-in must not stop the broker
            _log.warning("filter_entry_point_failed", name=entry_point.name, value=entry_point.value, error=repr(exc))
            continue
        factory = target if isinstance(target, type) or not hasattr(target, "compile") else (lambda t=target: t)
        with _lock:
            if _key(entry_point.name) in _factories:
                continue
            _factories[_key(entry_point.name)] = factory
        loaded.append(_key(entry_point.name))
        _log.info("filter_type_discovered", name=_key(entry_point.name), value=entry_point.value)
    with _lock:
        _entry_points_loaded = True
    return loaded


def get_filter_type(type_name: str | None) -> FilterType:
    """The filter type for ``type_name``; entry points are read on the first unknown name.

    >>> type(get_filter_type("sql92")).__name__
    'Sql92FilterType'
    """
    key = _key(type_name)
    with _lock:
        instance = _instances.get(key)
        if instance is not None:
            return instance
        factory = _factories.get(key)
        need_discovery = factory is None and not _entry_points_loaded
    if need_discovery:
        load_entry_points()
        with _lock:
            factory = _factories.get(key)
    if factory is None:
        raise UnknownFilterTypeError(key, registered_filter_types())
    instance = factory()
    if not callable(getattr(instance, "compile", None)):
        raise FilterError(f"the factory for {key} returned {instance!r}, which has no compile(expression)")
    with _lock:
        return _instances.setdefault(key, instance)


def compile_filter(expression_type: str | None, expression: str) -> CompiledFilter:
    """Compile ``expression`` with the filter type named ``expression_type``.

    >>> compile_filter(None, "TagA").expression_type  # null or empty means TAG
    'TAG'

    Raises :class:`UnknownFilterTypeError` (FILTER_DATA_NOT_EXIST) for an unknown
    type, and the type's :class:`FilterExpressionError` (SUBSCRIPTION_PARSE_FAILED)
    for an expression it refuses.
    """
    key = _key(expression_type)
    compiled = get_filter_type(key).compile(expression)
    if isinstance(compiled, CompiledFilter):
        return compiled
    if callable(compiled):
        return CompiledFilter(key, expression, compiled)
    raise FilterError(f"filter type {key} compiled {expression!r} into {compiled!r}, which is not a predicate")


register_filter(TAG, TagFilterType)
register_filter(SQL92, Sql92FilterType)
