"""15 messages with tags TagA/TagB/TagC in turn and the user property baiLi = i
(tutorial: SqlFilterProducer)."""

import argparse
import os

import anyio

from rmqcore.client import Message, Producer
from rmqcore.logs import configure_logging


async def main(args: argparse.Namespace) -> None:
    tags = ["TagA", "TagB", "TagC"]
    async with Producer(args.group, namesrv_addr=args.namesrv) as producer:
        for i in range(args.count):
            msg = Message(args.topic, f"Hello RocketMQ {i}".encode(), tags=tags[i % len(tags)])
            msg.put_user_property("baiLi", str(i))
            result = await producer.send(msg)
            print(f"{result.status.value} i={i} tags={msg.tags} {result.msg_id}")


if __name__ == "__main__":
    configure_logging(os.environ.get("LOG_LEVEL", "warning"))  # logs go to stderr
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--namesrv", default=os.environ.get("NAMESRV_ADDR", "127.0.0.1:9876"))
    parser.add_argument("--topic", default="SqlFilterTest")
    parser.add_argument("--group", default="please_rename_unique_group_name")
    parser.add_argument("--count", type=int, default=15)
    anyio.run(main, parser.parse_args())
