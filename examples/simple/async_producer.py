"""Send messages asynchronously: sends run in the background, callbacks report each result
(tutorial: AsyncProducer, with retryTimesWhenSendAsyncFailed = 0)."""

import argparse
import os

import anyio

from rmqcore.client import Message, Producer
from rmqcore.logs import configure_logging


async def main(args: argparse.Namespace) -> None:
    async with Producer(args.group, namesrv_addr=args.namesrv, retry_times_when_send_failed=0) as producer:
        all_done = anyio.Event()
        remaining = args.count

        def finished() -> None:
            nonlocal remaining
            remaining -= 1
            if remaining == 0:
                all_done.set()

        for i in range(args.count):
            msg = Message(args.topic, b"Hello world", tags="TagA", keys="OrderID188")

            def on_success(result, index=i):
                print(f"{index:<10d}OK {result.msg_id}")
                finished()

            def on_error(error, index=i):
                print(f"{index:<10d}Exception {error}")
                finished()

            producer.send_async(msg, on_success=on_success, on_error=on_error)
        with anyio.fail_after(args.timeout):
            await all_done.wait()


if __name__ == "__main__":
    configure_logging(os.environ.get("LOG_LEVEL", "warning"))  # logs go to stderr
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--namesrv", default=os.environ.get("NAMESRV_ADDR", "127.0.0.1:9876"))
    parser.add_argument("--topic", default="TopicTest")
    parser.add_argument("--group", default="please_rename_unique_group_name")
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=5.0)
    anyio.run(main, parser.parse_args())
