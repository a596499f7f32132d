"""Producer retry rules against in-test peers that answer with chosen codes (fault injection a
real broker cannot be asked for): retryable codes move to the other broker, others raise at once."""

from __future__ import annotations

import threading
from collections.abc import Callable

import anyio
import pytest

from rmqcore.client import MQBrokerError, Message, Producer, SendResult, SendStatus
from rmqcore.remoting import RemotingCommand, RequestCode, make_response
from rmqcore.remoting.bodies.route import BrokerData, QueueData, TopicRouteData
from rmqcore.transport import Channel, RemotingServer


class Peers:
    """A name server routing topic T to broker-a and broker-b, each answering sends with its code."""

    def __init__(self) -> None:
        self.codes = {"broker-a": 0, "broker-b": 0}
        self.sends: list[str] = []
        self.send_arrived = threading.Event()
        self.ports: dict[str, int] = {}
        self.servers: dict[str, RemotingServer] = {}

    def broker(self, name: str) -> Callable[[Channel, RemotingCommand], RemotingCommand | None]:
        def handle(channel: Channel, cmd: RemotingCommand) -> RemotingCommand | None:
            if cmd.code in (RequestCode.SEND_MESSAGE_V2, RequestCode.SEND_BATCH_MESSAGE):
                self.sends.append(name)
                self.send_arrived.set()
                code = self.codes[name]
                if code < 0:
                    return None  # reads the send, never answers
                if code not in (0, 10, 11, 12):
                    return make_response(cmd, code, remark=f"{name} says {code}")
                ext = {"msgId": "7F00000100002A9F0000000000000000", "queueId": cmd.ext_fields["e"], "queueOffset": "5"}
                return make_response(cmd, code, ext=ext)
            return make_response(cmd, 0)  # heartbeats, unregister

        return handle

    def namesrv(self, channel: Channel, cmd: RemotingCommand) -> RemotingCommand:
        route = TopicRouteData(
            queue_datas=[QueueData(n, 2, 2, 6) for n in self.ports],
            broker_datas=[BrokerData("c", n, {0: f"127.0.0.1:{p}"}) for n, p in self.ports.items()],
        )
        return make_response(cmd, 0, body=route.encode())


async def _with_peers(test: Callable[[Peers, str], object]) -> None:
    peers = Peers()
    servers = [RemotingServer(peers.broker(n)) for n in peers.codes]
    peers.servers = dict(zip(peers.codes, servers))
    namesrv = RemotingServer(peers.namesrv)
    async with anyio.create_task_group() as tg:
        for name, server in zip(peers.codes, servers):
            peers.ports[name] = await tg.start(server.serve)
        ns_port = await tg.start(namesrv.serve)
        await test(peers, f"127.0.0.1:{ns_port}")  # type: ignore[misc]
        for server in [*servers, namesrv]:
            await server.aclose()
        tg.cancel_scope.cancel()


async def test_retryable_code_moves_to_the_other_broker() -> None:
    async def scenario(peers: Peers, namesrv: str) -> None:
        peers.codes["broker-a"] = 2  # SYSTEM_BUSY
        async with Producer("pg", namesrv_addr=namesrv, instance_name="retry1") as producer:
            results = [await producer.send(Message("T", b"x")) for _ in range(6)]
        assert all(r.status is SendStatus.SEND_OK and r.message_queue.broker_name == "broker-b" for r in results)
        # broker-a was tried once, then avoided.
        assert peers.sends.count("broker-a") == 1

    await _with_peers(scenario)


async def test_non_retryable_code_raises_typed_error_at_once() -> None:
    async def scenario(peers: Peers, namesrv: str) -> None:
        peers.codes = {"broker-a": 13, "broker-b": 13}  # MESSAGE_ILLEGAL
        async with Producer("pg", namesrv_addr=namesrv, instance_name="retry2") as producer:
            with pytest.raises(MQBrokerError) as info:
                await producer.send(Message("T", b"x"))
        assert info.value.code == 13 and info.value.remark and "says 13" in info.value.remark
        assert len(peers.sends) == 1

    await _with_peers(scenario)


async def test_every_attempt_failing_raises_the_last_typed_error() -> None:
    async def scenario(peers: Peers, namesrv: str) -> None:
        peers.codes = {"broker-a": 17, "broker-b": 17}  # TOPIC_NOT_EXIST: retryable
        async with Producer("pg", namesrv_addr=namesrv, instance_name="retry3", retry_times_when_send_failed=2) as producer:
            with pytest.raises(MQBrokerError) as info:
                await producer.send(Message("T", b"x"))
        assert info.value.code == 17 and len(peers.sends) == 3

    await _with_peers(scenario)


async def test_flush_timeouts_are_results_not_errors() -> None:
    async def scenario(peers: Peers, namesrv: str) -> None:
        peers.codes = {"broker-a": 10, "broker-b": 10}
        async with Producer("pg", namesrv_addr=namesrv, instance_name="retry4") as producer:
            result = await producer.send(Message("T", b"x"))
        assert result.status is SendStatus.FLUSH_DISK_TIMEOUT and result.queue_offset == 5 and len(peers.sends) == 1

    await _with_peers(scenario)


# --- the synchronous facade: each attempt on a blocking connection, the same rules ---------


def _facade(namesrv: str, instance_name: str, **config: object):  # type: ignore[no-untyped-def]
    from rmqcore.client import sync

    return sync.Producer("pg", namesrv_addr=namesrv, instance_name=instance_name, **config)


async def test_facade_moves_to_the_other_broker_on_a_retryable_code() -> None:
    async def scenario(peers: Peers, namesrv: str) -> None:
        peers.codes["broker-a"] = 2  # SYSTEM_BUSY

        def run() -> list[SendResult]:
            with _facade(namesrv, "sretry1") as producer:
                results = [producer.send(Message("T", b"x")) for _ in range(6)]
                results.append(producer.send([Message("T", b"b1"), Message("T", b"b2")]))
                # every send after the route lookup went over the calling thread's connections
                assert producer._channels.open_count >= 1
                return results

        results = await anyio.to_thread.run_sync(run)
        assert all(r.status is SendStatus.SEND_OK and r.message_queue.broker_name == "broker-b" for r in results)
        assert peers.sends.count("broker-a") == 1

    await _with_peers(scenario)


async def test_facade_raises_a_non_retryable_code_at_once() -> None:
    async def scenario(peers: Peers, namesrv: str) -> None:
        peers.codes = {"broker-a": 13, "broker-b": 13}

        def run() -> MQBrokerError:
            with _facade(namesrv, "sretry2") as producer, pytest.raises(MQBrokerError) as info:
                producer.send(Message("T", b"x"))
            return info.value

        error = await anyio.to_thread.run_sync(run)
        assert error.code == 13 and error.remark and "says 13" in error.remark
        assert len(peers.sends) == 1

    await _with_peers(scenario)


async def test_facade_gives_up_after_its_retries_with_the_last_typed_error() -> None:
    async def scenario(peers: Peers, namesrv: str) -> None:
        peers.codes = {"broker-a": 17, "broker-b": 17}

        def run() -> MQBrokerError:
            with _facade(namesrv, "sretry3", retry_times_when_send_failed=2) as producer, pytest.raises(MQBrokerError) as info:
                producer.send(Message("T", b"x"))
            return info.value

        error = await anyio.to_thread.run_sync(run)
        assert error.code == 17 and len(peers.sends) == 3
        assert any("failed 3 time(s)" in note for note in error.__notes__)

    await _with_peers(scenario)


async def test_facade_keeps_a_flush_timeout_as_the_result() -> None:
    async def scenario(peers: Peers, namesrv: str) -> None:
        peers.codes = {"broker-a": 10, "broker-b": 10}

        def run() -> SendResult:
            with _facade(namesrv, "sretry4") as producer:
                return producer.send(Message("T", b"x"))

        result = await anyio.to_thread.run_sync(run)
        assert result.status is SendStatus.FLUSH_DISK_TIMEOUT and result.queue_offset == 5 and len(peers.sends) == 1

    await _with_peers(scenario)


async def test_facade_fails_over_when_a_broker_is_gone() -> None:
    async def scenario(peers: Peers, namesrv: str) -> None:
        await peers.servers["broker-a"].aclose()  # still in the route; connecting is refused

        def run() -> list[SendResult]:
            with _facade(namesrv, "sretry5") as producer:
                return [producer.send(Message("T", b"x")) for _ in range(4)]

        results = await anyio.to_thread.run_sync(run)
        assert all(r.status is SendStatus.SEND_OK and r.message_queue.broker_name == "broker-b" for r in results)
        assert peers.sends == ["broker-b"] * 4

    await _with_peers(scenario)


async def test_facade_shutdown_ends_a_send_waiting_for_an_answer_with_a_typed_error() -> None:
    from rmqcore.client import MQClientError

    async def scenario(peers: Peers, namesrv: str) -> None:
        peers.codes = {"broker-a": -1, "broker-b": -1}
        outcome: list[BaseException] = []
        done = threading.Event()

        def run() -> None:
            producer = _facade(namesrv, "sretry6", send_msg_timeout=60.0)
            producer.start()

            def send() -> None:
                try:
                    producer.send(Message("T", b"x"))
                except BaseException as exc:  # inspected below
                    outcome.append(exc)
                done.set()

            sender = threading.Thread(target=send)
            sender.start()
            try:
                assert peers.send_arrived.wait(10.0)  # the send is on the wire, its answer awaited
                assert not done.is_set()
            finally:
                producer.shutdown()
            assert done.wait(10.0), "the send still waits after shutdown"
            sender.join(10.0)

        await anyio.to_thread.run_sync(run)
        assert len(outcome) == 1 and isinstance(outcome[0], MQClientError), outcome

    await _with_peers(scenario)
