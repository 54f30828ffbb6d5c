"""SMS per second through the real Twilio SDK and the SMS channel into the Twilio fake.

    .venv/bin/python -m bench.twilio_sms [--count 1000] [--concurrency 20] [--api-base URL]

Without ``--api-base`` the fake runs in a thread of this process (sharing its GIL); with it, start the
fake apart first: ``python -m tests.fakes.twilio --port 8021``.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from channels.sms import SmsChannel
from channels.twilio_client import TwilioConfig
from host.plugins.channel import ChannelContext, Message, Sender
from tests.fakes.twilio import FakeTwilio

TO = "+393331234567"


async def _sequential(sender: Sender, count: int) -> None:
    for i in range(count):
        await sender.send(Message(text=f"message {i}"), TO)


async def _concurrent(sender: Sender, count: int, tasks: int) -> None:
    queue = iter(range(count))

    async def worker() -> None:
        for i in queue:
            await sender.send(Message(text=f"message {i}"), TO)

    await asyncio.gather(*(worker() for _ in range(tasks)))


async def run(config: TwilioConfig, count: int, tasks: int) -> None:
    channel = SmsChannel(config, ChannelContext(sender="+15005550006"))
    async with channel.open() as sender:
        await _sequential(sender, 50)  # warm the connection pool
        for label, job in (
            ("sequential", _sequential(sender, count)),
            (f"{tasks} tasks", _concurrent(sender, count, tasks)),
        ):
            started = time.perf_counter()
            await job
            elapsed = time.perf_counter() - started
            print(f"{label:>12}: {count} SMS in {elapsed:.2f} s = {count / elapsed:,.0f} SMS/s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--api-base")
    parser.add_argument("--account-sid", default="AC" + "0" * 32)
    parser.add_argument("--auth-token", default="fake-auth-token")
    args = parser.parse_args()
    if args.api_base:
        config = TwilioConfig(
            account_sid=args.account_sid, auth_token=args.auth_token, api_base=args.api_base
        )
        asyncio.run(run(config, args.count, args.concurrency))
        return
    with FakeTwilio(account_sid=args.account_sid, auth_token=args.auth_token) as fake:
        print("fake in a thread of this process")
        config = TwilioConfig(account_sid=args.account_sid, auth_token=args.auth_token, api_base=fake.url)
        asyncio.run(run(config, args.count, args.concurrency))


if __name__ == "__main__":
    main()
