"""The parked-pull holder: woken by arrivals past its offset, filtered by tag code, from any thread."""

from __future__ import annotations

import threading

import anyio
import pytest

from rmqcore.server.broker.long_poll import LongPollHolder

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_wakes_on_arrival_past_offset() -> None:
    holder = LongPollHolder()
    holder.bind_to_current_loop()
    result: list[bool] = []

    async def park() -> None:
        result.append(await holder.wait("T", 0, 5, 30.0))

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(park)
            await anyio.wait_all_tasks_blocked()
            assert holder.parked_on("T", 0) == 1
            holder.notify("T", 1, 100)  # other queue
            holder.notify("T", 0, 5)  # not past the offset
            await anyio.wait_all_tasks_blocked()
            assert holder.parked_on("T", 0) == 1
            holder.notify("T", 0, 6)
    assert result == [True]
    assert holder.parked == 0


async def test_times_out() -> None:
    holder = LongPollHolder()
    holder.bind_to_current_loop()
    with anyio.fail_after(5):
        assert await holder.wait("T", 0, 0, 0.05) is False
    assert holder.parked == 0


async def test_arrived_check_closes_the_race() -> None:
    holder = LongPollHolder()
    holder.bind_to_current_loop()
    with anyio.fail_after(5):
        assert await holder.wait("T", 0, 0, 30.0, arrived=lambda: True) is True


async def test_notify_from_another_thread() -> None:
    holder = LongPollHolder()
    holder.bind_to_current_loop()
    result: list[bool] = []

    async def park() -> None:
        result.append(await holder.wait("T", 2, 0, 30.0))

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(park)
            await anyio.wait_all_tasks_blocked()
            thread = threading.Thread(target=holder.notify, args=("T", 2, 1))
            thread.start()
            await anyio.to_thread.run_sync(thread.join)
    assert result == [True]
