"""Tag filtering: the tag hash code and ``TagA || TagC`` subscription expressions.

Reference section 5 (tag code: Java ``String.hashCode`` of the whole TAGS value,
0 when empty) and section 3, "Tag subscription parse" (``FilterAPI``): an empty
expression or exactly ``*`` subscribes to everything; otherwise split on ``||``,
trim each part (Java ``String.trim``), drop empty parts. Matching is two-stage as
in RocketMQ: the broker compares ConsumeQueue tag codes against the code set
(the store's C scan takes that set), then the client re-checks the exact tag.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rmqcore.message import Message, tags_code
from rmqcore.message import constants as C

SUB_ALL = "*"
_JAVA_TRIM = "".join(chr(c) for c in range(0x21))  # String.trim(): every char <= U+0020


def tag_hash(tag: str | None) -> int:
    """The ConsumeQueue tag code of ``tag``: signed 32-bit Java ``String.hashCode``; 0 if empty.

    >>> tag_hash("TagA"), tag_hash("*"), tag_hash(""), tag_hash(None)
    (2598919, 42, 0, 0)
    >>> tag_hash("😀")  # UTF-16 surrogate pair D83D DE00
    1772899
    """
    return tags_code(tag)


@dataclass(frozen=True, slots=True)
class TagExpression:
    """A parsed tag subscription: everything, or a tag set and its code set.

    >>> expr = parse_tag_expression("TagA || TagC")
    >>> sorted(expr.tags), sorted(expr.codes)
    (['TagA', 'TagC'], [2598919, 2598921])
    >>> expr.matches_code(tag_hash("TagC")), expr.matches_tags("TagC"), expr.matches_tags("TagB")
    (True, True, False)
    >>> parse_tag_expression("*").subscribes_all
    True
    """

    expression: str
    subscribes_all: bool
    tags: frozenset[str]
    codes: frozenset[int]

    @property
    def sub_string(self) -> str:
        """``subString`` as the client sends it in HeartbeatData (``*`` when subscribing to all)."""
        return SUB_ALL if self.subscribes_all else self.expression

    @property
    def tag_codes(self) -> frozenset[int] | None:
        """The code set for the store's scan, or ``None`` when every code matches."""
        return None if self.subscribes_all else self.codes

    def matches_code(self, code: int) -> bool:
        """Broker stage: the ConsumeQueue tag code is in the code set (``isMatchedByConsumeQueue``)."""
        return self.subscribes_all or code in self.codes

    def matches_tags(self, tags: str | None) -> bool:
        """Client stage: the message's TAGS value is exactly one of the subscribed tags."""
        return self.subscribes_all or (tags is not None and tags in self.tags)

    def matches(self, message: Message) -> bool:
        """Both stages against a message (the code computed from its TAGS property)."""
        tags = message.properties.get(C.PROPERTY_TAGS)
        return self.matches_code(tag_hash(tags)) and self.matches_tags(tags)

    def subscription_json(self) -> dict[str, object]:
        """The tag fields of a HeartbeatData ``subscriptionDataSet`` entry (section 3)."""
        return {
            "subString": self.sub_string,
            "tagsSet": sorted(self.tags),
            "codeSet": sorted(self.codes),
            "expressionType": "TAG",
        }


def parse_tag_expression(expression: str | None) -> TagExpression:
    """Parse a consumer's tag expression as ``FilterAPI.buildSubscriptionData`` does.

    >>> parse_tag_expression(" TagA ||  || TagB ").tags == frozenset({"TagA", "TagB"})
    True
    >>> parse_tag_expression("").subscribes_all, parse_tag_expression(None).subscribes_all
    (True, True)
    """
    if expression is None or expression == "" or expression == SUB_ALL:
        return TagExpression(SUB_ALL, True, frozenset(), frozenset())
    tags = _split_tags(expression.split("||"))
    return TagExpression(expression, False, frozenset(tags), frozenset(tag_hash(t) for t in tags))


def _split_tags(parts: Iterable[str]) -> list[str]:
    return [trimmed for trimmed in (part.strip(_JAVA_TRIM) for part in parts) if trimmed]
