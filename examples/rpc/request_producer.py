"""Request producer: sends a request and waits for its reply (RocketMQ example: rpc/RequestProducer).

Run response_consumer.py first; each request returns the reply it sent back, or raises
RequestTimeoutError after --ttl seconds.
"""

import argparse
import os
import time

import anyio

from rmqcore.client import Message, Producer
from rmqcore.logs import configure_logging


async def main(args: argparse.Namespace) -> None:
    async with Producer(args.group, namesrv_addr=args.namesrv) as producer:
        for i in range(args.count):
            begin = time.perf_counter()
            reply = await producer.request(Message(args.topic, f"Hello world {i}".encode()), timeout=args.ttl)
            cost_ms = (time.perf_counter() - begin) * 1000
            print(f"request to <{args.topic}> cost: {cost_ms:.1f} ms replyMessage: {reply.body.decode()}")


if __name__ == "__main__":
    configure_logging(os.environ.get("LOG_LEVEL", "warning"))  # logs go to stderr
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--namesrv", default=os.environ.get("NAMESRV_ADDR", "127.0.0.1:9876"))
    parser.add_argument("--topic", default="RequestTopic")
    parser.add_argument("--group", default="please_rename_unique_group_name")
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--ttl", type=float, default=3.0, help="seconds to wait for each reply")
    anyio.run(main, parser.parse_args())
