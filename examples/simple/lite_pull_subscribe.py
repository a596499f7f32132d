"""Lite pull consumer, subscribe mode: the group shares the queues; the program polls
(tutorial: LitePullConsumerSubscribe)."""

import argparse
import os

import anyio

from rmqcore.client import LitePullConsumer
from rmqcore.logs import configure_logging


async def main(args: argparse.Namespace) -> None:
    consumer = LitePullConsumer(args.group, namesrv_addr=args.namesrv, consume_from_where="CONSUME_FROM_FIRST_OFFSET")
    consumer.subscribe(args.topic, "*")
    received = 0
    async with consumer:
        with anyio.move_on_after(args.timeout):
            while not args.count or received < args.count:
                for msg in await consumer.poll(timeout=1.0):
                    print(f"polled {msg.body.decode()} queue={msg.queue_id} offset={msg.queue_offset}")
                    received += 1
    print(f"polled {received} messages")


if __name__ == "__main__":
    configure_logging(os.environ.get("LOG_LEVEL", "warning"))  # logs go to stderr
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--namesrv", default=os.environ.get("NAMESRV_ADDR", "127.0.0.1:9876"))
    parser.add_argument("--topic", default="TopicTest")
    parser.add_argument("--group", default="lite_pull_consumer_test")
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=3600.0)
    anyio.run(main, parser.parse_args())
