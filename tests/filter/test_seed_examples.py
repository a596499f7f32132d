"""The seed's filter examples: TagFilterConsumer (`TagA || TagC`) and SqlFilterProducer/Consumer."""

from __future__ import annotations

from rmqcore.filter import compile_filter, sql92, tag_hash
from rmqcore.message import MessageExt

SEED_SQL = "(TAGS is not null and TAGS in ('TagA','TagC')) and (baiLi is not null and baiLi between 0 and 3)"
TAGS = ["TagA", "TagB", "TagC"]


def sql_filter_producer_messages() -> list[MessageExt]:
    """What SqlFilterProducer sends: 15 messages, tags TagA/TagB/TagC by i % 3, user property baiLi=i."""
    messages = []
    for i in range(15):
        message = MessageExt("SqlFilterTest", f"Hello RocketMQ {i}".encode(), tags=TAGS[i % 3], queue_offset=i)
        message.put_user_property("baiLi", str(i))
        messages.append(message)
    return messages


def test_sql_filter_consumer_selects_0_2_and_3() -> None:
    selector = sql92.compile(SEED_SQL)
    assert [m.queue_offset for m in sql_filter_producer_messages() if selector.matches(m.properties)] == [0, 2, 3]


def test_sql_filter_through_the_registry() -> None:
    compiled = compile_filter("SQL92", SEED_SQL)
    assert [m.queue_offset for m in sql_filter_producer_messages() if compiled(m)] == [0, 2, 3]


def test_sql_filter_three_valued_results() -> None:
    selector = sql92.compile(SEED_SQL)
    results = [selector.evaluate(m.properties) for m in sql_filter_producer_messages()]
    # TagB messages fail the IN; baiLi > 3 fails BETWEEN; nothing is null since both properties exist.
    assert results == [i in (0, 2, 3) for i in range(15)]
    assert selector.evaluate({"TAGS": "TagA"}) is False  # baiLi IS NOT NULL is FALSE
    assert selector.evaluate({"baiLi": "1"}) is False
    assert selector.properties == frozenset({"TAGS", "baiLi"})


def test_tag_filter_consumer_example() -> None:
    compiled = compile_filter("TAG", "TagA || TagC")
    messages = sql_filter_producer_messages()
    survivors = [m for m in messages if compiled.matches_code(tag_hash(m.tags))]
    assert [m.queue_offset for m in survivors if compiled(m)] == [i for i in range(15) if i % 3 in (0, 2)]
