"""Clients refuse to start with a bad group or an out-of-range setting, saying which, before
opening anything (the Java clients' ``checkConfig``)."""

from __future__ import annotations

import pytest

from rmqcore.client import LitePullConsumer, MQClientError, Producer, PullConsumer, PushConsumer
from rmqcore.client.validators import check_group, check_range


@pytest.mark.parametrize(
    ("group", "message"),
    [
        ("", "the specified group is blank"),
        ("   ", "the specified group is blank"),
        ("g" * 256, "the specified group is longer than group max length 255."),
        ("orders.v2", r"the specified group\[orders.v2\] contains illegal characters"),
        ("with space", "contains illegal characters, allowing only"),
    ],
)
def test_bad_group_names(group: str, message: str) -> None:
    with pytest.raises(MQClientError, match=message):
        check_group(group)


def test_good_group_names_and_ranges() -> None:
    for group in ("g", "%RETRY%g", "CID_orders-1|x", "g" * 255):
        check_group(group)
    check_range("pullBatchSize", 1024, 1, 1024)
    with pytest.raises(MQClientError, match=r"^pullBatchSize Out of range \[1, 1024\]$"):
        check_range("pullBatchSize", 1025, 1, 1024)


def _listening_push(**settings: object) -> PushConsumer:
    consumer = PushConsumer("cg", namesrv_addr="127.0.0.1:1", **settings)  # type: ignore[arg-type]
    consumer.subscribe("T", "*")
    consumer.register_message_listener(lambda msgs, ctx: None)
    return consumer


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("client", "message"),
    [
        (lambda: Producer("DEFAULT_PRODUCER", namesrv_addr="127.0.0.1:1"), "producerGroup can not equal DEFAULT_PRODUCER"),
        (lambda: Producer("bad group", namesrv_addr="127.0.0.1:1"), "illegal characters"),
        (lambda: PullConsumer("DEFAULT_CONSUMER", namesrv_addr="127.0.0.1:1"), "consumerGroup can not equal DEFAULT_CONSUMER"),
        (lambda: LitePullConsumer("cg", namesrv_addr="127.0.0.1:1", pull_batch_size=0), r"pullBatchSize Out of range \[1, 1024\]"),
        (lambda: _listening_push(pull_batch_size=2000), r"pullBatchSize Out of range \[1, 1024\]"),
        (lambda: _listening_push(consume_thread_max=0), r"consumeThreadMax Out of range \[1, 1000\]"),
        (lambda: _listening_push(consume_message_batch_max_size=0), r"consumeMessageBatchMaxSize Out of range"),
        (lambda: _listening_push(pull_threshold_for_queue=70000), r"pullThresholdForQueue Out of range \[1, 65535\]"),
        (lambda: _listening_push(pull_threshold_size_for_queue_mib=2048), r"pullThresholdSizeForQueue Out of range \[1, 1024\]"),
        (lambda: _listening_push(consume_timeout_min=0), "consumeTimeout must be positive"),
        (lambda: _listening_push(pull_interval_ms=-1), r"pullInterval Out of range \[0, 65535\]"),
        (lambda: _listening_push(consume_concurrently_max_span=0), r"consumeConcurrentlyMaxSpan Out of range \[1, 65535\]"),
    ],
)
async def test_clients_refuse_to_start_with_bad_settings(client: object, message: str) -> None:
    made = client()  # type: ignore[operator]
    with pytest.raises(MQClientError, match=message):
        await made.start()
    assert made._instance is None  # nothing was opened


@pytest.mark.parametrize(
    ("topic", "message"),
    [
        ("", "the specified topic is blank"),
        ("orders.v2", r"the specified topic\[orders.v2\] contains illegal characters"),
        ("RMQ_SYS_TRANS_HALF_TOPIC", r"Sending message to topic\[RMQ_SYS_TRANS_HALF_TOPIC\] is forbidden."),
    ],
)
def test_a_send_to_a_topic_no_broker_would_take_is_refused_before_it_is_sent(topic: str, message: str) -> None:
    from rmqcore.client import Message

    producer = Producer("pg", namesrv_addr="127.0.0.1:1")  # never reached: the check comes first
    with pytest.raises(MQClientError, match=message):
        producer._check_message(Message(topic, b"x"))
