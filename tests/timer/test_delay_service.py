"""DelayService on the real store: DELAY levels and timer messages (section 7) on a FakeClock.

Hours of schedule run in milliseconds: the clock is moved, ``tick`` is called, and what the
real topic serves is read back from the store.  ``Harness`` restarts the store and the service
cleanly, or "crashes" them (no close, progress files put back to an older state).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from rmqcore.clock import FakeClock
from rmqcore.message import MessageExt, tags_code
from rmqcore.message import constants as C
from rmqcore.store import MessageStore, StoreConfig
from rmqcore.timer.delay_levels import DelayLevelTable
from rmqcore.timer.delay_service import DelayService

REAL_TOPIC = "DelayTopic"
START_MS = 1_700_000_000_000
LEVELS = DelayLevelTable.parse()
H = 3_600_000


def open_store(path: Path, clock: FakeClock) -> MessageStore:
    config = StoreConfig(
        mapped_file_size_commit_log=1 << 20,
        mapped_file_size_consume_queue=20 * 1024,
        max_hash_slot_num=4096,
        max_index_num=16384,
    )
    return MessageStore.open(str(path), config, clock=clock)


def bodies(store: MessageStore, topic: str, queue_id: int) -> list[str]:
    return [m.body.decode() for m in store.get(topic, queue_id, 0, max_count=1000).messages]


class Harness:
    def __init__(self, root: Path, clock: FakeClock) -> None:
        self.root = root
        self.clock = clock
        self.progress_dir = root / "config"
        self.delay_offset_file = self.progress_dir / "delayOffset.json"
        self.timer_check_file = self.progress_dir / "timercheck"
        self.store = open_store(root / "store", clock)
        self.service = self.new_service()

    def new_service(self, **options: object) -> DelayService:
        return DelayService(self.store, self.clock, LEVELS, progress_dir=self.progress_dir, **options)  # type: ignore[arg-type]

    def restart(self, **options: object) -> None:
        """Clean shutdown of the service and the store, then both opened again."""
        self.service.close()
        self.store.close()
        self.store = open_store(self.root / "store", self.clock)
        self.service = self.new_service(**options)

    def crash(self, restore_files: dict[Path, bytes], **options: object) -> None:
        """The process dies: no close anywhere, progress files as they were some time before."""
        self.store._simulate_crash()  # the store's test hook: stops as a killed process would
        for path, data in restore_files.items():
            path.write_bytes(data)
        self.store = open_store(self.root / "store", self.clock)
        self.service = self.new_service(**options)

    def close(self) -> None:
        self.service.close()
        self.store.close()


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    h = Harness(tmp_path, FakeClock(start_ms=START_MS))
    yield h
    h.close()


def delayed(body: str, level: int, **props: str) -> MessageExt:
    return MessageExt(REAL_TOPIC, body.encode(), tags="TagA", keys=("k-" + body,), properties={"DELAY": str(level), **props})


@pytest.mark.parametrize("level", range(1, 19))
def test_each_level_is_invisible_before_its_deliver_time_and_visible_at_it(harness: Harness, level: int) -> None:
    service, clock = harness.service, harness.clock
    start = clock.now_ms()
    result = service.maybe_put(delayed(f"m{level}", level), queue_id=1)
    assert result is not None and harness.store.max_offset(REAL_TOPIC, 1) == 0
    delay = LEVELS.delay_ms(level)
    clock.set(start + delay - 1)
    assert service.tick() == 0
    assert bodies(harness.store, REAL_TOPIC, 1) == []
    clock.set(start + delay)
    assert service.tick() == 1
    assert bodies(harness.store, REAL_TOPIC, 1) == [f"m{level}"]
    assert service.tick() == 0  # nothing twice


def test_all_levels_together_come_out_in_deliver_order(harness: Harness) -> None:
    service, clock = harness.service, harness.clock
    start = clock.now_ms()
    for level in range(18, 0, -1):
        service.maybe_put(delayed(f"L{level}", level), queue_id=0)
    seen: list[str] = []
    for level in range(1, 19):
        clock.set(start + LEVELS.delay_ms(level) - 1)
        service.tick()
        assert bodies(harness.store, REAL_TOPIC, 0) == seen
        clock.set(start + LEVELS.delay_ms(level))
        assert service.tick() == 1
        seen.append(f"L{level}")
        assert bodies(harness.store, REAL_TOPIC, 0) == seen
    assert service.offsets() == {level: 1 for level in range(1, 19)}


def test_level_above_max_clamps_to_max(harness: Harness) -> None:
    service, clock, store = harness.service, harness.clock, harness.store
    start = clock.now_ms()
    service.maybe_put(delayed("far", 40), queue_id=0)
    stored = store.get(C.SCHEDULE_TOPIC, 17, 0).messages
    assert [m.body for m in stored] == [b"far"] and stored[0].properties["DELAY"] == "18"
    clock.set(start + 2 * H - 1)
    assert service.tick() == 0
    clock.set(start + 2 * H)
    assert service.tick() == 1 and bodies(store, REAL_TOPIC, 0) == ["far"]


def test_schedule_message_shape_and_tag_code_is_deliver_time(harness: Harness) -> None:
    service, clock, store = harness.service, harness.clock, harness.store
    start = clock.now_ms()
    msg = delayed("x", 3, TIMER_DELIVER_MS=str(start + 99_000), TIMER_DELAY_SEC="5", TIMER_DELAY_MS="7", color="red")
    service.maybe_put(msg, queue_id=5)
    (scheduled,) = store.get(C.SCHEDULE_TOPIC, 2, 0).messages
    assert scheduled.topic == C.SCHEDULE_TOPIC and scheduled.queue_id == 2
    assert scheduled.properties == {
        "TAGS": "TagA",
        "KEYS": "k-x",
        "DELAY": "3",
        "color": "red",
        "REAL_TOPIC": REAL_TOPIC,
        "REAL_QID": "5",
    }
    # Section 5: the schedule topic's ConsumeQueue tag code is storeTimestamp + delay.
    deliver = start + 10_000
    assert [m.body for m in store.get(C.SCHEDULE_TOPIC, 2, 0, tag_codes=[deliver]).messages] == [b"x"]
    assert store.get(C.SCHEDULE_TOPIC, 2, 0, tag_codes=[tags_code("TagA")]).messages == []


def test_properties_after_delivery_are_section_7(harness: Harness) -> None:
    service, clock, store = harness.service, harness.clock, harness.store
    original = MessageExt(
        REAL_TOPIC,
        b"payload",
        tags="TagB",
        keys=("order-9",),
        flag=3,
        properties={"DELAY": "2", "UNIQ_KEY": "U9", "user": "v"},
        born_timestamp=clock.now_ms() - 5,
        reconsume_times=2,
    )
    service.maybe_put(original, queue_id=3)
    clock.advance(5_000)
    assert service.tick() == 1
    (delivered,) = store.get(REAL_TOPIC, 3, 0).messages
    assert delivered.properties == {
        "TAGS": "TagB",
        "KEYS": "order-9",
        "UNIQ_KEY": "U9",
        "user": "v",
        "REAL_TOPIC": REAL_TOPIC,  # section 7: REAL_* are left in place
        "REAL_QID": "3",
    }
    assert (delivered.body, delivered.flag, delivered.reconsume_times) == (b"payload", 3, 2)
    assert delivered.born_timestamp == original.born_timestamp
    # The tag code is recomputed from TAGS: a tag filter finds it.
    assert len(store.get(REAL_TOPIC, 3, 0, tag_codes=[tags_code("TagB")]).messages) == 1


def test_one_and_two_hour_levels_with_big_clock_jumps(harness: Harness) -> None:
    service, clock, store = harness.service, harness.clock, harness.store
    service.maybe_put(delayed("one-hour", 17), queue_id=0)
    service.maybe_put(delayed("two-hours", 18), queue_id=0)
    clock.advance(H - 1)
    assert service.tick() == 0
    clock.advance(1)
    assert service.tick() == 1 and bodies(store, REAL_TOPIC, 0) == ["one-hour"]
    clock.advance(10 * H)  # one jump far past the 2 h level
    assert service.tick() == 1 and bodies(store, REAL_TOPIC, 0) == ["one-hour", "two-hours"]


def test_messages_that_are_not_delayed_are_left_to_the_normal_put(harness: Harness) -> None:
    service = harness.service
    assert service.maybe_put(MessageExt(REAL_TOPIC, b"plain"), 0) is None
    assert service.maybe_put(MessageExt(REAL_TOPIC, b"zero", properties={"DELAY": "0"}), 0) is None
    assert service.maybe_put(MessageExt(REAL_TOPIC, b"dlq", properties={"DELAY": "-1"}), 0) is None
    prepared = MessageExt(REAL_TOPIC, b"half", properties={"DELAY": "3"}, sys_flag=C.TRANSACTION_PREPARED_TYPE)
    assert service.maybe_put(prepared, 0) is None  # section 7: non-transactional or commit only
    assert harness.store.max_offset(C.SCHEDULE_TOPIC, 2) == 0


def test_next_due_and_offsets(harness: Harness) -> None:
    service, clock = harness.service, harness.clock
    service.tick()
    assert service.next_due_ms() is None
    start = clock.now_ms()
    service.maybe_put(delayed("a", 4), 0)
    service.maybe_put(delayed("b", 2), 0)
    assert service.next_due_ms() == start + 5_000
    clock.set(start + 5_000)
    service.tick()
    assert service.next_due_ms() == start + 30_000
    assert service.offsets()[2] == 1 and service.offsets()[4] == 0


def test_restart_loses_nothing_and_delivers_nothing_twice(harness: Harness) -> None:
    clock = harness.clock
    start = clock.now_ms()
    for i in range(30):
        harness.service.maybe_put(delayed(f"r{i}", 1 + i % 6), queue_id=i % 2)
    clock.set(start + 30_000)  # levels 1..3 due, 4 (30 s) due, 5-6 not
    first = harness.service.tick()
    assert 0 < first < 30
    harness.restart()  # clean close of service and store, reopen both
    assert harness.service.tick() == 0
    clock.set(start + 2 * 60_000)
    assert harness.service.tick() == 30 - first
    delivered = bodies(harness.store, REAL_TOPIC, 0) + bodies(harness.store, REAL_TOPIC, 1)
    assert sorted(delivered) == sorted(f"r{i}" for i in range(30))


def test_crash_delivers_again_but_loses_nothing(harness: Harness) -> None:
    clock = harness.clock
    start = clock.now_ms()
    for i in range(10):
        harness.service.maybe_put(delayed(f"c{i}", 2), queue_id=0)
    harness.service.persist()
    stale = harness.delay_offset_file.read_bytes()  # progress as of before any delivery
    clock.set(start + 5_000)
    assert harness.service.tick() == 10
    harness.crash(restore_files={harness.delay_offset_file: stale})
    clock.advance(1)
    assert harness.service.tick() == 10  # delivered again ...
    delivered = bodies(harness.store, REAL_TOPIC, 0)
    assert sorted(delivered) == sorted([f"c{i}" for i in range(10)] * 2)  # ... and none lost
    assert harness.service.tick() == 0


def test_delay_offset_file_is_rocketmq_shape(harness: Harness) -> None:
    harness.service.maybe_put(delayed("p", 3), 0)
    harness.clock.advance(10_000)
    harness.service.tick()
    harness.service.close()
    data = json.loads(harness.delay_offset_file.read_text())
    assert set(data) == {"offsetTable", "dataVersion"}
    assert data["offsetTable"]["3"] == 1 and data["offsetTable"]["1"] == 0
    assert set(data["dataVersion"]) == {"stateVersion", "timestamp", "counter"}
    assert data["dataVersion"]["timestamp"] == harness.clock.now_ms()


def test_fastjson_unquoted_keys_are_read(harness: Harness) -> None:
    harness.service.close()
    harness.delay_offset_file.write_text('{"offsetTable":{1:0,3:1},"dataVersion":{"counter":2}}')
    harness.service = harness.new_service()
    assert harness.service.offsets()[3] == 1


def test_unreadable_progress_file_is_a_typed_error(harness: Harness) -> None:
    from rmqcore.timer.errors import DelayProgressError

    harness.service.close()
    harness.delay_offset_file.write_text("{not json")
    with pytest.raises(DelayProgressError, match="move it aside"):
        harness.new_service()


def test_malformed_delay_is_a_typed_error(harness: Harness) -> None:
    from rmqcore.timer.errors import InvalidDelayPropertyError

    with pytest.raises(InvalidDelayPropertyError, match="DELAY='soon'"):
        harness.service.maybe_put(MessageExt(REAL_TOPIC, b"", properties={"DELAY": "soon"}), 0)


# -- timer messages (5.x, section 7) ---------------------------------------------------------

def timer_msg(body: str, **props: str) -> MessageExt:
    return MessageExt(REAL_TOPIC, body.encode(), tags="TagT", properties=props)


def test_timer_deliver_ms_goes_to_the_timer_topic_rounded_and_fires_at_the_end_of_its_slot(harness: Harness) -> None:
    service, clock, store = harness.service, harness.clock, harness.store
    now = clock.now_ms()
    result = service.maybe_put(timer_msg("t", TIMER_DELIVER_MS=str(now + 2_500)), queue_id=4)
    assert result is not None
    (stored,) = store.get(C.TIMER_TOPIC, 0, 0).messages
    assert stored.properties == {
        "TAGS": "TagT",
        "TIMER_DELIVER_MS": str(now + 2_500),
        "TIMER_OUT_MS": str(now + 2_000),  # floor to the precision
        "REAL_TOPIC": REAL_TOPIC,
        "REAL_QID": "4",
    }
    clock.set(now + 2_999)
    assert service.tick() == 0 and bodies(store, REAL_TOPIC, 4) == []
    clock.set(now + 3_000)
    assert service.tick() == 1
    (delivered,) = store.get(REAL_TOPIC, 4, 0).messages
    props = dict(delivered.properties)
    assert "REAL_TOPIC" not in props and "REAL_QID" not in props  # restored and removed
    assert props.pop("TIMER_DEQUEUE_MS") == str(now + 3_000)
    assert props.pop("TIMER_ENQUEUE_MS") == str(stored.store_timestamp)
    assert props == {"TAGS": "TagT", "TIMER_DELIVER_MS": str(now + 2_500), "TIMER_OUT_MS": str(now + 2_000)}
    assert len(store.get(REAL_TOPIC, 4, 0, tag_codes=[tags_code("TagT")]).messages) == 1
    assert service.tick() == 0


@pytest.mark.parametrize(
    ("props", "timer_out", "fires"),
    [
        ({"TIMER_DELAY_SEC": "10"}, 9_000, 10_000),  # exact multiple of the precision: −precision
        ({"TIMER_DELAY_MS": "1500"}, 1_000, 2_000),
        ({"TIMER_DELAY_MS": "1000"}, 0, 1_000),
        ({"TIMER_DELIVER_MS": "+7001"}, 7_000, 8_000),
        # priority: DELAY_SEC, then DELAY_MS, then DELIVER_MS
        ({"TIMER_DELAY_SEC": "3", "TIMER_DELAY_MS": "60000", "TIMER_DELIVER_MS": "+90000"}, 2_000, 3_000),
        ({"TIMER_DELAY_MS": "4500", "TIMER_DELIVER_MS": "+90000"}, 4_000, 5_000),
    ],
)
def test_timer_triggers_rounding_and_priority(harness: Harness, props: dict[str, str], timer_out: int, fires: int) -> None:
    service, clock, store = harness.service, harness.clock, harness.store
    now = clock.now_ms()
    props = {k: str(now + int(v[1:])) if v.startswith("+") else v for k, v in props.items()}
    service.maybe_put(timer_msg("t", **props), queue_id=0)
    (stored,) = store.get(C.TIMER_TOPIC, 0, 0).messages
    assert int(stored.properties["TIMER_OUT_MS"]) == now + timer_out
    clock.set(now + fires - 1)
    assert service.tick() == 0
    clock.set(now + fires)
    assert service.tick() == 1 and bodies(store, REAL_TOPIC, 0) == ["t"]


def test_timer_precision_is_configurable(tmp_path: Path) -> None:
    clock = FakeClock(start_ms=START_MS)
    store = open_store(tmp_path / "store", clock)
    try:
        service = DelayService(store, clock, LEVELS, progress_dir=tmp_path / "config", timer_precision_ms=100)
        service.maybe_put(timer_msg("p", TIMER_DELAY_MS="250"), 0)
        (stored,) = store.get(C.TIMER_TOPIC, 0, 0).messages
        assert int(stored.properties["TIMER_OUT_MS"]) == START_MS + 200
        clock.advance(299)
        assert service.tick() == 0
        clock.advance(1)
        assert service.tick() == 1
        service.close()
    finally:
        store.close()


def test_timer_due_now_or_in_the_past_is_a_normal_put(harness: Harness) -> None:
    service, now = harness.service, harness.clock.now_ms()
    assert service.maybe_put(timer_msg("past", TIMER_DELIVER_MS=str(now - 60_000)), 0) is None
    assert service.maybe_put(timer_msg("now", TIMER_DELIVER_MS=str(now)), 0) is None
    assert service.maybe_put(timer_msg("zero", TIMER_DELAY_SEC="0"), 0) is None
    assert service.maybe_put(timer_msg("neg", TIMER_DELAY_MS="-5"), 0) is None
    assert harness.store.max_offset(C.TIMER_TOPIC, 0) == 0


def test_timer_beyond_three_days_is_refused(harness: Harness) -> None:
    from rmqcore.timer.errors import DelayTooLongError
    from rmqcore.timer.wheel import TimerDelayTooLongError

    service, clock, store = harness.service, harness.clock, harness.store
    now = clock.now_ms()
    with pytest.raises(DelayTooLongError, match="timerMaxDelaySec=259200") as refused:
        service.maybe_put(timer_msg("too-far", TIMER_DELAY_MS=str(259_200_000 + 1)), 0)
    assert isinstance(refused.value, TimerDelayTooLongError)
    with pytest.raises(DelayTooLongError):
        service.maybe_put(timer_msg("too-far", TIMER_DELIVER_MS=str(now + 4 * 86_400_000)), 0)
    assert store.max_offset(C.TIMER_TOPIC, 0) == 0
    # exactly three days is accepted, and delivered after a three-day jump
    assert service.maybe_put(timer_msg("edge", TIMER_DELAY_SEC="259200"), 0) is not None
    clock.advance(259_200_000 - 1)
    assert service.tick() == 0
    clock.advance(1)
    assert service.tick() == 1 and bodies(store, REAL_TOPIC, 0) == ["edge"]


def test_delay_level_wins_over_timer_properties(harness: Harness) -> None:
    service, store = harness.service, harness.store
    service.maybe_put(timer_msg("both", DELAY="1", TIMER_DELAY_SEC="100"), 0)
    assert store.max_offset(C.TIMER_TOPIC, 0) == 0 and store.max_offset(C.SCHEDULE_TOPIC, 0) == 1
    harness.clock.advance(1_000)
    assert service.tick() == 1
    (delivered,) = store.get(REAL_TOPIC, 0, 0).messages
    assert not any(key.startswith("TIMER_") for key in delivered.properties)


def test_timer_disabled_leaves_timer_messages_to_the_normal_put(harness: Harness) -> None:
    harness.service.close()
    harness.service = harness.new_service(timer_enabled=False)
    assert harness.service.maybe_put(timer_msg("x", TIMER_DELAY_SEC="5"), 0) is None


def test_malformed_timer_property_is_a_typed_error(harness: Harness) -> None:
    from rmqcore.timer.errors import InvalidDelayPropertyError

    with pytest.raises(InvalidDelayPropertyError, match="TIMER_DELAY_SEC"):
        harness.service.maybe_put(timer_msg("x", TIMER_DELAY_SEC="ten"), 0)


def test_many_timers_fire_in_order_never_early_with_random_jumps(harness: Harness) -> None:
    import random

    rng = random.Random(7)
    service, clock, store = harness.service, harness.clock, harness.store
    start = clock.now_ms()
    fire_at: dict[str, int] = {}
    for i in range(200):
        delay = rng.randrange(1, 6 * 3_600_000)
        service.maybe_put(timer_msg(f"x{i}", TIMER_DELAY_MS=str(delay)), 0)
        out = (start + delay) - 1_000 if (start + delay) % 1_000 == 0 else (start + delay) // 1_000 * 1_000
        fire_at[f"x{i}"] = out + 1_000
    seen = 0
    while clock.now_ms() < start + 7 * 3_600_000:
        clock.advance(rng.randrange(1, 20 * 60_000))
        service.tick()
        got = bodies(store, REAL_TOPIC, 0)
        now = clock.now_ms()
        assert all(fire_at[b] <= now for b in got[seen:])  # never early
        assert sorted(b for b, t in fire_at.items() if t <= now) == sorted(got)  # nothing due left behind
        seen = len(got)
    assert seen == 200 and len(set(bodies(store, REAL_TOPIC, 0))) == 200
    assert service.next_due_ms() is None


def test_timer_restart_loses_nothing_and_delivers_nothing_twice(harness: Harness) -> None:
    clock = harness.clock
    start = clock.now_ms()
    for i in range(40):
        harness.service.maybe_put(timer_msg(f"w{i}", TIMER_DELAY_SEC=str(10 * (i + 1))), queue_id=0)
    clock.set(start + 200_000)
    assert harness.service.tick() == 20
    harness.restart()
    assert harness.service.pending_timers() == 20
    assert harness.service.tick() == 0
    clock.set(start + 300_000)
    assert harness.service.tick() == 10
    harness.restart()
    clock.set(start + 10 * 3_600_000)
    assert harness.service.tick() == 10
    assert sorted(bodies(harness.store, REAL_TOPIC, 0)) == sorted(f"w{i}" for i in range(40))


def test_timer_crash_delivers_again_but_loses_nothing(harness: Harness) -> None:
    clock = harness.clock
    start = clock.now_ms()
    for i in range(20):
        harness.service.maybe_put(timer_msg(f"k{i}", TIMER_DELAY_SEC=str(i + 1)), queue_id=0)
    harness.service.persist()
    stale = harness.timer_check_file.read_bytes()
    clock.set(start + 10_000)
    assert harness.service.tick() == 10
    harness.service.persist()
    clock.set(start + 15_000)
    assert harness.service.tick() == 5  # delivered after the last checkpoint: lost from memory by the crash
    harness.crash(restore_files={harness.timer_check_file: stale})
    assert harness.service.pending_timers() == 20  # the stale checkpoint predates every delivery
    assert harness.service.tick() == 15  # everything due is delivered again ...
    clock.set(start + 60_000)
    assert harness.service.tick() == 5
    delivered = bodies(harness.store, REAL_TOPIC, 0)
    assert sorted(set(delivered)) == sorted(f"k{i}" for i in range(20))  # ... and none is lost
    assert len(delivered) == 35


def test_timer_crash_without_any_checkpoint_loses_nothing(harness: Harness) -> None:
    clock = harness.clock
    for i in range(5):
        harness.service.maybe_put(timer_msg(f"n{i}", TIMER_DELAY_SEC="30"), queue_id=0)
    harness.service.persist()
    harness.crash(restore_files={})
    harness.timer_check_file.unlink()
    harness.service = harness.new_service()
    clock.advance(30_000)
    assert harness.service.tick() == 5


def test_timercheck_file_layout(harness: Harness) -> None:
    import struct

    clock = harness.clock
    start = clock.now_ms()
    harness.service.maybe_put(timer_msg("a", TIMER_DELAY_SEC="1"), 0)
    harness.service.maybe_put(timer_msg("b", TIMER_DELAY_SEC="100"), 0)
    clock.set(start + 5_000)
    harness.service.tick()
    harness.service.close()
    data = harness.timer_check_file.read_bytes()
    assert len(data) == 4096
    read_ms, flush_pos, queue_offset, master_offset, state, ts, counter = struct.unpack_from(">7q", data)
    assert (read_ms, flush_pos, queue_offset, master_offset, state) == (start + 5_000, 0, 1, 1, 0)
    assert ts == start + 5_000 and counter >= 1


def test_timer_delete_marker_cancels_the_pending_message_and_is_not_delivered(harness: Harness) -> None:
    service, clock, store = harness.service, harness.clock, harness.store
    service.maybe_put(timer_msg("victim", TIMER_DELAY_SEC="60", UNIQ_KEY="U-victim"), 0)
    service.maybe_put(timer_msg("keeper", TIMER_DELAY_SEC="60", UNIQ_KEY="U-keeper"), 0)
    marker = timer_msg("", TIMER_DELAY_SEC="60", TIMER_DEL_UNIQKEY=f"{REAL_TOPIC}+U-victim", UNIQ_KEY="U-marker")
    assert service.maybe_put(marker, 0) is not None  # stored in the timer topic, so a restart sees it
    assert store.max_offset(C.TIMER_TOPIC, 0) == 3 and service.pending_timers() == 1
    clock.advance(60_000)
    assert service.tick() == 1 and bodies(store, REAL_TOPIC, 0) == ["keeper"]


def test_timer_delete_marker_survives_a_restart(harness: Harness) -> None:
    clock = harness.clock
    harness.service.maybe_put(timer_msg("first", TIMER_DELAY_SEC="10", UNIQ_KEY="U-first"), 0)
    harness.service.maybe_put(timer_msg("victim", TIMER_DELAY_SEC="60", UNIQ_KEY="U-victim"), 0)
    harness.service.maybe_put(timer_msg("", TIMER_DELAY_SEC="60", TIMER_DEL_UNIQKEY=f"{REAL_TOPIC}+U-victim"), 0)
    harness.restart()
    assert harness.service.pending_timers() == 1
    clock.advance(60_000)
    assert harness.service.tick() == 1 and bodies(harness.store, REAL_TOPIC, 0) == ["first"]


def test_puts_from_many_threads_while_ticking_deliver_each_message_once(harness: Harness) -> None:
    import threading

    service, clock, store = harness.service, harness.clock, harness.store
    per_thread, threads = 150, 4
    errors: list[BaseException] = []

    def producer(t: int) -> None:
        try:
            for i in range(per_thread):
                if i % 2:
                    service.maybe_put(delayed(f"{t}-{i}", 1 + i % 4), queue_id=t)
                else:
                    service.maybe_put(timer_msg(f"{t}-{i}", TIMER_DELAY_MS=str(500 + i * 37)), queue_id=t)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    workers = [threading.Thread(target=producer, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    while any(w.is_alive() for w in workers):
        clock.advance(250)
        service.tick()
    for w in workers:
        w.join()
    assert errors == []
    clock.advance(3 * H)
    service.tick()
    for t in range(threads):
        assert sorted(bodies(store, REAL_TOPIC, t)) == sorted(f"{t}-{i}" for i in range(per_thread))
    assert service.tick() == 0 and service.next_due_ms() is None


class FlakyStore:
    """The real store, whose puts to ``topic`` fail (SERVICE_NOT_AVAILABLE-like) ``failures`` times."""

    def __init__(self, store: MessageStore, topic: str, failures: int) -> None:
        self._store, self._topic, self.failures = store, topic, failures

    def put(self, msg, queue_id, **kw):  # noqa: ANN001, ANN003, ANN201
        if msg.topic == self._topic and self.failures > 0:
            self.failures -= 1
            raise OSError("disk unavailable")
        return self._store.put(msg, queue_id, **kw)

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self._store, name)


def test_a_failed_schedule_redelivery_is_retried_after_ten_seconds(harness: Harness) -> None:
    harness.service.close()
    flaky = FlakyStore(harness.store, REAL_TOPIC, failures=1)
    service = DelayService(flaky, harness.clock, LEVELS, progress_dir=harness.progress_dir)  # type: ignore[arg-type]
    harness.service = service
    clock = harness.clock
    service.maybe_put(delayed("a", 1), 0)
    service.maybe_put(delayed("b", 1), 0)
    clock.advance(1_000)
    assert service.tick() == 0 and flaky.failures == 0  # the first re-put failed: the level waits
    clock.advance(9_999)
    assert service.tick() == 0
    clock.advance(1)
    assert service.tick() == 2 and bodies(harness.store, REAL_TOPIC, 0) == ["a", "b"]


def test_a_failed_timer_redelivery_is_retried_and_survives_a_restart(harness: Harness) -> None:
    harness.service.close()
    flaky = FlakyStore(harness.store, REAL_TOPIC, failures=1)
    harness.service = DelayService(flaky, harness.clock, LEVELS, progress_dir=harness.progress_dir)  # type: ignore[arg-type]
    clock = harness.clock
    harness.service.maybe_put(timer_msg("t", TIMER_DELAY_SEC="5"), 0)
    clock.advance(5_000)
    assert harness.service.tick() == 0  # failed: kept for later, the checkpoint stays below it
    harness.restart()  # the restarted service must still deliver it
    assert harness.service.pending_timers() == 1
    assert harness.service.tick() == 1 and bodies(harness.store, REAL_TOPIC, 0) == ["t"]


def test_a_message_without_destination_is_dropped_not_stalling_its_level(harness: Harness) -> None:
    service, clock, store = harness.service, harness.clock, harness.store
    broken = MessageExt(C.SCHEDULE_TOPIC, b"lost", properties={"DELAY": "1"})  # no REAL_TOPIC/REAL_QID
    store.put(broken, 0, tag_code=clock.now_ms() + 1_000)
    service.maybe_put(delayed("fine", 1), 0)
    clock.advance(1_000)
    assert service.tick() == 1 and bodies(store, REAL_TOPIC, 0) == ["fine"]
    assert service.offsets()[1] == 2


def test_timer_put_after_the_clock_stepped_back_survives_a_crash(harness: Harness) -> None:
    clock = harness.clock
    start = clock.now_ms()
    clock.set(start + 60_000)
    harness.service.tick()  # read through start + 60 s
    clock.set(start)  # the wall clock steps back a minute
    harness.service.maybe_put(timer_msg("late", TIMER_DELAY_SEC="10"), 0)  # fires at start + 10 s
    harness.service.persist()
    harness.crash(restore_files={})  # the checkpoint must not claim it was delivered
    clock.set(start + 10_000)
    assert harness.service.tick() == 1 and bodies(harness.store, REAL_TOPIC, 0) == ["late"]


class FlushCountingStore:
    """A store whose ``flush`` calls are counted."""

    def __init__(self, store: MessageStore) -> None:
        self._store = store
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1
        self._store.flush()

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)


def test_persist_flushes_once_and_only_after_something_was_put(harness: Harness) -> None:
    store = FlushCountingStore(harness.store)
    service = DelayService(store, harness.clock, LEVELS, progress_dir=harness.root / "own", persist_interval_ms=1_000)  # type: ignore[arg-type]
    delay_file, timer_file = harness.root / "own" / "delayOffset.json", harness.root / "own" / "timercheck"
    try:
        for _ in range(3):  # idle persist rounds: the timer's read time moves, nothing was put
            harness.clock.advance(1_000)
            assert service.tick() == 0
        assert store.flushes == 0 and not delay_file.exists() and not timer_file.exists()

        service.maybe_put(MessageExt(REAL_TOPIC, b"d", properties={"DELAY": "1"}), 0)  # level 1: 1 s
        harness.clock.advance(1_000)
        assert service.tick() == 1
        assert store.flushes == 1 and json.loads(delay_file.read_text())["offsetTable"]["1"] == 1
        service.maybe_put(MessageExt(REAL_TOPIC, b"t", properties={"TIMER_DELAY_SEC": "1"}), 0)
        harness.clock.advance(2_000)
        assert service.tick() == 1
        assert store.flushes == 2 and timer_file.exists()
        saved = delay_file.read_bytes(), timer_file.read_bytes()

        harness.clock.advance(1_000)
        assert service.tick() == 0
        assert store.flushes == 2 and (delay_file.read_bytes(), timer_file.read_bytes()) == saved
    finally:
        service.close()
    assert store.flushes == 2  # close writes the progress files; nothing was put since the last flush
    assert delay_file.exists() and timer_file.exists()
