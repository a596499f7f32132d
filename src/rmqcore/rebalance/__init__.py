"""Queue allocation strategies (``rmqcore.rebalance``), usable alone: pure functions, no I/O.

RocketMQ's six strategies follow reference section 9 rule for rule; ``allocate_sticky`` is
rmqcore's own.  Every strategy has the signature
``allocate_x(consumer_group, current_cid, mq_all, cid_all, **options) -> list[MessageQueue]``
and, like RocketMQ's, uses the lists in the order given (the consumer sorts them first).

>>> from rmqcore.message import MessageQueue
>>> from rmqcore.rebalance import allocate_averagely, assign_all, strategy_by_name
>>> mqs = [MessageQueue("TopicTest", "broker-a", q) for q in range(4)]
>>> [mq.queue_id for mq in allocate_averagely("group", "cid-1", mqs, ["cid-0", "cid-1", "cid-2"])]
[2]
>>> by_name = strategy_by_name("AVG_BY_CIRCLE")
>>> {cid: [mq.queue_id for mq in qs] for cid, qs in assign_all(by_name, "group", mqs, ["b", "a"]).items()}
{'a': [0, 2], 'b': [1, 3]}
>>> allocate_averagely("group", "cid-1", [], ["cid-1"])
Traceback (most recent call last):
...
rmqcore.rebalance.errors.AllocateArgumentError: mqAll is null or mqAll empty
"""

from rmqcore.rebalance.assignment import assign_all, assign_all_sticky, moved_queue_count, owner_of
from rmqcore.rebalance.errors import AllocateArgumentError, RebalanceError, UnknownStrategyError
from rmqcore.rebalance.registry import NamedStrategy, strategy_by_name
from rmqcore.rebalance.sticky import allocate_sticky, sticky_assignment
from rmqcore.rebalance.strategies import (
    DEFAULT_VIRTUAL_NODE_COUNT,
    AllocateStrategy,
    MachineRoomResolver,
    allocate_averagely,
    allocate_averagely_by_circle,
    allocate_by_config,
    allocate_by_machine_room,
    allocate_consistent_hash,
    allocate_machine_room_nearby,
    check_allocate_arguments,
    md5_ring_hash,
)

__all__ = [
    "DEFAULT_VIRTUAL_NODE_COUNT",
    "AllocateArgumentError",
    "AllocateStrategy",
    "MachineRoomResolver",
    "NamedStrategy",
    "RebalanceError",
    "UnknownStrategyError",
    "allocate_averagely",
    "allocate_averagely_by_circle",
    "allocate_by_config",
    "allocate_by_machine_room",
    "allocate_consistent_hash",
    "allocate_machine_room_nearby",
    "allocate_sticky",
    "assign_all",
    "assign_all_sticky",
    "check_allocate_arguments",
    "md5_ring_hash",
    "moved_queue_count",
    "owner_of",
    "strategy_by_name",
    "sticky_assignment",
]
