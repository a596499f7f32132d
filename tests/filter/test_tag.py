"""Tag codes (reference section 5) and tag subscription expressions (section 3)."""

from __future__ import annotations

import pytest

from rmqcore.filter import compile_filter, parse_tag_expression, tag_hash
from rmqcore.message import Message, MessageExt

# Reference section 5, "Java String.hashCode examples", every row.
HASH_TABLE = [
    ("TagA", 2598919),
    ("TagB", 2598920),
    ("TagC", 2598921),
    ("*", 42),
    ("", 0),
    ("a", 97),
    ("TAG_FOR_TEST_ESTIMATE", -1240328294),
    ("tags0", 110120759),
    ("标签", 857175),
    ("Tâg", 87833),
    ("😀", 1772899),
    ("TagA || TagB", 1359775119),
    ("polygenelubricants", -2147483648),
]


@pytest.mark.parametrize(("tag", "code"), HASH_TABLE, ids=[repr(t) for t, _ in HASH_TABLE])
def test_tag_hash_matches_reference_table(tag: str, code: int) -> None:
    assert tag_hash(tag) == code


def test_missing_tag_hashes_to_zero() -> None:
    assert tag_hash(None) == 0


@pytest.mark.parametrize("expression", ["*", "", None])
def test_star_or_empty_subscribes_to_all(expression: str | None) -> None:
    parsed = parse_tag_expression(expression)
    assert parsed.subscribes_all
    assert parsed.sub_string == "*"
    assert parsed.tag_codes is None
    assert parsed.matches_code(12345) and parsed.matches_tags(None) and parsed.matches_tags("anything")


@pytest.mark.parametrize(
    ("expression", "tags"),
    [
        ("TagA || TagC", {"TagA", "TagC"}),
        ("TagA||TagC", {"TagA", "TagC"}),
        ("  TagA\t||\nTagC  ", {"TagA", "TagC"}),
        ("TagA || || TagB ||", {"TagA", "TagB"}),
        ("TagA", {"TagA"}),
        ("TagA | TagB", {"TagA | TagB"}),  # only `||` separates
        (" * ", {"*"}),  # only exactly "*" means all (FilterAPI compares before trimming)
        ("标签 || Tâg", {"标签", "Tâg"}),
    ],
)
def test_tag_expression_parse(expression: str, tags: set[str]) -> None:
    parsed = parse_tag_expression(expression)
    assert not parsed.subscribes_all
    assert parsed.tags == frozenset(tags)
    assert parsed.codes == frozenset(tag_hash(t) for t in tags)
    assert parsed.tag_codes == parsed.codes


def test_blank_expression_matches_nothing() -> None:
    parsed = parse_tag_expression("   ||  ")
    assert parsed.tags == frozenset() and parsed.codes == frozenset()
    assert not parsed.matches(Message("T", b"", tags="TagA"))


def test_heartbeat_subscription_fields() -> None:
    assert parse_tag_expression("TagC || TagA").subscription_json() == {
        "subString": "TagC || TagA",
        "tagsSet": ["TagA", "TagC"],
        "codeSet": [2598919, 2598921],
        "expressionType": "TAG",
    }


def test_seed_tag_filter_two_stages() -> None:
    """The seed's `TagA || TagC` consumer over messages tagged TagA/TagB/TagC in turn."""
    tags = ["TagA", "TagB", "TagC"]
    messages = [MessageExt("TopicTest", f"m{i}".encode(), tags=tags[i % 3], queue_offset=i) for i in range(15)]
    parsed = parse_tag_expression("TagA || TagC")
    # Stage 1: the broker's code check on the ConsumeQueue tag code.
    by_code = [m for m in messages if parsed.matches_code(tag_hash(m.tags))]
    # Stage 2: the client's exact tag check.
    kept = [m.queue_offset for m in by_code if parsed.matches_tags(m.tags)]
    assert kept == [i for i in range(15) if i % 3 != 1]
    assert kept == [m.queue_offset for m in messages if compile_filter("TAG", "TagA || TagC")(m)]


def test_exact_tag_check_rejects_a_hash_collision() -> None:
    # "Aa" and "BB" share a Java hash code: the code check passes, the exact check does not.
    assert tag_hash("Aa") == tag_hash("BB")
    parsed = parse_tag_expression("Aa")
    message = Message("T", b"", tags="BB")
    assert parsed.matches_code(tag_hash("BB"))
    assert not parsed.matches(message)


def test_multi_tag_value_is_hashed_whole() -> None:
    assert tag_hash("TagA || TagB") == 1359775119
    assert not parse_tag_expression("TagA").matches(Message("T", b"", tags="TagA || TagB"))


def test_message_without_tags_only_matches_star() -> None:
    untagged = Message("T", b"")
    assert parse_tag_expression("*").matches(untagged)
    assert not parse_tag_expression("TagA").matches(untagged)
