"""Filter types by expressionType: built-ins, registration, discovery and typed errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from rmqcore.filter import (
    CompiledFilter,
    FilterError,
    SelectorSyntaxError,
    UnknownFilterTypeError,
    compile_filter,
    get_filter_type,
    load_entry_points,
    register_filter,
    registered_filter_types,
    sql92,
    unregister_filter,
)
from rmqcore.filter.errors import FILTER_DATA_NOT_EXIST, SUBSCRIPTION_PARSE_FAILED
from rmqcore.filter.registry import Sql92FilterType, TagFilterType
from rmqcore.message import Message


def test_builtin_types() -> None:
    assert {"TAG", "SQL92"} <= set(registered_filter_types())
    assert isinstance(get_filter_type("TAG"), TagFilterType)
    assert isinstance(get_filter_type("SQL92"), Sql92FilterType)


@pytest.mark.parametrize("type_name", [None, "", "TAG", "tag"])
def test_null_empty_or_tag_is_the_tag_type(type_name: str | None) -> None:
    compiled = compile_filter(type_name, "TagA")
    assert compiled.expression_type == "TAG"
    assert compiled.tag_codes == frozenset({2598919})


def test_tag_filter_has_code_precheck_and_properties_test() -> None:
    compiled = compile_filter("TAG", "TagA || TagC")
    assert compiled.matches_code(2598921) and not compiled.matches_code(2598920)
    assert compiled.matches_properties({"TAGS": "TagC"}) and not compiled.matches_properties({"TAGS": "TagB"})
    assert compile_filter("TAG", "*").tag_codes is None


def test_sql92_filter_is_a_property_predicate_without_codes() -> None:
    compiled = compile_filter("SQL92", "a > 1")
    assert compiled.tag_codes is None and compiled.matches_code(0)
    assert isinstance(compiled.source, sql92.Selector)
    assert compiled(Message("T", b"", properties={"a": "2"}))
    assert compiled.matches_properties({"a": "2"}) and not compiled.matches_properties({"a": "x"})


def test_unknown_type_maps_to_filter_data_not_exist() -> None:
    with pytest.raises(UnknownFilterTypeError) as info:
        compile_filter("XPATH", "/a")
    assert info.value.response_code == FILTER_DATA_NOT_EXIST == 27
    assert info.value.type_name == "XPATH"
    assert isinstance(info.value, LookupError)


def test_bad_sql92_maps_to_subscription_parse_failed() -> None:
    with pytest.raises(SelectorSyntaxError) as info:
        compile_filter("SQL92", "a >")
    assert info.value.response_code == SUBSCRIPTION_PARSE_FAILED == 23


def test_register_plain_predicate_type_and_replace() -> None:
    class StartsWithA:
        def compile(self, expression: str):
            return lambda message: message.topic.startswith(expression)

    register_filter("TOPIC_PREFIX", StartsWithA)
    try:
        compiled = compile_filter("TOPIC_PREFIX", "Or")
        assert isinstance(compiled, CompiledFilter) and compiled.expression_type == "TOPIC_PREFIX"
        assert compiled(Message("Orders")) and not compiled(Message("Refunds"))
        assert compiled.matches_code(42)  # no pre-check: every code passes
        with pytest.raises(FilterError, match="already registered"):
            register_filter("TOPIC_PREFIX", StartsWithA)
        register_filter("topic_prefix", lambda: StartsWithA(), replace=True)
        assert compile_filter("TOPIC_PREFIX", "Re")(Message("Refunds"))
    finally:
        unregister_filter("TOPIC_PREFIX")
    assert "TOPIC_PREFIX" not in registered_filter_types()


def test_factory_must_give_a_filter_type() -> None:
    register_filter("BROKEN", lambda: object())
    try:
        with pytest.raises(FilterError, match="has no compile"):
            compile_filter("BROKEN", "x")
    finally:
        unregister_filter("BROKEN")
    with pytest.raises(TypeError):
        register_filter("NOT_CALLABLE", 42)  # type: ignore[arg-type]


def test_compile_result_must_be_a_predicate() -> None:
    class Wrong:
        def compile(self, expression: str):
            return "not a predicate"

    register_filter("WRONG", Wrong)
    try:
        with pytest.raises(FilterError, match="not a predicate"):
            compile_filter("WRONG", "x")
    finally:
        unregister_filter("WRONG")


def test_a_broken_entry_point_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dist_info = tmp_path / "broken_plugin-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 1.0\n")
    (dist_info / "entry_points.txt").write_text("[rmqcore.filters]\nNOPE = no_such_module_anywhere:Thing\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "NOPE" not in load_entry_points()
    with pytest.raises(UnknownFilterTypeError):
        compile_filter("NOPE", "x")


def test_entry_points_do_not_replace_explicit_registrations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dist_info = tmp_path / "shadow_plugin-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: shadow-plugin\nVersion: 1.0\n")
    (dist_info / "entry_points.txt").write_text("[rmqcore.filters]\nSQL92 = rmqcore.filter.registry:TagFilterType\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "SQL92" not in load_entry_points()
    assert isinstance(get_filter_type("SQL92"), Sql92FilterType)
