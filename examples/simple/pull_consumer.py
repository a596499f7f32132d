"""Raw pull consumer: the program picks queues and offsets itself (tutorial: PullConsumer)."""

import argparse
import os

import anyio

from rmqcore.client import PullConsumer, PullStatus
from rmqcore.logs import configure_logging


async def main(args: argparse.Namespace) -> None:
    async with PullConsumer(args.group, namesrv_addr=args.namesrv, register_topics=[args.topic]) as consumer:
        received = 0
        with anyio.move_on_after(args.timeout):
            while not args.count or received < args.count:
                for mq in await consumer.fetch_message_queues_in_balance(args.topic):
                    offset = max(await consumer.fetch_consume_offset(mq, from_store=False), 0)
                    result = await consumer.pull(mq, "*", offset, 32)
                    if result.status is PullStatus.FOUND:
                        for msg in result.msg_found_list:
                            print(f"{mq.broker_name}/{mq.queue_id} offset={msg.queue_offset} body={msg.body.decode()}")
                        received += len(result.msg_found_list)
                    consumer.update_consume_offset(mq, result.next_begin_offset)
                await consumer.persist_consume_offsets()
                if args.count and received >= args.count:
                    break
                await anyio.sleep(0.2)
        print(f"pulled {received} messages")


if __name__ == "__main__":
    configure_logging(os.environ.get("LOG_LEVEL", "warning"))  # logs go to stderr
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--namesrv", default=os.environ.get("NAMESRV_ADDR", "127.0.0.1:9876"))
    parser.add_argument("--topic", default="TopicTest")
    parser.add_argument("--group", default="please_rename_unique_group_name_5")
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=3600.0)
    anyio.run(main, parser.parse_args())
