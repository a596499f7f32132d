"""The parsed selector: small immutable nodes mirroring RocketMQ's expression classes.

Reference section 6: ``Const`` is ``ConstantExpression`` (TRUE/FALSE/NULL are the
``BooleanConstantExpression`` ones), ``Prop`` is ``PropertyExpression``, ``BoolCast``
is the implicit boolean cast of a bare identifier, ``NotEqual`` is ``NOT (=)``,
``Between`` is ``>= AND <=`` (negated: ``< OR >``). Chains of AND / OR are kept
flat (n-ary): three-valued AND and OR with left short-circuit are associative, so
this is the same evaluation as Java's left-deep tree, without the depth.

``to_text`` prints the normalised form: upper-case keywords, single spaces, the
fewest parentheses that re-parse to the same tree (plus parentheses around a NOT
used as an operand, which the grammar does not need but a reader does).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

OR_LEVEL, AND_LEVEL, EQUALITY_LEVEL, COMPARISON_LEVEL, UNARY_LEVEL, PRIMARY_LEVEL = 1, 2, 3, 4, 5, 6

# Java class names of constants; the evaluator maps them to Python types (java_values).
STRING, INTEGER, LONG, DOUBLE, BOOLEAN, NULL = "String", "Integer", "Long", "Double", "Boolean", "Null"


class Node:
    """Base node. ``depth`` is the height of the subtree (a leaf is 1)."""

    __slots__ = ("depth",)
    depth: int
    level: ClassVar[int] = PRIMARY_LEVEL
    is_boolean: ClassVar[bool] = True  # RocketMQ's BooleanExpression marker

    def children(self) -> tuple[Node, ...]:
        return ()

    def _set_depth(self) -> None:
        self.depth = 1 + max((c.depth for c in self.children()), default=0)

    def __str__(self) -> str:
        return to_text(self)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {to_text(self)}>"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._key() == other._key()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._key()))

    def _key(self) -> tuple:
        return tuple(getattr(self, name) for name in _fields(type(self)))

    def __deepcopy__(self, memo: dict) -> Node:
        return self  # immutable


def _fields(cls: type) -> tuple[str, ...]:
    # Every slot along the class hierarchy except the derived ``depth``.
    return tuple(name for klass in reversed(cls.__mro__) for name in getattr(klass, "__slots__", ()) if name != "depth")


class Const(Node):
    __slots__ = ("value", "java_type")

    def __init__(self, value: object, java_type: str) -> None:
        self.value, self.java_type = value, java_type
        self.depth = 1

    @property
    def is_boolean(self) -> bool:  # type: ignore[override]
        return self.java_type in (BOOLEAN, NULL)

    def _key(self) -> tuple:
        return (self.java_type, repr(self.value))


class Prop(Node):
    __slots__ = ("name",)
    is_boolean = False

    def __init__(self, name: str) -> None:
        self.name = name
        self.depth = 1


class Neg(Node):
    __slots__ = ("operand",)
    level = UNARY_LEVEL
    is_boolean = False

    def __init__(self, operand: Node) -> None:
        self.operand = operand
        self._set_depth()

    def children(self) -> tuple[Node, ...]:
        return (self.operand,)


class Not(Node):
    __slots__ = ("operand",)
    level = UNARY_LEVEL

    def __init__(self, operand: Node) -> None:
        self.operand = operand
        self._set_depth()

    def children(self) -> tuple[Node, ...]:
        return (self.operand,)


class BoolCast(Node):
    """A bare identifier where a boolean is needed: TRUE only for a Boolean true value."""

    __slots__ = ("operand",)

    def __init__(self, operand: Prop) -> None:
        self.operand = operand
        self._set_depth()

    def children(self) -> tuple[Node, ...]:
        return (self.operand,)


class _Logic(Node):
    __slots__ = ("operands",)
    operands: tuple[Node, ...]

    def __init__(self, operands: tuple[Node, ...]) -> None:
        flat: list[Node] = []
        for op in operands:
            flat.extend(op.operands if type(op) is type(self) else (op,))
        self.operands = tuple(flat)
        self._set_depth()

    def children(self) -> tuple[Node, ...]:
        return self.operands


class And(_Logic):
    __slots__ = ()
    level = AND_LEVEL


class Or(_Logic):
    __slots__ = ()
    level = OR_LEVEL


class _Binary(Node):
    __slots__ = ("left", "right")

    def __init__(self, left: Node, right: Node) -> None:
        self.left, self.right = left, right
        self._set_depth()

    def children(self) -> tuple[Node, ...]:
        return (self.left, self.right)


class Equal(_Binary):
    __slots__ = ()
    level = EQUALITY_LEVEL


class NotEqual(_Binary):
    __slots__ = ()
    level = EQUALITY_LEVEL


class IsNull(Node):
    __slots__ = ("operand", "negated")
    level = EQUALITY_LEVEL

    def __init__(self, operand: Node, negated: bool) -> None:
        self.operand, self.negated = operand, negated
        self._set_depth()

    def children(self) -> tuple[Node, ...]:
        return (self.operand,)


class Order(_Binary):
    """``<``, ``<=``, ``>`` or ``>=``."""

    __slots__ = ("op",)
    level = COMPARISON_LEVEL

    def __init__(self, op: str, left: Node, right: Node) -> None:
        self.op = op
        super().__init__(left, right)


class Between(Node):
    __slots__ = ("value", "low", "high", "negated")
    level = COMPARISON_LEVEL

    def __init__(self, value: Node, low: Node, high: Node, negated: bool) -> None:
        self.value, self.low, self.high, self.negated = value, low, high, negated
        self._set_depth()

    def children(self) -> tuple[Node, ...]:
        return (self.value, self.low, self.high)


class In(Node):
    __slots__ = ("prop", "values", "negated")
    level = COMPARISON_LEVEL

    def __init__(self, prop: Prop, values: tuple[str, ...], negated: bool) -> None:
        self.prop, self.values, self.negated = prop, values, negated
        self._set_depth()

    def children(self) -> tuple[Node, ...]:
        return (self.prop,)


class StringTest(Node):
    """``CONTAINS``, ``STARTSWITH`` or ``ENDSWITH`` (5.x), possibly negated."""

    __slots__ = ("kind", "operand", "search", "negated")
    level = COMPARISON_LEVEL

    def __init__(self, kind: str, operand: Node, search: str, negated: bool) -> None:
        self.kind, self.operand, self.search, self.negated = kind, operand, search, negated
        self._set_depth()

    def children(self) -> tuple[Node, ...]:
        return (self.operand,)


def quote(text: str) -> str:
    """A string literal: single quotes, inner quotes doubled (``ConstantExpression.encodeString``).

    >>> quote("it's")
    "'it''s'"
    """
    return "'" + text.replace("'", "''") + "'"


def _const_text(node: Const) -> str:
    if node.java_type == STRING:
        return quote(node.value)  # type: ignore[arg-type]
    if node.java_type == NULL:
        return "NULL"
    if node.java_type == BOOLEAN:
        return "TRUE" if node.value else "FALSE"
    if node.java_type == DOUBLE:
        return repr(node.value)  # e.g. 0.5, 1e+16: always lexes back as a float literal
    return str(int(node.value))  # type: ignore[call-overload]


def _wrap(node: Node, min_level: int) -> str:
    text = to_text(node)
    return f"({text})" if node.level < min_level else text


def _operand(node: Node, min_level: int) -> str:
    # An operand of a comparison: `(NOT a) = 1` reads better than the equivalent `NOT a = 1`.
    return f"({to_text(node)})" if isinstance(node, Not) else _wrap(node, min_level)


def to_text(node: Node) -> str:
    """The normalised selector text of ``node``.

    >>> from rmqcore.filter.sql92.parser import parse
    >>> to_text(parse("not a = 1 and b between -1 and 2.50 or c not in ('x','y')"))
    "(NOT a) = 1 AND b BETWEEN -1 AND 2.5 OR c NOT IN ('x', 'y')"
    """
    if isinstance(node, Const):
        return _const_text(node)
    if isinstance(node, Prop):
        return node.name
    if isinstance(node, BoolCast):
        return node.operand.name
    if isinstance(node, Neg):
        inner = _wrap(node.operand, UNARY_LEVEL)
        return "- " + inner if inner.startswith("-") else "-" + inner
    if isinstance(node, Not):
        return "NOT " + _wrap(node.operand, UNARY_LEVEL)
    if isinstance(node, Or):
        return " OR ".join(_wrap(op, AND_LEVEL) for op in node.operands)
    if isinstance(node, And):
        return " AND ".join(_wrap(op, EQUALITY_LEVEL) for op in node.operands)
    if isinstance(node, (Equal, NotEqual)):
        sign = "=" if isinstance(node, Equal) else "<>"
        return f"{_operand(node.left, EQUALITY_LEVEL)} {sign} {_operand(node.right, COMPARISON_LEVEL)}"
    if isinstance(node, IsNull):
        return f"{_operand(node.operand, EQUALITY_LEVEL)} IS {'NOT ' if node.negated else ''}NULL"
    if isinstance(node, Order):
        return f"{_operand(node.left, COMPARISON_LEVEL)} {node.op} {_operand(node.right, UNARY_LEVEL)}"
    if isinstance(node, Between):
        return (
            f"{_operand(node.value, COMPARISON_LEVEL)} {'NOT ' if node.negated else ''}BETWEEN "
            f"{_operand(node.low, UNARY_LEVEL)} AND {_operand(node.high, UNARY_LEVEL)}"
        )
    if isinstance(node, In):
        values = ", ".join(quote(v) for v in node.values)
        return f"{node.prop.name} {'NOT ' if node.negated else ''}IN ({values})"
    if isinstance(node, StringTest):
        return f"{_operand(node.operand, COMPARISON_LEVEL)} {'NOT ' if node.negated else ''}{node.kind} {quote(node.search)}"
    raise TypeError(f"not a selector node: {node!r}")


def walk(node: Node) -> Iterator[Node]:
    """Every node of the tree, parents before children (iterative).

    >>> from rmqcore.filter.sql92.parser import parse
    >>> [type(n).__name__ for n in walk(parse("a = 1"))]
    ['Equal', 'Prop', 'Const']
    """
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children()))


def property_names(node: Node) -> frozenset[str]:
    """The property names the selector reads.

    >>> from rmqcore.filter.sql92.parser import parse
    >>> sorted(property_names(parse("a = b OR c")))
    ['a', 'b', 'c']
    """
    return frozenset(n.name for n in walk(node) if isinstance(n, Prop))
