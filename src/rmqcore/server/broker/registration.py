"""Registration with the name servers (RocketMQ's ``BrokerOuterAPI.registerBrokerAll``).

Every ``registerNameServerPeriod`` (30 s, reference section 11) and whenever a topic is
created, the broker sends REGISTER_BROKER to every name server with the RegisterBrokerBody
of its topic-config table (reference section 3). One remoting connection per name server
is kept and re-opened when it drops; a name server that is down is logged and retried
on the next round, never stopping the broker. On shutdown the broker sends
UNREGISTER_BROKER.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio
import anyio.abc
import structlog

from rmqcore.remoting import RequestCode, ResponseCode, make_request
from rmqcore.remoting.bodies.data_version import DataVersion as WireDataVersion
from rmqcore.remoting.bodies.topic import RegisterBrokerBody, TopicConfigSerializeWrapper
from rmqcore.remoting.bodies.topic import TopicConfig as WireTopicConfig
from rmqcore.remoting.headers.namesrv import RegisterBrokerRequestHeader, UnregisterBrokerRequestHeader
from rmqcore.server.broker.topics import TopicConfigManager
from rmqcore.transport import Channel

log = structlog.get_logger(__name__)

REGISTER_TIMEOUT_S = 3.0  # registerBrokerTimeoutMills default 24 s in Java; a dead name server must not stall start-up
BROKER_HEARTBEAT_TIMEOUT_MS = 120_000


def _split_addr(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    return host or "127.0.0.1", int(port)


class NameServerRegistrar:
    """Registers one broker with a list of name servers."""

    def __init__(
        self,
        namesrv_addrs: list[str],
        topics: TopicConfigManager,
        *,
        cluster_name: str,
        broker_name: str,
        broker_id: int,
        broker_addr: Callable[[], str],
    ) -> None:
        self.namesrv_addrs = list(namesrv_addrs)
        self._topics = topics
        self._cluster_name = cluster_name
        self._broker_name = broker_name
        self._broker_id = broker_id
        self._broker_addr = broker_addr
        self._channels: dict[str, Channel] = {}
        self._task_group: anyio.abc.TaskGroup | None = None
        self._lock = anyio.Lock()
        self.last_results: dict[str, str] = {}

    def bind(self, task_group: anyio.abc.TaskGroup) -> None:
        """Connections' read loops run in ``task_group`` (the controller's)."""
        self._task_group = task_group

    async def _channel(self, addr: str) -> Channel:
        channel = self._channels.get(addr)
        if channel is not None and not channel.closed:
            return channel
        assert self._task_group is not None, "bind() the registrar to a task group first"
        host, port = _split_addr(addr)
        stream = await anyio.connect_tcp(host, port)
        channel = Channel(stream, None, remote_addr=addr)
        self._task_group.start_soon(channel.run)
        self._channels[addr] = channel
        return channel

    def register_body(self) -> RegisterBrokerBody:
        snapshot = self._topics.to_json()
        dv = snapshot["dataVersion"]
        table = {name: WireTopicConfig.from_json(raw) for name, raw in snapshot["topicConfigTable"].items()}
        wrapper = TopicConfigSerializeWrapper(
            table, WireDataVersion(dv["stateVersion"], dv["timestamp"], dv["counter"])
        )
        return RegisterBrokerBody(wrapper)

    async def register_all(self) -> dict[str, str]:
        """One REGISTER_BROKER to every name server; returns addr → "ok" or the failure."""
        if not self.namesrv_addrs:
            return {}
        async with self._lock:
            body = self.register_body().encode()
            header = RegisterBrokerRequestHeader(
                broker_name=self._broker_name,
                broker_addr=self._broker_addr(),
                cluster_name=self._cluster_name,
                ha_server_addr="",
                broker_id=self._broker_id,
                heartbeat_timeout_millis=BROKER_HEARTBEAT_TIMEOUT_MS,
                enable_acting_master=False,
                compressed=False,
                body_crc32=0,
            )
            results: dict[str, str] = {}

            async def one(addr: str) -> None:
                try:
                    with anyio.fail_after(REGISTER_TIMEOUT_S):
                        channel = await self._channel(addr)
                        response = await channel.request(
                            make_request(RequestCode.REGISTER_BROKER, header, body), REGISTER_TIMEOUT_S
                        )
                    if response.code == ResponseCode.SUCCESS:
                        results[addr] = "ok"
                    else:
                        results[addr] = f"code {response.code}: {response.remark}"
                except Exception as exc:  # a name server that is down must not stop the broker
                    results[addr] = f"{type(exc).__name__}: {exc}"
                    await self._drop(addr)

            async with anyio.create_task_group() as tg:
                for addr in self.namesrv_addrs:
                    tg.start_soon(one, addr)
            for addr, outcome in results.items():
                if outcome == "ok":
                    log.debug("broker_registered", namesrv=addr, broker=self._broker_name)
                else:
                    log.warning("broker_register_failed", namesrv=addr, broker=self._broker_name, error=outcome)
            self.last_results = results
            return results

    async def unregister_all(self) -> None:
        header = UnregisterBrokerRequestHeader(
            broker_name=self._broker_name,
            broker_addr=self._broker_addr(),
            cluster_name=self._cluster_name,
            broker_id=self._broker_id,
        )
        for addr in self.namesrv_addrs:
            try:
                with anyio.fail_after(REGISTER_TIMEOUT_S):
                    channel = await self._channel(addr)
                    await channel.request(make_request(RequestCode.UNREGISTER_BROKER, header), REGISTER_TIMEOUT_S)
                log.info("broker_unregistered", namesrv=addr, broker=self._broker_name)
            except Exception as exc:
                log.warning("broker_unregister_failed", namesrv=addr, error=f"{type(exc).__name__}: {exc}")

    async def _drop(self, addr: str) -> None:
        channel = self._channels.pop(addr, None)
        if channel is not None:
            await channel.close()

    async def aclose(self) -> None:
        for addr in list(self._channels):
            await self._drop(addr)
