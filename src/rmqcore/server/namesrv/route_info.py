"""The name server's routing table (RocketMQ's ``RouteInfoManager``), as plain data.

Brokers register their topic configs; clients ask for a topic's route. A broker
that has not re-registered (or sent BROKER_HEARTBEAT) within its heartbeat
timeout (default 120 s, reference section 11) is dropped by :meth:`scan_not_active_brokers`,
which reads the injected clock. Shapes of the returned dicts are the JSON bodies
of reference section 3 (TopicRouteData, cluster info, topic list).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog

from rmqcore.clock import SYSTEM_CLOCK, Clock
from rmqcore.remoting.bodies import MASTER_ID, BrokerData, DataVersion, ClusterInfo, QueueData, TopicConfig, TopicList, TopicRouteData

log = structlog.get_logger(__name__)

@dataclass
class BrokerLiveInfo:
    last_update_ms: int
    heartbeat_timeout_ms: int
    data_version: Any
    ha_server_addr: str
    channel: Any = None


@dataclass
class RegisterResult:
    ha_server_addr: str = ""
    master_addr: str = ""


class RouteInfoManager:
    """Thread-safe routing table; every public method is one consistent step.

    >>> from rmqcore.clock import FakeClock
    >>> routes = RouteInfoManager(clock=FakeClock(0))
    >>> _ = routes.register_broker("DefaultCluster", "127.0.0.1:10911", "broker-a", 0, "",
    ...     {"TopicTest": TopicConfig("TopicTest", 4, 4)}, DataVersion(counter=1))
    >>> route = routes.topic_route("TopicTest")
    >>> route.broker_datas[0].broker_addrs, route.queue_datas[0].write_queue_nums
    ({0: '127.0.0.1:10911'}, 4)
    """

    def __init__(self, clock: Clock = SYSTEM_CLOCK, broker_expiry_ms: int = 120_000) -> None:
        self._clock = clock
        self._broker_expiry_ms = broker_expiry_ms
        self._lock = threading.RLock()
        self._cluster_addr_table: dict[str, set[str]] = {}
        self._broker_addr_table: dict[str, BrokerData] = {}
        self._topic_queue_table: dict[str, dict[str, QueueData]] = {}
        self._broker_live_table: dict[str, BrokerLiveInfo] = {}

    # -- brokers --------------------------------------------------------------------------
    def register_broker(
        self,
        cluster: str,
        broker_addr: str,
        broker_name: str,
        broker_id: int,
        ha_server_addr: str,
        topic_config_table: Mapping[str, TopicConfig],
        data_version: Any,
        channel: Any = None,
        heartbeat_timeout_ms: int | None = None,
    ) -> RegisterResult:
        now = self._clock.now_ms()
        with self._lock:
            self._cluster_addr_table.setdefault(cluster, set()).add(broker_name)
            broker = self._broker_addr_table.get(broker_name)
            if broker is None:
                broker = self._broker_addr_table[broker_name] = BrokerData(cluster, broker_name)
            # One address per id: a broker restarted on a new address replaces the old entry.
            for old_id, old_addr in list(broker.broker_addrs.items()):
                if old_addr == broker_addr and old_id != broker_id:
                    del broker.broker_addrs[old_id]
            first = broker.broker_addrs.get(broker_id) != broker_addr
            broker.broker_addrs[broker_id] = broker_addr
            previous = self._broker_live_table.get(broker_addr)
            changed = first or previous is None or previous.data_version != data_version
            if broker_id == MASTER_ID and changed:
                self._replace_topics_of(broker_name, topic_config_table)
            self._broker_live_table[broker_addr] = BrokerLiveInfo(
                now, heartbeat_timeout_ms or self._broker_expiry_ms, data_version, ha_server_addr, channel
            )
            result = RegisterResult()
            if broker_id != MASTER_ID:
                master = broker.broker_addrs.get(MASTER_ID, "")
                result.master_addr = master
                live = self._broker_live_table.get(master)
                result.ha_server_addr = live.ha_server_addr if live else ""
        if first:
            log.info("namesrv_broker_registered", cluster=cluster, broker=broker_name, addr=broker_addr, id=broker_id)
        return result

    def _replace_topics_of(self, broker_name: str, topic_config_table: Mapping[str, TopicConfig]) -> None:
        for topic, queues in list(self._topic_queue_table.items()):
            if broker_name in queues and topic not in topic_config_table:
                del queues[broker_name]
                if not queues:
                    del self._topic_queue_table[topic]
        for topic, cfg in topic_config_table.items():
            self._topic_queue_table.setdefault(topic, {})[broker_name] = QueueData(
                broker_name, cfg.read_queue_nums, cfg.write_queue_nums, cfg.perm, cfg.topic_sys_flag
            )

    def broker_heartbeat(self, broker_addr: str) -> bool:
        with self._lock:
            live = self._broker_live_table.get(broker_addr)
            if live is None:
                return False
            live.last_update_ms = self._clock.now_ms()
            return True

    def unregister_broker(self, cluster: str, broker_addr: str, broker_name: str, broker_id: int) -> None:
        with self._lock:
            self._remove_broker_addr(broker_addr, broker_name, cluster)
        log.info("namesrv_broker_unregistered", cluster=cluster, broker=broker_name, addr=broker_addr, id=broker_id)

    def _remove_broker_addr(self, broker_addr: str, broker_name: str | None = None, cluster: str | None = None) -> None:
        self._broker_live_table.pop(broker_addr, None)
        for name, broker in list(self._broker_addr_table.items()):
            if broker_name is not None and name != broker_name:
                continue
            for bid, addr in list(broker.broker_addrs.items()):
                if addr == broker_addr:
                    del broker.broker_addrs[bid]
            if broker.broker_addrs:
                continue
            del self._broker_addr_table[name]
            for names in self._cluster_addr_table.values():
                names.discard(name)
            for c in [c for c, names in self._cluster_addr_table.items() if not names]:
                del self._cluster_addr_table[c]
            for topic, queues in list(self._topic_queue_table.items()):
                queues.pop(name, None)
                if not queues:
                    del self._topic_queue_table[topic]

    def scan_not_active_brokers(self) -> list[str]:
        """Drop brokers whose last registration is older than their heartbeat timeout."""
        now = self._clock.now_ms()
        with self._lock:
            expired = [
                addr for addr, live in self._broker_live_table.items() if live.last_update_ms + live.heartbeat_timeout_ms < now
            ]
            for addr in expired:
                self._remove_broker_addr(addr)
        for addr in expired:
            log.warning("namesrv_broker_expired", addr=addr, reason="no registration within the heartbeat timeout")
        return expired

    def on_channel_closed(self, channel: Any) -> list[str]:
        """A broker's connection closed: forget the brokers registered through it."""
        with self._lock:
            gone = [addr for addr, live in self._broker_live_table.items() if live.channel is channel]
            for addr in gone:
                self._remove_broker_addr(addr)
        for addr in gone:
            log.info("namesrv_broker_channel_closed", addr=addr)
        return gone

    # -- queries --------------------------------------------------------------------------
    def topic_route(self, topic: str) -> TopicRouteData | None:
        """TopicRouteData for ``topic`` (reference section 3), or None when no broker serves it."""
        with self._lock:
            queues = self._topic_queue_table.get(topic)
            if not queues:
                return None
            broker_datas = [
                _copy_broker(self._broker_addr_table[name])
                for name in sorted(queues)
                if name in self._broker_addr_table and self._broker_addr_table[name].broker_addrs
            ]
            if not broker_datas:
                return None
            return TopicRouteData(
                queue_datas=[dataclasses.replace(queues[name]) for name in sorted(queues)], broker_datas=broker_datas
            )

    def cluster_info(self) -> ClusterInfo:
        with self._lock:
            return ClusterInfo(
                {name: _copy_broker(b) for name, b in sorted(self._broker_addr_table.items())},
                {c: sorted(names) for c, names in sorted(self._cluster_addr_table.items())},
            )

    def topic_list(self) -> TopicList:
        with self._lock:
            return TopicList(sorted(self._topic_queue_table))

    def topics_by_cluster(self, cluster: str) -> TopicList:
        with self._lock:
            names = self._cluster_addr_table.get(cluster, set())
            return TopicList(sorted(t for t, q in self._topic_queue_table.items() if names & q.keys()))

    def data_version_of(self, broker_addr: str) -> DataVersion | None:
        with self._lock:
            live = self._broker_live_table.get(broker_addr)
            return live.data_version if live else None

    def broker_addrs(self) -> list[str]:
        with self._lock:
            return sorted(self._broker_live_table)


def _copy_broker(broker: BrokerData) -> BrokerData:
    # Callers get a snapshot: the live table keeps changing under the lock.
    return BrokerData(broker.cluster, broker.broker_name, dict(broker.broker_addrs))
