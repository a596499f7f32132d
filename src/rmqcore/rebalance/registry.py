"""Strategies by RocketMQ getName() value, so a consumer can be configured with a string.

``strategy_by_name(name, **options)`` returns a ``NamedStrategy``: a callable with the
four-argument allocate signature whose ``name`` is the getName() value (section 9).

>>> from rmqcore.message import MessageQueue
>>> avg = strategy_by_name("AVG")
>>> avg.name, [mq.queue_id for mq in avg("g", "c0", [MessageQueue("T", "b", q) for q in range(3)], ["c0", "c1"])]
('AVG', [0, 1])
>>> strategy_by_name("CONSISTENT_HASH", virtual_node_count=3).name
'CONSISTENT_HASH'
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rmqcore.message import MessageQueue
from rmqcore.rebalance import sticky, strategies
from rmqcore.rebalance.errors import AllocateArgumentError, UnknownStrategyError

NEARBY_PREFIX = "MACHINE_ROOM_NEARBY-"

STRATEGY_FUNCTIONS: Mapping[str, Callable[..., list[MessageQueue]]] = {
    "AVG": strategies.allocate_averagely,
    "AVG_BY_CIRCLE": strategies.allocate_averagely_by_circle,
    "CONSISTENT_HASH": strategies.allocate_consistent_hash,
    "CONFIG": strategies.allocate_by_config,
    "MACHINE_ROOM": strategies.allocate_by_machine_room,
    # Not a RocketMQ strategy: rmqcore's own, named in the same style.
    "STICKY": sticky.allocate_sticky,
}


@dataclass(frozen=True)
class NamedStrategy:
    """A strategy function bound to its options, with RocketMQ's getName() value."""

    name: str
    function: Callable[..., list[MessageQueue]]
    options: Mapping[str, Any] = field(default_factory=dict)

    def __call__(
        self, consumer_group: str, current_cid: str, mq_all: Sequence[MessageQueue], cid_all: Sequence[str]
    ) -> list[MessageQueue]:
        return self.function(consumer_group, current_cid, mq_all, cid_all, **self.options)

    def get_name(self) -> str:
        return self.name


def strategy_by_name(name: str, **options: Any) -> NamedStrategy:
    """The strategy RocketMQ calls ``name``, bound to ``options`` (checked now, not at the first rebalance).

    ``MACHINE_ROOM_NEARBY-<inner>`` needs ``machine_room_resolver``; the other options go to ``<inner>``.

    >>> strategy_by_name("MACHINE_ROOM_NEARBY-AVG", machine_room_resolver=object()).name
    'MACHINE_ROOM_NEARBY-AVG'
    >>> strategy_by_name("ROUND_ROBIN")
    Traceback (most recent call last):
    ...
    rmqcore.rebalance.errors.UnknownStrategyError: unknown allocate strategy 'ROUND_ROBIN'; known: AVG, AVG_BY_CIRCLE, CONFIG, CONSISTENT_HASH, MACHINE_ROOM, MACHINE_ROOM_NEARBY-<inner>, STICKY
    """
    if name.startswith(NEARBY_PREFIX):
        resolver = options.pop("machine_room_resolver", None)
        if resolver is None:
            raise AllocateArgumentError("machineRoomResolver is null")
        inner = strategy_by_name(name[len(NEARBY_PREFIX) :], **options)
        return NamedStrategy(
            name,
            strategies.allocate_machine_room_nearby,
            {"inner_strategy": inner, "machine_room_resolver": resolver},
        )
    function = STRATEGY_FUNCTIONS.get(name)
    if function is None:
        known = ", ".join(sorted([*STRATEGY_FUNCTIONS, NEARBY_PREFIX + "<inner>"]))
        raise UnknownStrategyError(f"unknown allocate strategy {name!r}; known: {known}")
    if name == "CONSISTENT_HASH" and options.get("virtual_node_count", 0) < 0:
        # The Java constructor refuses it; refuse at configuration time too.
        raise AllocateArgumentError(f"illegal virtualNodeCnt :{options['virtual_node_count']}")
    # Bind now so a misspelt or missing option fails at configuration time (TypeError).
    inspect.signature(function).bind("group", "cid", [], [], **options)
    return NamedStrategy(name, function, dict(options))
