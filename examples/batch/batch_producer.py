"""Batch send: several messages of one topic in one request (tutorial: SimpleBatchProducer)."""

import argparse
import os

import anyio

from rmqcore.client import Message, Producer
from rmqcore.logs import configure_logging


async def main(args: argparse.Namespace) -> None:
    async with Producer(args.group, namesrv_addr=args.namesrv) as producer:
        messages = [
            Message(args.topic, b"Hello world 0", tags="TagA", keys="OrderID001"),
            Message(args.topic, b"Hello world 1", tags="TagA", keys="OrderID002"),
            Message(args.topic, b"Hello world 2", tags="TagA", keys="OrderID003"),
        ]
        result = await producer.send(messages)
        print(f"{result.status.value} msgIds={result.msg_id} queue={result.message_queue.queue_id} firstOffset={result.queue_offset}")


if __name__ == "__main__":
    configure_logging(os.environ.get("LOG_LEVEL", "warning"))  # logs go to stderr
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--namesrv", default=os.environ.get("NAMESRV_ADDR", "127.0.0.1:9876"))
    parser.add_argument("--topic", default="BatchTest")
    parser.add_argument("--group", default="BatchProducerGroupName")
    anyio.run(main, parser.parse_args())
