"""Consumer of scheduled messages: prints how long after its birth each message arrived
(tutorial: ScheduledMessageConsumer)."""

import argparse
import os
import time

import anyio

from rmqcore.client import ConsumeConcurrentlyStatus, PushConsumer
from rmqcore.logs import configure_logging


async def main(args: argparse.Namespace) -> None:
    consumer = PushConsumer(args.group, namesrv_addr=args.namesrv, consume_from_where="CONSUME_FROM_FIRST_OFFSET")
    consumer.subscribe(args.topic, "*")
    received = 0
    enough = anyio.Event()

    async def listener(msgs, context):
        nonlocal received
        for msg in msgs:
            print(f"Receive message[msgId={msg.msg_id}] {int(time.time() * 1000) - msg.born_timestamp}ms later")
        received += len(msgs)
        if args.count and received >= args.count:
            enough.set()
        return ConsumeConcurrentlyStatus.CONSUME_SUCCESS

    consumer.register_message_listener(listener)
    async with consumer:
        with anyio.move_on_after(args.timeout):
            await enough.wait()


if __name__ == "__main__":
    configure_logging(os.environ.get("LOG_LEVEL", "warning"))  # logs go to stderr
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--namesrv", default=os.environ.get("NAMESRV_ADDR", "127.0.0.1:9876"))
    parser.add_argument("--topic", default="TestTopic")
    parser.add_argument("--group", default="ExampleConsumer")
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=3600.0)
    anyio.run(main, parser.parse_args())
