"""An in-process broker on 127.0.0.1:0 with a temporary store, and a raw remoting client for it.

Tests speak the wire protocol through ``rmqcore.transport.Channel`` only (never the
client library), so they check exactly what a RocketMQ client would see.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest

from rmqcore.clock import Clock, FakeClock
from rmqcore.message import Message, encode_batch_body, encode_properties, new_uniq_key
from rmqcore.message import constants as C
from rmqcore.remoting import RemotingCommand, RequestCode, make_request
from rmqcore.remoting.bodies.heartbeat import (
    ConsumeFromWhere,
    ConsumerData,
    ConsumeType,
    HeartbeatData,
    MessageModel,
    ProducerData,
    SubscriptionData,
)
from rmqcore.remoting.headers.pull import PullMessageRequestHeader
from rmqcore.remoting.headers.send import SendMessageRequestHeader, encode_send_request_ext
from rmqcore.server.broker import BrokerController
from rmqcore.server.config import BrokerConfig, apply_properties
from rmqcore.transport import Channel

REQUEST_TIMEOUT_S = 10.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def broker_config(store_dir: Path, **overrides: str) -> BrokerConfig:
    config = BrokerConfig(broker_name="broker-test", store_path_root_dir=str(store_dir), listen_port=0, namesrv_addr="")
    # Small files: tests write little, and start-up should not map a gigabyte.
    config.mapped_file_size_commit_log = 16 * 1024 * 1024
    config.mapped_file_size_consume_queue = 20 * 20_000
    apply_properties(config, overrides)
    return config


@asynccontextmanager
async def running_broker(
    store_dir: Path, clock: Clock | None = None, *, disk_usage_probe: Any = None, **overrides: str
) -> AsyncIterator[BrokerController]:
    controller = BrokerController(
        broker_config(store_dir, **overrides), clock or FakeClock(), disk_usage_probe=disk_usage_probe
    )
    async with anyio.create_task_group() as tg:
        with anyio.fail_after(10):
            await tg.start(controller.run)
        try:
            yield controller
        finally:
            with anyio.CancelScope(shield=True), anyio.fail_after(10):
                await controller.shutdown()
            tg.cancel_scope.cancel()


@dataclass
class ServerRequests:
    """Requests the broker sent to a client connection (NOTIFY_CONSUMER_IDS_CHANGED, CHECK_TRANSACTION_STATE)."""

    received: list[RemotingCommand] = field(default_factory=list)
    _changed: anyio.Event = field(default_factory=anyio.Event)

    def handler(self, channel: Channel, cmd: RemotingCommand) -> None:
        self.received.append(cmd)
        self._changed.set()
        self._changed = anyio.Event()

    async def wait_for(self, code: int, count: int = 1, timeout: float = 5.0) -> list[RemotingCommand]:
        with anyio.fail_after(timeout):
            while True:
                matching = [c for c in self.received if c.code == code]
                if len(matching) >= count:
                    return matching
                await self._changed.wait()


class RawClient:
    """Typed requests over one connection; each returns the raw response command."""

    def __init__(self, channel: Channel, requests: ServerRequests) -> None:
        self.channel = channel
        self.requests = requests

    async def request(self, code: int, ext: Any = None, body: bytes | None = None, **kwargs: Any) -> RemotingCommand:
        return await self.channel.request(make_request(code, ext, body, **kwargs), REQUEST_TIMEOUT_S)

    async def send(
        self,
        topic: str,
        body: bytes,
        *,
        queue_id: int = 0,
        tags: str | None = None,
        keys: str | None = None,
        properties: dict[str, str] | None = None,
        code: int = RequestCode.SEND_MESSAGE_V2,
        sys_flag: int = 0,
        reconsume_times: int | None = None,
        max_reconsume_times: int | None = None,
        producer_group: str = "PG",
    ) -> RemotingCommand:
        props = {C.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX: new_uniq_key(), C.PROPERTY_WAIT_STORE_MSG_OK: "true"}
        if tags:
            props[C.PROPERTY_TAGS] = tags
        if keys:
            props[C.PROPERTY_KEYS] = keys
        props.update(properties or {})
        header = SendMessageRequestHeader(
            producer_group, topic, "TBW102", 4, queue_id, sys_flag, 1_700_000_000_000, 0,
            properties=encode_properties(props), reconsume_times=reconsume_times,
            max_reconsume_times=max_reconsume_times,
        )  # fmt: skip
        ext = encode_send_request_ext(header, v2=code not in (RequestCode.SEND_MESSAGE, RequestCode.SEND_REPLY_MESSAGE))
        return await self.request(code, ext, body)

    async def send_batch(self, topic: str, messages: list[Message], *, queue_id: int = 0) -> RemotingCommand:
        for m in messages:
            m.properties.setdefault(C.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX, new_uniq_key())
        header = SendMessageRequestHeader("PG", topic, "TBW102", 4, queue_id, 0, 1_700_000_000_000, 0, batch=True)
        return await self.request(RequestCode.SEND_BATCH_MESSAGE, encode_send_request_ext(header), encode_batch_body(messages))

    async def pull(
        self,
        group: str,
        topic: str,
        queue_id: int,
        offset: int,
        *,
        max_nums: int = 32,
        subscription: str | None = "*",
        expression_type: str | None = None,
        suspend_ms: int = 0,
        commit_offset: int | None = None,
        timeout: float = REQUEST_TIMEOUT_S,
    ) -> RemotingCommand:
        sys_flag = 0
        if subscription is not None:
            sys_flag |= C.PULL_FLAG_SUBSCRIPTION
        if suspend_ms:
            sys_flag |= C.PULL_FLAG_SUSPEND
        if commit_offset is not None:
            sys_flag |= C.PULL_FLAG_COMMIT_OFFSET
        header = PullMessageRequestHeader(
            group, topic, queue_id, offset, max_nums, sys_flag, commit_offset or 0, suspend_ms, 0,
            subscription=subscription, expression_type=expression_type,
        )  # fmt: skip
        return await self.channel.request(make_request(RequestCode.PULL_MESSAGE, header), timeout)

    async def heartbeat(
        self,
        client_id: str,
        *,
        consumer_group: str | None = None,
        topics: dict[str, str] | None = None,
        producer_group: str | None = None,
        expression_type: str = "TAG",
    ) -> RemotingCommand:
        consumers = []
        if consumer_group:
            subs = [
                SubscriptionData(topic, expr, sub_version=1, expression_type=expression_type)
                for topic, expr in (topics or {}).items()
            ]
            consumers.append(
                ConsumerData(
                    consumer_group,
                    ConsumeType.CONSUME_PASSIVELY,
                    MessageModel.CLUSTERING,
                    ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET,
                    subs,
                )
            )
        producers = [ProducerData(producer_group)] if producer_group else []
        body = HeartbeatData(client_id, producers, consumers).encode()
        return await self.request(RequestCode.HEART_BEAT, None, body)


@asynccontextmanager
async def connect(port: int, answer: Any = None) -> AsyncIterator[RawClient]:
    """A client connection; ``answer(cmd)`` may return the response to a broker-initiated request."""
    requests = ServerRequests()

    def handler(channel: Channel, cmd: RemotingCommand) -> RemotingCommand | None:
        requests.handler(channel, cmd)
        return answer(cmd) if answer is not None else None

    stream = await anyio.connect_tcp("127.0.0.1", port)
    channel = Channel(stream, handler, remote_addr=f"127.0.0.1:{port}")
    async with anyio.create_task_group() as tg:
        tg.start_soon(channel.run)
        try:
            yield RawClient(channel, requests)
        finally:
            await channel.close()
            tg.cancel_scope.cancel()
