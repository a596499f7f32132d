"""Fixtures that run a real name server and broker as subprocesses on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.servers import ServerProcess, start_broker, start_namesrv, write_broker_conf


@pytest.fixture
def namesrv(tmp_path: Path) -> Iterator[ServerProcess]:
    server = start_namesrv(tmp_path / "logs")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def start_cluster_broker(tmp_path: Path, namesrv: ServerProcess) -> Iterator[Callable[..., ServerProcess]]:
    started: list[ServerProcess] = []

    def start(**overrides: object) -> ServerProcess:
        conf = write_broker_conf(tmp_path / f"broker{len(started)}.conf", tmp_path / "store", namesrv.addr, **overrides)
        broker = start_broker(conf, tmp_path / "logs", name=f"broker{len(started)}")
        started.append(broker)
        return broker

    try:
        yield start
    finally:
        for broker in started:
            broker.stop()


@pytest.fixture
def broker(start_cluster_broker: Callable[..., ServerProcess]) -> ServerProcess:
    return start_cluster_broker(enablePropertyFilter="true", messageDelayLevel="1s 2s 3s 4s 5s 6s")
