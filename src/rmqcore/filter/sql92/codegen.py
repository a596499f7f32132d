"""Compiling a selector tree into one Python function, once, instead of walking it per message.

The function takes the property mapping and returns ``True``, ``False`` or
``None`` (Java null), exactly as RocketMQ's expression tree would (reference
section 6, "Evaluation"). Each property is fetched once and mapped to its Java
type; operators become inline Python with fast paths for the broker's case
(string property against a literal) and calls into :mod:`java_values` otherwise.
Evaluation order and short-circuits follow the Java code, so an exception is
raised exactly where RocketMQ would raise one.

Three-valued AND / OR use Python's flat ``and`` / ``or`` chains over
``(t := child) is not False`` tests, so the generated source stays linear in the
size of the tree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from rmqcore.filter.errors import SelectorEvaluationError
from rmqcore.filter.sql92 import ast
from rmqcore.filter.sql92.java_values import (
    JLong,
    java_between,
    java_equal,
    java_negate,
    java_order,
    parse_java_int,
    parse_java_long,
    to_java_value,
)

SelectorFunction = Callable[[Mapping[str, Any]], "bool | None"]

_RUNTIME: dict[str, object] = {
    "_eq": java_equal,
    "_ord": java_order,
    "_btw": java_between,
    "_neg": java_negate,
    "_pint": parse_java_int,
    "_plong": parse_java_long,
    "_norm": to_java_value,
    "JLong": JLong,
}
_PARSE_FOR = {ast.INTEGER: "_pint", ast.LONG: "_plong"}


class _Generator:
    def __init__(self) -> None:
        self.constants: dict[str, object] = {}
        self.variables: dict[str, str] = {}
        self.temps = 0
        # Expression code -> an equivalent "is it exactly TRUE" code without the null branch.
        self.truth_forms: dict[str, str] = {}
        # Expression code ``(None if v is None else inner)`` -> (v, inner), so NOT can stay flat.
        self.guards: dict[str, tuple[str, str]] = {}

    # -- names ---------------------------------------------------------------------------
    def constant(self, value: object) -> str:
        name = f"k{len(self.constants)}"
        self.constants[name] = value
        return name

    def variable(self, prop: str) -> str:
        if prop not in self.variables:
            self.variables[prop] = f"v{len(self.variables)}"
        return self.variables[prop]

    def temp(self) -> str:
        self.temps += 1
        return f"t{self.temps}"

    # -- values ----------------------------------------------------------------------------
    def literal(self, java_type: str, value: object) -> str:
        if java_type == ast.STRING:
            return repr(value)
        if java_type in (ast.INTEGER, ast.BOOLEAN, ast.NULL):
            return repr(value)
        if java_type == ast.DOUBLE:
            return repr(value) if value == value and value not in (float("inf"), float("-inf")) else self.constant(value)
        return self.constant(value)  # Long keeps its Java type through a JLong constant

    def folded(self, node: ast.Node) -> tuple[str, object] | None:
        """(java type, value) when ``node`` is a constant or a negated constant."""
        if isinstance(node, ast.Const):
            return node.java_type, node.value
        if isinstance(node, ast.Neg):
            inner = self.folded(node.operand)
            if inner is None:
                return None
            value = java_negate(inner[1])
            if value is None:
                return ast.NULL, None
            return inner[0], value
        return None

    def value(self, node: ast.Node) -> str:
        """Python expression for the Java value of ``node``."""
        folded = self.folded(node)
        if folded is not None:
            return self.literal(*folded)
        if isinstance(node, ast.Prop):
            return self.variable(node.name)
        if isinstance(node, ast.Neg):
            return f"_neg({self.value(node.operand)})"
        return self.boolean(node)[0]

    # -- booleans (True / False / None) ----------------------------------------------------
    def boolean(self, node: ast.Node) -> tuple[str, bool]:
        """(Python expression, whether it can be None) for a boolean node."""
        method = getattr(self, "_" + type(node).__name__)
        return method(node)

    def _Const(self, node: ast.Const) -> tuple[str, bool]:
        return repr(node.value), node.value is None

    def _BoolCast(self, node: ast.BoolCast) -> tuple[str, bool]:
        # Only a Boolean true is TRUE; any other non-null value is FALSE (string "true" too).
        v = self.variable(node.operand.name)
        return f"(None if {v} is None else {v} is True)", True

    def _Not(self, node: ast.Not) -> tuple[str, bool]:
        code, nullable = self.boolean(node.operand)
        if not nullable:
            return f"(not {code})", False
        if code in self.guards:  # NOT (None if v is None else x) == (None if v is None else not x)
            v, inner = self.guards[code]
            return self._guarded(v, f"(not {inner})"), True
        t = self.temp()
        return f"(None if ({t} := {code}) is None else not {t})", True

    def _logic(self, operands: tuple[ast.Node, ...], stop: str, otherwise: str) -> tuple[str, bool]:
        parts, unknown = [], []
        for operand in operands:
            code, nullable = self.boolean(operand)
            if nullable:
                t = self.temp()
                unknown.append(t)
                parts.append(f"({t} := {code}) is {'not False' if stop == 'False' else 'True'}")
            else:
                parts.append(code)
        joiner = " and " if stop == "False" else " or "
        if unknown:
            parts.append(f"(None if ({' or '.join(t + ' is None' for t in unknown)}) else {otherwise})")
        return "(" + joiner.join(parts) + ")", bool(unknown)

    def _And(self, node: ast.And) -> tuple[str, bool]:
        # LogicExpression.createAND: FALSE as soon as one side is FALSE, else null if one is null.
        return self._logic(node.operands, "False", "True")

    def _Or(self, node: ast.Or) -> tuple[str, bool]:
        return self._logic(node.operands, "True", "False")

    def _Equal(self, node: ast.Equal) -> tuple[str, bool]:
        left, right = node.left, node.right
        rfold, lfold = self.folded(right), self.folded(left)
        if isinstance(left, ast.Prop) and rfold is not None and rfold[1] is not None:
            v, k = self.variable(left.name), self.literal(*rfold)
            if rfold[0] == ast.STRING:
                fast = f"{v} == {k}"
            elif rfold[0] in _PARSE_FOR:
                fast = f"{_PARSE_FOR[rfold[0]]}({v}) == {k}"
            else:
                fast = f"_eq({v}, {k})"
            return self._guarded(v, f"({fast} if type({v}) is str else _eq({v}, {k}))"), True
        code = f"_eq({self.value(left)}, {self.value(right)})"
        # A non-null constant on the left never gives null (null on the right only ⇒ FALSE).
        return code, not (lfold is not None and lfold[1] is not None)

    def _guarded(self, v: str, inner: str) -> str:
        """``(None if v is None else inner)``, remembering its truth form ``(v is not None and inner)``."""
        code = f"(None if {v} is None else {inner})"
        self.truth_forms[code] = f"({v} is not None and {inner})"
        self.guards[code] = (v, inner)
        return code

    def _NotEqual(self, node: ast.NotEqual) -> tuple[str, bool]:
        return self._Not(ast.Not(ast.Equal(node.left, node.right)))

    def _IsNull(self, node: ast.IsNull) -> tuple[str, bool]:
        return f"({self.value(node.operand)} is {'not ' if node.negated else ''}None)", False

    def _Order(self, node: ast.Order) -> tuple[str, bool]:
        op, left, right = node.op, node.left, node.right
        rfold = self.folded(right)
        if isinstance(left, ast.Prop) and rfold is not None and rfold[0] in _PARSE_FOR:
            v, k = self.variable(left.name), self.literal(*rfold)
            fast = f"{_PARSE_FOR[rfold[0]]}({v}) {op} {k}"
            return self._guarded(v, f"({fast} if type({v}) is str else _ord({v}, {k}) {op} 0)"), True
        # ComparisonExpression.evaluate: the right side is not evaluated when the left is null.
        t, u = self.temp(), self.temp()
        return f"(None if ({t} := {self.value(left)}) is None else (None if ({u} := _ord({t}, {self.value(right)})) is None else {u} {op} 0))", True

    def _Between(self, node: ast.Between) -> tuple[str, bool]:
        value, low, high = node.value, node.low, node.high
        lfold, hfold = self.folded(low), self.folded(high)
        if (
            isinstance(value, ast.Prop)
            and lfold is not None
            and hfold is not None
            and lfold[0] == hfold[0]
            and lfold[0] in _PARSE_FOR
        ):
            v, lo, hi = self.variable(value.name), self.literal(*lfold), self.literal(*hfold)
            inside = f"{lo} <= {_PARSE_FOR[lfold[0]]}({v}) <= {hi}"
            # Typed (non-string) values are rare: one helper call instead of the inline AND/OR.
            generic = f"_btw({v}, {lo}, {hi}, {node.negated})"
            if node.negated:
                inside = f"not ({inside})"
            return self._guarded(v, f"({inside} if type({v}) is str else {generic})"), True
        return self._between_generic(node)

    def _between_generic(self, node: ast.Between) -> tuple[str, bool]:
        # createBetween is `v >= low AND v <= high`; createNotBetween is `v < low OR v > high`.
        if node.negated:
            return self._Or(ast.Or((ast.Order("<", node.value, node.low), ast.Order(">", node.value, node.high))))
        return self._And(ast.And((ast.Order(">=", node.value, node.low), ast.Order("<=", node.value, node.high))))

    def _In(self, node: ast.In) -> tuple[str, bool]:
        # UnaryExpression.createInExpression: null for a null or non-String value.
        v, k = self.variable(node.prop.name), self.constant(frozenset(node.values))
        test = f"{v} {'not in' if node.negated else 'in'} {k}"
        code = f"(None if type({v}) is not str else {test})"
        self.truth_forms[code] = f"(type({v}) is str and {test})"
        return code, True

    def _StringTest(self, node: ast.StringTest) -> tuple[str, bool]:
        # CONTAINS family: FALSE for an empty search, a null or a non-String value (NOT forms too).
        if node.search == "":
            return "False", False
        if isinstance(node.operand, ast.Prop):
            s = self.variable(node.operand.name)
            guard = f"type({s}) is str"
        else:
            s = self.temp()
            guard = f"type({s} := {self.value(node.operand)}) is str"
        k = repr(node.search)
        test = {"CONTAINS": f"{k} in {s}", "STARTSWITH": f"{s}.startswith({k})", "ENDSWITH": f"{s}.endswith({k})"}[node.kind]
        return f"({guard} and {'not ' if node.negated else ''}{test})", False

    # -- "exactly TRUE" for matches() ------------------------------------------------------
    def truth(self, node: ast.Node) -> str:
        """Code that is True iff ``node`` is TRUE, for the root of ``matches``.

        At the root an AND may stop at its first non-TRUE operand, not only at a
        FALSE one: the skipped operands could only add an exception, and an
        exception is no match too. An OR stops at its first TRUE, as in Java, and
        its operands are evaluated exactly (an exception inside one of them must
        still surface before a later operand could match).
        """
        if isinstance(node, ast.And):
            return "(" + " and ".join(self.truth(op) for op in node.operands) + ")"
        if isinstance(node, ast.Or):
            return "(" + " or ".join(self.exact_truth(op) for op in node.operands) + ")"
        return self.exact_truth(node)

    def exact_truth(self, node: ast.Node) -> str:
        code, nullable = self.boolean(node)
        if not nullable:
            return code
        return self.truth_forms.get(code, f"({code} is True)")

    # -- whole function ------------------------------------------------------------------------
    def _fetch(self, prop: str) -> list[str]:
        v = self.variables[prop]
        # Broker properties are always str: one type test, then Java typing for the rest.
        return [f"{v} = p.get({prop!r})", f"if type({v}) is not str and {v} is not None: {v} = _norm({v})"]

    def function_source(self, root: ast.Node) -> str:
        """``selector(p)`` (three-valued) and ``matches(p)`` (exactly TRUE, errors ⇒ False)."""
        body, _ = self.boolean(root)
        lines = ["def selector(p):"]
        for prop in self.variables:
            lines += ["    " + line for line in self._fetch(prop)]
        lines.append(f"    return {body}")
        lines.append("")
        lines.append("def matches(p):")
        lines.append("    try:")
        # A root AND is checked operand by operand, each property fetched just before its
        # first use, so a message failing the first test costs one lookup.
        operands = root.operands if isinstance(root, ast.And) else (root,)
        fetched: set[str] = set()
        for operand in operands:
            test = self.truth(operand)
            # Only properties the code reads (`a CONTAINS ''` reads none), in first-use order.
            used = ast.property_names(operand)
            for prop in [name for name in self.variables if name in used and name not in fetched]:
                lines += ["        " + line for line in self._fetch(prop)]
                fetched.add(prop)
            lines.append(f"        if not {test}: return False" if operand is not root else f"        return {test}")
        if isinstance(root, ast.And):
            lines.append("        return True")
        lines.append("    except _EvalError as exc:")
        lines.append("        _failed(exc)")
        lines.append("        return False")
        return "\n".join(lines) + "\n"


def generate(root: ast.Node) -> tuple[str, dict[str, object]]:
    """Python source of the selector function and the names it needs.

    >>> from rmqcore.filter.sql92.parser import parse
    >>> print(generate(parse("a IS NULL"))[0].split("def matches")[0].strip())
    def selector(p):
        v0 = p.get('a')
        if type(v0) is not str and v0 is not None: v0 = _norm(v0)
        return (v0 is None)
    """
    generator = _Generator()
    source = generator.function_source(root)
    return source, {**_RUNTIME, **generator.constants}


def compile_functions(
    root: ast.Node, on_error: Callable[[SelectorEvaluationError], None], label: str = "<selector>"
) -> tuple[SelectorFunction, Callable[[Mapping[str, Any]], bool]]:
    """Compile the tree into ``evaluate(properties) -> True | False | None`` and ``matches(properties) -> bool``.

    ``on_error`` is called with the evaluation error that made ``matches`` return False.

    >>> from rmqcore.filter.sql92.parser import parse
    >>> evaluate, matches = compile_functions(parse("n > 2"), on_error=lambda exc: None)
    >>> evaluate({"n": "3"}), evaluate({}), matches({"n": "x"})
    (True, None, False)
    """
    source, namespace = generate(root)
    namespace["_EvalError"] = SelectorEvaluationError
    namespace["_failed"] = on_error
    code = compile(source, label, "exec")
    exec(code, namespace)  # noqa: S102 - source is generated from a checked tree, names only from it
    return namespace["selector"], namespace["matches"]  # type: ignore[return-value]
