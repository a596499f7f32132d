"""RocketMQ's six queue-allocation strategies, rule for rule (reference section 9).

Each is a pure function ``allocate_x(consumer_group, current_cid, mq_all, cid_all, **options)``
returning the queues ``current_cid`` should consume.  Like RocketMQ they use ``mq_all`` and
``cid_all`` in the order given: the consumer sorts both before calling (``RebalanceImpl``),
so two consumers that see the same sets agree on the split.

>>> from rmqcore.message import MessageQueue
>>> mqs = [MessageQueue("T", "broker-a", q) for q in range(5)]
>>> [mq.queue_id for mq in allocate_averagely("g", "c1", mqs, ["c0", "c1"])]
[3, 4]
>>> [mq.queue_id for mq in allocate_averagely_by_circle("g", "c1", mqs, ["c0", "c1"])]
[1, 3]
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections.abc import Callable, Collection, Sequence
from typing import Protocol, runtime_checkable

import structlog

from rmqcore.message import MessageQueue
from rmqcore.rebalance.errors import AllocateArgumentError

_log = structlog.get_logger(__name__)

DEFAULT_VIRTUAL_NODE_COUNT = 10
"""``AllocateMessageQueueConsistentHash()`` uses 10 virtual nodes per consumer (section 9)."""


class AllocateStrategy(Protocol):
    """What a consumer calls on each rebalance: the queues ``current_cid`` should own."""

    def __call__(
        self, consumer_group: str, current_cid: str, mq_all: Sequence[MessageQueue], cid_all: Sequence[str]
    ) -> list[MessageQueue]: ...


@runtime_checkable
class MachineRoomResolver(Protocol):
    """Where brokers and consumers are deployed (RocketMQ's ``MachineRoomResolver``)."""

    def broker_deploy_in(self, mq: MessageQueue) -> str | None: ...

    def consumer_deploy_in(self, cid: str) -> str | None: ...


def check_allocate_arguments(
    consumer_group: str, current_cid: str, mq_all: Sequence[MessageQueue], cid_all: Sequence[str]
) -> bool:
    """``AbstractAllocateMessageQueueStrategy.check``: raise on empty input; False if current is not live.

    >>> check_allocate_arguments("g", "c0", [MessageQueue("T", "b", 0)], ["c0"])
    True
    >>> check_allocate_arguments("g", "", [MessageQueue("T", "b", 0)], ["c0"])
    Traceback (most recent call last):
    ...
    rmqcore.rebalance.errors.AllocateArgumentError: currentCID is empty
    """
    # Same order of checks and same texts as the Java (section 9).
    if not current_cid:
        raise AllocateArgumentError("currentCID is empty")
    if not mq_all:
        raise AllocateArgumentError("mqAll is null or mqAll empty")
    if not cid_all:
        raise AllocateArgumentError("cidAll is null or cidAll empty")
    if current_cid not in cid_all:
        # RocketMQ logs "[BUG]" at info and allocates nothing to a consumer it does not know.
        _log.info("consumer id not in cidAll", consumer_group=consumer_group, current_cid=current_cid)
        return False
    return True


def allocate_averagely(
    consumer_group: str, current_cid: str, mq_all: Sequence[MessageQueue], cid_all: Sequence[str]
) -> list[MessageQueue]:
    """``AllocateMessageQueueAveragely`` (``AVG``): contiguous blocks, the first N % C consumers one larger.

    >>> mqs = [MessageQueue("T", "b", q) for q in range(3)]
    >>> [mq.queue_id for mq in allocate_averagely("g", "c3", mqs, ["c0", "c1", "c2", "c3"])]
    []
    """
    if not check_allocate_arguments(consumer_group, current_cid, mq_all, cid_all):
        return []
    n, c = len(mq_all), len(cid_all)
    index = cid_all.index(current_cid)
    mod = n % c
    if n <= c:
        size = 1
    elif mod > 0 and index < mod:
        size = n // c + 1
    else:
        size = n // c
    start = index * size if (mod > 0 and index < mod) else index * size + mod
    take = min(size, n - start)
    return list(mq_all[start : start + take]) if take > 0 else []


def allocate_averagely_by_circle(
    consumer_group: str, current_cid: str, mq_all: Sequence[MessageQueue], cid_all: Sequence[str]
) -> list[MessageQueue]:
    """``AllocateMessageQueueAveragelyByCircle`` (``AVG_BY_CIRCLE``): queue j goes to consumer j % C."""
    if not check_allocate_arguments(consumer_group, current_cid, mq_all, cid_all):
        return []
    index = cid_all.index(current_cid)
    return list(mq_all[index :: len(cid_all)])


def md5_ring_hash(key: str) -> int:
    """RocketMQ's ``MD5Hash``: the first 4 bytes of MD5(UTF-8 key), unsigned big-endian (section 9).

    >>> md5_ring_hash("")  # MD5("") = d41d8cd9...
    3558706393
    """
    return int.from_bytes(hashlib.md5(key.encode("utf-8")).digest()[:4], "big")


def _build_ring(cid_all: Sequence[str], virtual_node_count: int, hash_function: Callable[[str], int]) -> tuple[list[int], list[str]]:
    """``ConsistentHashRouter``: a sorted ring of virtual-node hashes and the consumer owning each."""
    ring: dict[int, str] = {}
    replicas_in_ring: dict[str, int] = {}
    for cid in cid_all:
        # addNode numbers replicas after those of the same consumer already on the ring
        # (getExistingReplicas), which only matters when cid_all holds a duplicate.
        existing = replicas_in_ring.get(cid, 0)
        for r in range(virtual_node_count):
            h = hash_function(f"{cid}-{r + existing}")
            previous_owner = ring.get(h)
            if previous_owner is not None:
                # TreeMap.put: a later equal hash overwrites the earlier virtual node.
                replicas_in_ring[previous_owner] -= 1
            ring[h] = cid
            replicas_in_ring[cid] = replicas_in_ring.get(cid, 0) + 1
    keys = sorted(ring)
    return keys, [ring[k] for k in keys]


def allocate_consistent_hash(
    consumer_group: str,
    current_cid: str,
    mq_all: Sequence[MessageQueue],
    cid_all: Sequence[str],
    *,
    virtual_node_count: int = DEFAULT_VIRTUAL_NODE_COUNT,
    hash_function: Callable[[str], int] = md5_ring_hash,
) -> list[MessageQueue]:
    """``AllocateMessageQueueConsistentHash`` (``CONSISTENT_HASH``): MD5 ring of ``cid-r`` virtual nodes.

    A queue hashes ``str(mq)`` and goes to the first ring key ≥ its hash, wrapping to the smallest.

    >>> mqs = [MessageQueue("T", "b", q) for q in range(8)]
    >>> owned = [allocate_consistent_hash("g", c, mqs, ["c0", "c1"]) for c in ("c0", "c1")]
    >>> sorted(owned[0] + owned[1]) == mqs
    True
    """
    if virtual_node_count < 0:
        # Raised by the Java constructor; checked first here since the options are the constructor.
        raise AllocateArgumentError(f"illegal virtualNodeCnt :{virtual_node_count}")
    if not check_allocate_arguments(consumer_group, current_cid, mq_all, cid_all):
        return []
    keys, owners = _build_ring(cid_all, virtual_node_count, hash_function)
    if not keys:
        return []  # routeNode returns null on an empty ring (0 virtual nodes)
    result = []
    for mq in mq_all:
        i = bisect_left(keys, hash_function(str(mq)))
        if owners[i if i < len(keys) else 0] == current_cid:
            result.append(mq)
    return result


def allocate_by_config(
    consumer_group: str,
    current_cid: str,
    mq_all: Sequence[MessageQueue],
    cid_all: Sequence[str],
    *,
    message_queue_list: Sequence[MessageQueue],
) -> list[MessageQueue]:
    """``AllocateMessageQueueByConfig`` (``CONFIG``): the configured list, whatever the inputs (no check).

    >>> allocate_by_config("g", "", [], [], message_queue_list=[MessageQueue("T", "b", 7)])
    [MessageQueue(topic='T', broker_name='b', queue_id=7)]
    """
    return list(message_queue_list)


def java_split_at(text: str) -> list[str]:
    """Java ``String.split("@")``: like ``str.split`` but trailing empty strings are dropped.

    >>> java_split_at("room@broker"), java_split_at("room@"), java_split_at("@"), java_split_at("")
    (['room', 'broker'], ['room'], [], [''])
    """
    parts = text.split("@")
    if len(parts) == 1:
        return parts  # no separator: Java returns the input itself, even when empty
    while parts and parts[-1] == "":
        parts.pop()
    return parts


def allocate_by_machine_room(
    consumer_group: str,
    current_cid: str,
    mq_all: Sequence[MessageQueue],
    cid_all: Sequence[str],
    *,
    consumer_idcs: Collection[str],
) -> list[MessageQueue]:
    """``AllocateMessageQueueByMachineRoom`` (``MACHINE_ROOM``).

    Only queues whose broker name is ``"<idc>@<name>"`` with ``<idc>`` in ``consumer_idcs`` are shared:
    consumer i takes the block ``[i*mod, i*mod+mod)`` plus element ``i + mod*C`` when ``rem > i``.

    >>> mqs = [MessageQueue("T", b, 0) for b in ("hz@b1", "sh@b2", "hz@b3", "b4")]
    >>> [mq.broker_name for mq in allocate_by_machine_room("g", "c0", mqs, ["c0"], consumer_idcs={"hz"})]
    ['hz@b1', 'hz@b3']
    """
    if not check_allocate_arguments(consumer_group, current_cid, mq_all, cid_all):
        return []
    index = cid_all.index(current_cid)
    eligible = []
    for mq in mq_all:
        parts = java_split_at(mq.broker_name)
        if len(parts) == 2 and parts[0] in consumer_idcs:
            eligible.append(mq)
    c = len(cid_all)
    mod, rem = divmod(len(eligible), c)
    result = eligible[index * mod : index * mod + mod]
    if rem > index:
        result.append(eligible[index + mod * c])
    return result


def allocate_machine_room_nearby(
    consumer_group: str,
    current_cid: str,
    mq_all: Sequence[MessageQueue],
    cid_all: Sequence[str],
    *,
    inner_strategy: AllocateStrategy,
    machine_room_resolver: MachineRoomResolver,
) -> list[MessageQueue]:
    """``AllocateMachineRoomNearby`` (``MACHINE_ROOM_NEARBY-<inner>``).

    Queues of the current consumer's room are shared (by ``inner_strategy``) among that room's
    consumers; queues of a room with no consumer are shared among all consumers.

    >>> class ByPrefix:
    ...     def broker_deploy_in(self, mq): return mq.broker_name.split("-")[0]
    ...     def consumer_deploy_in(self, cid): return cid.split("-")[0]
    >>> mqs = [MessageQueue("T", b, q) for b in ("hz-b", "sh-b") for q in range(2)]
    >>> got = allocate_machine_room_nearby("g", "hz-c1", mqs, ["hz-c0", "hz-c1"],
    ...     inner_strategy=allocate_averagely, machine_room_resolver=ByPrefix())
    >>> [str(mq) for mq in got]
    ['MessageQueue [topic=T, brokerName=hz-b, queueId=1]', 'MessageQueue [topic=T, brokerName=sh-b, queueId=1]']
    """
    # The Java constructor throws NullPointerException with these texts; one typed error here.
    if inner_strategy is None:
        raise AllocateArgumentError("allocateMessageQueueStrategy is null")
    if machine_room_resolver is None:
        raise AllocateArgumentError("machineRoomResolver is null")
    if not check_allocate_arguments(consumer_group, current_cid, mq_all, cid_all):
        return []
    queues_by_room: dict[str, list[MessageQueue]] = {}
    for mq in mq_all:
        room = machine_room_resolver.broker_deploy_in(mq)
        if not room:
            raise AllocateArgumentError(f"Machine room is null for mq {mq}")
        queues_by_room.setdefault(room, []).append(mq)
    consumers_by_room: dict[str, list[str]] = {}
    for cid in cid_all:
        room = machine_room_resolver.consumer_deploy_in(cid)
        if not room:
            raise AllocateArgumentError(f"Machine room is null for consumer id {cid}")
        consumers_by_room.setdefault(room, []).append(cid)

    result: list[MessageQueue] = []
    current_room = machine_room_resolver.consumer_deploy_in(current_cid)
    queues_here = queues_by_room.pop(current_room, None)  # type: ignore[arg-type]
    if queues_here:
        result.extend(inner_strategy(consumer_group, current_cid, queues_here, consumers_by_room[current_room]))  # type: ignore[index]
    # The Java walks a TreeMap, so rooms without consumers are visited in sorted room order.
    for room in sorted(queues_by_room):
        if room not in consumers_by_room:
            result.extend(inner_strategy(consumer_group, current_cid, queues_by_room[room], cid_all))
    return result
