"""``rmqcore quickstart produce|consume``: the RocketMQ quick start, against a running broker.

``produce`` sends 1000 messages "Hello RocketMQ i" (tag TagA) to TopicTest and prints each
send result; ``consume`` prints what it receives (until --count messages or --timeout seconds).
"""

from __future__ import annotations

import argparse
import os

from rmqcore.client import ConsumeConcurrentlyStatus, Message, MQClientError, sync


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-n", "--namesrv", default=os.environ.get("NAMESRV_ADDR", "127.0.0.1:9876"))
    sub = parser.add_subparsers(dest="quickstart_command", metavar="COMMAND", required=True)
    p = sub.add_parser("produce", help="send 1000 messages to TopicTest")
    p.add_argument("-t", "--topic", default="TopicTest")
    p.add_argument("-g", "--group", default="please_rename_unique_group_name")
    p.add_argument("--count", type=int, default=1000)
    p = sub.add_parser("consume", help="print the messages of TopicTest")
    p.add_argument("-t", "--topic", default="TopicTest")
    p.add_argument("-g", "--group", default="please_rename_unique_group_name_4")
    p.add_argument("--count", type=int, default=0, help="stop after this many messages (0: until --timeout)")
    p.add_argument("--timeout", type=float, default=3600.0)


def _produce(args: argparse.Namespace) -> int:
    with sync.Producer(args.group, namesrv_addr=args.namesrv) as producer:
        for i in range(args.count):
            result = producer.send(Message(args.topic, f"Hello RocketMQ {i}".encode(), tags="TagA"))
            print(result, flush=True)
    return 0


def _consume(args: argparse.Namespace) -> int:
    import threading

    enough = threading.Event()
    lock = threading.Lock()
    received = 0

    def listener(msgs, context):  # type: ignore[no-untyped-def]
        nonlocal received
        with lock:
            for msg in msgs:
                print(f"Receive New Messages: {msg!r}", flush=True)
            received += len(msgs)
            if args.count and received >= args.count:
                enough.set()
        return ConsumeConcurrentlyStatus.CONSUME_SUCCESS

    consumer = sync.PushConsumer(args.group, namesrv_addr=args.namesrv, consume_from_where="CONSUME_FROM_FIRST_OFFSET")
    consumer.subscribe(args.topic, "*")
    consumer.register_message_listener(listener)
    with consumer:
        print("Consumer Started.", flush=True)
        enough.wait(args.timeout)
    return 0


def run(args: argparse.Namespace) -> int:
    from rmqcore.logs import configure_logging

    configure_logging("warning")
    try:
        return _produce(args) if args.quickstart_command == "produce" else _consume(args)
    except MQClientError as exc:
        print(f"quickstart {args.quickstart_command} failed: {exc}")
        return 1
