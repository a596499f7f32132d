"""The worked example in examples/custom_filter: a REGEX filter type registered from outside rmqcore."""

from __future__ import annotations

import doctest
import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rmqcore.filter import (
    FilterExpressionError,
    compile_filter,
    load_entry_points,
    register_filter,
    registered_filter_types,
    tag_hash,
    unregister_filter,
)
from rmqcore.message import MessageExt

EXAMPLE_DIR = Path(__file__).resolve().parents[2] / "examples" / "custom_filter"


@pytest.fixture
def regex_module(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    monkeypatch.syspath_prepend(str(EXAMPLE_DIR))
    module = importlib.import_module("rmq_regex_filter")
    yield module
    unregister_filter("REGEX")
    sys.modules.pop("rmq_regex_filter", None)


def _messages() -> list[MessageExt]:
    keys = ["order-1", "refund-2", "order-33", "order-x", "ORDER-4"]
    tags = ["TagA", "TagB", "TagC", "TagA", "TagB"]
    return [MessageExt("TopicTest", b"", tags=t, keys=k, queue_offset=i) for i, (k, t) in enumerate(zip(keys, tags))]


def test_registered_by_hand_filters_messages(regex_module: object) -> None:
    register_filter("REGEX", regex_module.RegexFilterType)  # type: ignore[attr-defined]
    keep = compile_filter("REGEX", "KEYS =~ ^order-[0-9]+$")
    assert [m.queue_offset for m in _messages() if keep(m)] == [0, 2]
    assert keep.tag_codes is None and keep.matches_code(12345)
    assert keep.matches_properties({"KEYS": "order-9"}) and not keep.matches_properties({})


def test_tag_alternation_gives_codes_for_the_store_scan(regex_module: object) -> None:
    register_filter("REGEX", regex_module.RegexFilterType)  # type: ignore[attr-defined]
    keep = compile_filter("REGEX", "TAGS =~ ^(TagA|TagC)$")
    assert keep.tag_codes == frozenset({tag_hash("TagA"), tag_hash("TagC")})
    candidates = [m for m in _messages() if keep.matches_code(tag_hash(m.tags))]
    assert [m.queue_offset for m in candidates if keep(m)] == [0, 2, 3]


def test_bad_expressions_are_subscription_parse_failures(regex_module: object) -> None:
    register_filter("REGEX", regex_module.RegexFilterType)  # type: ignore[attr-defined]
    for expression in ["KEYS", "KEYS =~ (unclosed", ""]:
        with pytest.raises(FilterExpressionError) as info:
            compile_filter("REGEX", expression)
        assert info.value.response_code == 23


def test_discovered_through_the_entry_point_group(tmp_path: Path, regex_module: object, monkeypatch: pytest.MonkeyPatch) -> None:
    # What `pip install examples/custom_filter` leaves on sys.path: a dist-info with the entry point.
    dist_info = tmp_path / "rmq_regex_filter-0.1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: rmq-regex-filter\nVersion: 0.1.0\n")
    (dist_info / "entry_points.txt").write_text('[rmqcore.filters]\nREGEX = rmq_regex_filter:RegexFilterType\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    unregister_filter("REGEX")
    assert "REGEX" in load_entry_points()
    assert "REGEX" in registered_filter_types()
    keep = compile_filter("regex", "KEYS =~ ^refund-")
    assert [m.queue_offset for m in _messages() if keep(m)] == [1]


def test_example_docstring_runs(regex_module: object) -> None:
    result = doctest.testmod(regex_module, verbose=False)  # type: ignore[arg-type]
    assert result.attempted > 0 and result.failed == 0
