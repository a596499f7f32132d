"""Scheduled (delay level) messages: delivered after the level's delay, here level 3 = 10 s with
the default messageDelayLevel (tutorial: ScheduledMessageProducer)."""

import argparse
import os

import anyio

from rmqcore.client import Message, Producer
from rmqcore.logs import configure_logging


async def main(args: argparse.Namespace) -> None:
    async with Producer(args.group, namesrv_addr=args.namesrv) as producer:
        for i in range(args.count):
            msg = Message(args.topic, f"Hello scheduled message {i}".encode())
            msg.delay_level = args.delay_level
            result = await producer.send(msg)
            print(f"{result.status.value} {result.msg_id} delayLevel={args.delay_level}")


if __name__ == "__main__":
    configure_logging(os.environ.get("LOG_LEVEL", "warning"))  # logs go to stderr
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--namesrv", default=os.environ.get("NAMESRV_ADDR", "127.0.0.1:9876"))
    parser.add_argument("--topic", default="TestTopic")
    parser.add_argument("--group", default="ExampleProducerGroup")
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--delay-level", type=int, default=3)
    anyio.run(main, parser.parse_args())
