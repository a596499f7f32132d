"""Send one-way: no answer is awaited, for logs and the like (tutorial: OnewayProducer)."""

import argparse
import os

import anyio

from rmqcore.client import Message, Producer
from rmqcore.logs import configure_logging


async def main(args: argparse.Namespace) -> None:
    async with Producer(args.group, namesrv_addr=args.namesrv) as producer:
        for i in range(args.count):
            await producer.send_oneway(Message(args.topic, f"Hello RocketMQ {i}".encode(), tags="TagA"))
        print(f"sent {args.count} one-way messages")


if __name__ == "__main__":
    configure_logging(os.environ.get("LOG_LEVEL", "warning"))  # logs go to stderr
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--namesrv", default=os.environ.get("NAMESRV_ADDR", "127.0.0.1:9876"))
    parser.add_argument("--topic", default="TopicTest")
    parser.add_argument("--group", default="please_rename_unique_group_name")
    parser.add_argument("--count", type=int, default=100)
    anyio.run(main, parser.parse_args())
