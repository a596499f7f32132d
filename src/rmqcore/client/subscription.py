"""Subscriptions: ``MessageSelector`` and the ``SubscriptionData`` a consumer announces.

A tag expression becomes ``FilterAPI.buildSubscriptionData`` (reference section 3): empty or
``*`` subscribes to everything; otherwise the expression splits on ``||``, each tag trimmed,
empties dropped, with the Java ``hashCode`` of each tag as its code (what the broker compares
against the ConsumeQueue tag code). SQL92 expressions travel as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

from rmqcore.message import java_string_hash
from rmqcore.remoting.bodies.heartbeat import SUB_ALL, SubscriptionData

TAG = "TAG"
SQL92 = "SQL92"


@dataclass(frozen=True, slots=True)
class MessageSelector:
    """``MessageSelector.byTag`` / ``bySql``."""

    expression_type: str
    expression: str

    @classmethod
    def by_tag(cls, expression: str | None) -> MessageSelector:
        return cls(TAG, expression or SUB_ALL)

    @classmethod
    def by_sql(cls, expression: str) -> MessageSelector:
        return cls(SQL92, expression)


def parse_tags(expression: str | None) -> list[str] | None:
    """Tags named by a tag expression, or None when it subscribes to all.

    >>> parse_tags("TagA || TagC ||  "), parse_tags(" * "), parse_tags("")
    (['TagA', 'TagC'], None, None)
    """
    if expression is None or not expression.strip() or expression.strip() == SUB_ALL:
        return None
    tags: list[str] = []
    for part in expression.split("||"):
        tag = part.strip()
        if tag and tag not in tags:
            tags.append(tag)
    return tags or None


def build_subscription_data(topic: str, selector: MessageSelector | str | None, sub_version: int) -> SubscriptionData:
    """The subscription a consumer puts in its heartbeat and pull requests.

    >>> s = build_subscription_data("T", "TagA || TagB", 1)
    >>> s.sub_string, s.tags_set, s.code_set
    ('TagA || TagB', ['TagA', 'TagB'], [2598919, 2598920])
    """
    if not isinstance(selector, MessageSelector):
        selector = MessageSelector.by_tag(selector)
    if selector.expression_type == SQL92:
        return SubscriptionData(topic, selector.expression, sub_version=sub_version, expression_type=SQL92)
    tags = parse_tags(selector.expression)
    if tags is None:
        return SubscriptionData(topic, SUB_ALL, sub_version=sub_version, expression_type=TAG)
    return SubscriptionData(
        topic, selector.expression.strip(), list(tags), [java_string_hash(t) for t in tags], sub_version, TAG
    )


def tags_filter(subscription: SubscriptionData) -> frozenset[str] | None:
    """The exact tags to re-check on the client, or None (all, or SQL92 evaluated by the broker)."""
    if subscription.expression_type != TAG or subscription.sub_string == SUB_ALL or not subscription.tags_set:
        return None
    return frozenset(subscription.tags_set)
