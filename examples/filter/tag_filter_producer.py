"""Messages with tags TagA, TagB, TagC in turn, for the tag filter consumer (tutorial: TagFilterProducer)."""

import argparse
import os

import anyio

from rmqcore.client import Message, Producer
from rmqcore.logs import configure_logging


async def main(args: argparse.Namespace) -> None:
    tags = ["TagA", "TagB", "TagC"]
    async with Producer(args.group, namesrv_addr=args.namesrv) as producer:
        for i in range(args.count):
            result = await producer.send(Message(args.topic, f"Hello world {i}".encode(), tags=tags[i % len(tags)]))
            print(f"{result.status.value} tags={tags[i % len(tags)]} {result.msg_id}")


if __name__ == "__main__":
    configure_logging(os.environ.get("LOG_LEVEL", "warning"))  # logs go to stderr
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--namesrv", default=os.environ.get("NAMESRV_ADDR", "127.0.0.1:9876"))
    parser.add_argument("--topic", default="TagFilterTest")
    parser.add_argument("--group", default="please_rename_unique_group_name")
    parser.add_argument("--count", type=int, default=60)
    anyio.run(main, parser.parse_args())
