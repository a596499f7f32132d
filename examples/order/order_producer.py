"""Ordered messages: every message of one order goes to the same queue, chosen by order id
(tutorial: ordered message producer with a MessageQueueSelector)."""

import argparse
import os

import anyio

from rmqcore.client import Message, Producer
from rmqcore.logs import configure_logging


def select_by_order_id(queues, msg, order_id):
    return queues[order_id % len(queues)]


async def main(args: argparse.Namespace) -> None:
    tags = ["TagA", "TagB", "TagC", "TagD", "TagE"]
    async with Producer(args.group, namesrv_addr=args.namesrv) as producer:
        for i in range(args.count):
            order_id = i % 10
            msg = Message(args.topic, f"Hello RocketMQ {i}".encode(), tags=tags[i % len(tags)], keys=f"KEY{i}")
            result = await producer.send(msg, selector=select_by_order_id, arg=order_id)
            print(f"order={order_id} body=Hello RocketMQ {i} {result.status.value} queue={result.message_queue.queue_id} offset={result.queue_offset}")


if __name__ == "__main__":
    configure_logging(os.environ.get("LOG_LEVEL", "warning"))  # logs go to stderr
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--namesrv", default=os.environ.get("NAMESRV_ADDR", "127.0.0.1:9876"))
    parser.add_argument("--topic", default="TopicTest")
    parser.add_argument("--group", default="please_rename_unique_group_name")
    parser.add_argument("--count", type=int, default=100)
    anyio.run(main, parser.parse_args())
