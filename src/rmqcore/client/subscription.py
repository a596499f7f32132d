"""Subscriptions: ``MessageSelector`` and the ``SubscriptionData`` a consumer announces.

Tag expressions are parsed by ``rmqcore.filter.parse_tag_expression`` (``FilterAPI.buildSubscriptionData``,
reference section 3: ``*`` or empty is everything, else ``||``-separated tags and their Java hash
codes, which the broker compares with the ConsumeQueue tag code). SQL92 expressions travel as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

from rmqcore.filter import parse_tag_expression
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


def build_subscription_data(topic: str, selector: MessageSelector | str | None, sub_version: int) -> SubscriptionData:
    """The subscription a consumer puts in its heartbeat and pull requests.

    >>> s = build_subscription_data("T", "TagA || TagB", 1)
    >>> s.sub_string, s.tags_set, s.code_set
    ('TagA || TagB', ['TagA', 'TagB'], [2598919, 2598920])
    >>> build_subscription_data("T", None, 1).sub_string
    '*'
    """
    if not isinstance(selector, MessageSelector):
        selector = MessageSelector.by_tag(selector)
    if selector.expression_type == SQL92:
        return SubscriptionData(topic, selector.expression, sub_version=sub_version, expression_type=SQL92)
    parsed = parse_tag_expression(selector.expression)
    return SubscriptionData(topic, parsed.sub_string, sorted(parsed.tags), sorted(parsed.codes), sub_version, TAG)


def tags_filter(subscription: SubscriptionData) -> frozenset[str] | None:
    """The exact tags to re-check on the client, or None (all, or SQL92 evaluated by the broker)."""
    if subscription.expression_type != TAG or subscription.sub_string == SUB_ALL or not subscription.tags_set:
        return None
    return frozenset(subscription.tags_set)
