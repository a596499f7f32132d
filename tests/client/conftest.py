"""Client tests: coroutine tests run on anyio's asyncio backend; integration tests share one
real name server + broker (subprocesses from ``tests.integration.servers``) per session."""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.servers import ServerProcess, start_broker, start_namesrv, write_broker_conf

# Short delays keep retry and schedule tests fast: level 3 (the first retry) is 2 s.
TEST_DELAY_LEVELS = "1s 1s 2s 2s 2s"
BROKER_OVERRIDES = {
    "enablePropertyFilter": "true",
    "messageDelayLevel": TEST_DELAY_LEVELS,
    "transactionCheckInterval": 1000,
    "transactionTimeOut": 1000,
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fn = getattr(item, "function", None)
        if fn is not None and inspect.iscoroutinefunction(fn) and "tests/client" in str(item.fspath):
            item.add_marker(pytest.mark.anyio)


class Cluster:
    def __init__(self, namesrv: ServerProcess, broker: ServerProcess) -> None:
        self.namesrv = namesrv
        self.broker = broker
        self._names = itertools.count()

    @property
    def namesrv_addr(self) -> str:
        return self.namesrv.addr

    def name(self, prefix: str) -> str:
        """A topic or group name no other test uses."""
        return f"{prefix}_{next(self._names)}"


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    base: Path = tmp_path_factory.mktemp("client-cluster")
    namesrv = start_namesrv(base / "logs")
    try:
        conf = write_broker_conf(base / "broker.conf", base / "store", namesrv.addr, **BROKER_OVERRIDES)
        broker = start_broker(conf, base / "logs")
        try:
            yield Cluster(namesrv, broker)
        finally:
            broker.stop()
    finally:
        namesrv.stop()
