"""Topic routes as the client uses them: writable queues for producers, readable ones for consumers.

The rules are ``MQClientInstance.topicRouteData2TopicPublishInfo`` / ``...SubscribeInfo``:
queues come from ``queueDatas`` sorted by broker name, a broker counts only if its route has
a master address (id 0), an ``orderTopicConf`` ("brokerA:4;brokerB:4") overrides the order.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from rmqcore.client.fault_tolerance import BrokerAvailability
from rmqcore.message import MessageQueue
from rmqcore.message import constants as C

MASTER_ID = 0


class RouteLike(Protocol):
    # Read-only members, so that a route whose fields are lists (TopicRouteData) conforms.
    @property
    def queue_datas(self) -> Sequence[Any]: ...
    @property
    def broker_datas(self) -> Sequence[Any]: ...
    @property
    def order_topic_conf(self) -> str | None: ...


def master_addrs(route: RouteLike) -> dict[str, str]:
    """broker name -> master address, for brokers whose route names a master."""
    out: dict[str, str] = {}
    for bd in route.broker_datas:
        addr = _addrs(bd).get(MASTER_ID)
        if addr:
            out[bd.broker_name] = addr
    return out


def _addrs(bd: Any) -> dict[int, str]:
    return {int(k): v for k, v in bd.broker_addrs.items()}


def publish_queues(topic: str, route: RouteLike) -> tuple[list[MessageQueue], bool]:
    """The writable queues of ``topic`` in route order, and whether the topic is ordered."""
    if route.order_topic_conf:
        queues: list[MessageQueue] = []
        for part in route.order_topic_conf.split(";"):
            name, _, count = part.partition(":")
            if name and count:
                queues.extend(MessageQueue(topic, name, i) for i in range(int(count)))
        return queues, True
    masters = master_addrs(route)
    queues = []
    for qd in sorted(route.queue_datas, key=lambda q: q.broker_name):
        if not qd.perm & C.PERM_WRITE or qd.broker_name not in masters:
            continue
        queues.extend(MessageQueue(topic, qd.broker_name, i) for i in range(qd.write_queue_nums))
    return queues, False


def subscribe_queues(topic: str, route: RouteLike) -> set[MessageQueue]:
    """The readable queues of ``topic`` (``topicRouteData2TopicSubscribeInfo``)."""
    out: set[MessageQueue] = set()
    for qd in route.queue_datas:
        if qd.perm & C.PERM_READ:
            out.update(MessageQueue(topic, qd.broker_name, i) for i in range(qd.read_queue_nums))
    return out


@dataclass
class TopicPublishInfo:
    """A producer's view of one topic: its writable queues and a round-robin cursor."""

    topic: str
    message_queues: list[MessageQueue]
    order_topic: bool = False
    _cursor: Iterable[int] = field(default_factory=lambda: itertools.count(random.randrange(1 << 16)))

    @classmethod
    def from_route(cls, topic: str, route: RouteLike) -> TopicPublishInfo:
        queues, ordered = publish_queues(topic, route)
        return cls(topic, queues, ordered)

    @property
    def ok(self) -> bool:
        return bool(self.message_queues)

    def select_queue(
        self, last_broker_name: str | None = None, availability: BrokerAvailability | None = None
    ) -> MessageQueue:
        """Next queue round-robin, preferring brokers that have not failed lately.

        Preference order: a queue on an available broker other than ``last_broker_name``
        (the one the previous attempt failed on); then any queue not on that broker; then
        simply the next queue.

        >>> info = TopicPublishInfo("T", [MessageQueue("T", b, q) for b in ("a", "b") for q in range(2)])
        >>> {info.select_queue(last_broker_name="a").broker_name for _ in range(4)}
        {'b'}
        """
        queues = self.message_queues
        n = len(queues)
        start = next(self._cursor)  # type: ignore[call-overload]
        if last_broker_name is None and (availability is None or not availability.has_failures):
            return queues[start % n]  # the common case: nothing to steer around
        fallback: MessageQueue | None = None
        for i in range(n):
            mq = queues[(start + i) % n]
            if mq.broker_name == last_broker_name:
                continue
            if availability is None or availability.is_available(mq.broker_name):
                return mq
            if fallback is None:
                fallback = mq
        return fallback if fallback is not None else queues[start % n]
