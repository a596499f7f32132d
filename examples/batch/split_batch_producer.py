"""Split a large list into batches under the size limit, then send each batch
(tutorial: SplitBatchProducer with its ListSplitter; here ``split_batch``)."""

import argparse
import os

import anyio

from rmqcore.client import Message, Producer, split_batch
from rmqcore.logs import configure_logging


async def main(args: argparse.Namespace) -> None:
    async with Producer(args.group, namesrv_addr=args.namesrv) as producer:
        messages = [Message(args.topic, f"Hello world {i}".encode(), tags="Tag", keys=f"OrderID{i}") for i in range(args.count)]
        for n, batch in enumerate(split_batch(messages, args.size_limit)):
            result = await producer.send(batch)
            print(f"batch {n}: {len(batch)} messages {result.status.value} queue={result.message_queue.queue_id} firstOffset={result.queue_offset}")


if __name__ == "__main__":
    configure_logging(os.environ.get("LOG_LEVEL", "warning"))  # logs go to stderr
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--namesrv", default=os.environ.get("NAMESRV_ADDR", "127.0.0.1:9876"))
    parser.add_argument("--topic", default="BatchTest")
    parser.add_argument("--group", default="BatchProducerGroupName")
    parser.add_argument("--count", type=int, default=100 * 1000)
    parser.add_argument("--size-limit", type=int, default=1024 * 1024 * 4)
    anyio.run(main, parser.parse_args())
