"""SMS per second end to end through Tidings and the real Twilio SDK, against the SDK at the same
concurrency, side by side in one run.

    .venv/bin/python -m bench.sms_throughput [--count 10000] [--processes 2] [--threads 8] [--warmup 5000]

Tidings (bench.cluster_send): ``POST /send`` to a cluster of ``--count`` users → ``tidings api`` →
fan-out and delivery in ``tidings worker --processes P --threads T`` → the SMS channel → ``twilio`` SDK
(aiohttp) → the Twilio fake (tests/fakes/twilio.py) in a process of its own; timed from the request to
the last delivery marked sent, after a warm-up dispatch to ``--warmup`` other users.
The fair peer sends the same number of messages with the SDK as people use it, at the same concurrency:
P processes × T threads, each thread with a client of its own (the synchronous client and its requests
connection pool, kept for its whole share; bench.baselines.parallel_rate). One such client in one
process gives context. Each line prints the CPU per message of every process group.
Target (issue 7): ≥ 500 SMS/s end to end.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from bench.baselines import Figure, OpenSender, measured, parallel_rate, print_figures
from bench.cluster_send import add_stack_arguments, stack_environ, timed_cluster_send
from bench.mail_stack import CpuMeter, Workers, free_port
from host.storage.devdb import DevDatabase
from tests.services import RedisServer

CLUSTER, WARMUP_CLUSTER = "bench-sms", "bench-sms-warmup"
SENDER = "+15005550006"
ACCOUNT_SID, AUTH_TOKEN = "AC" + "0" * 32, "fake-auth-token"
CONFIG: dict[str, Any] = {
    "activeChannels": ["sms"],
    "sender": {"sms": SENDER},
    "userFields": {"id": "fiscalCode", "phoneNumber": "phone", "clusters": "groups"},
    "delivery": {"maxAttempts": 10, "minBackoffSeconds": 0.2, "maxBackoffSeconds": 2.0},
}
# the fake in a process of its own, on a socket made the way tests.fakes.http_server makes it
_SERVE_FAKE = """
import sys, time
from tests.fakes.twilio import FakeTwilio
fake = FakeTwilio(account_sid=sys.argv[1], auth_token=sys.argv[2], port=int(sys.argv[3])).start()
print(fake.url, flush=True)
while True:
    time.sleep(3600)
"""
_TWILIO_URL = re.compile(r"^https://(?:[A-Za-z0-9-]+\.)*twilio\.com")


def phone(i: int) -> str:
    return f"+39333{i:07d}"


def users(count: int, cluster: str, first: int = 0, size: int = 5000) -> Iterator[list[dict[str, Any]]]:
    for start in range(first, first + count, size):
        yield [
            {"fiscalCode": f"S{i:07d}", "phone": phone(i), "name": f"User {i}", "groups": [cluster]}
            for i in range(start, min(start + size, first + count))
        ]


class FakeTwilioProcess:
    """tests/fakes/twilio.py served from a child process (so it does not share this one's GIL)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = ""
        self._process: subprocess.Popen[str] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def __enter__(self) -> FakeTwilioProcess:
        args = [sys.executable, "-c", _SERVE_FAKE, ACCOUNT_SID, AUTH_TOKEN, str(self.port)]
        self._process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        assert self._process.stdout is not None
        self.url = self._process.stdout.readline().strip()
        if not self.url:
            raise RuntimeError("the Twilio fake did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)


class _RoutedHttpClient(TwilioHttpClient):  # type: ignore[misc]
    """The SDK's own synchronous client (requests), pointed at the fake."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        return super().request(method, _TWILIO_URL.sub(self.base, url, count=1), *args, **kwargs)


def sdk_client(base: str) -> OpenSender:
    """A sender factory for parallel_rate: one SDK client (and its connection pool) per thread."""

    @contextmanager
    def open_sender() -> Iterator[Callable[[int], None]]:
        client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=_RoutedHttpClient(base))

        def send(i: int) -> None:
            client.messages.create(
                to=phone(i), from_=SENDER, body=f"Dear User {i}, your appointment is on 01/01/2030."
            )

        yield send

    return open_sender


def sdk_pool(base: str, count: int, processes: int, threads: int, fake_pid: int | None) -> Figure:
    """The fair peer: the SDK at Tidings' concurrency, ``processes × threads`` clients."""
    meter = CpuMeter({"twilio fake": fake_pid}).start()
    rate, senders = parallel_rate(count, processes, threads, sdk_client(base))
    meter.stop()
    meter.add("senders", senders)
    return Figure(f"twilio SDK, {processes} processes × {threads} threads", rate, count, meter)


def sdk_loop(base: str, count: int) -> float:
    with sdk_client(base)() as send:
        started = time.perf_counter()
        for i in range(count):
            send(i)
        return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    add_stack_arguments(parser, warmup=5000, unit="messages")
    args = parser.parse_args()
    redis = RedisServer().start()
    try:
        with (
            tempfile.TemporaryDirectory() as tmp,
            DevDatabase(max_heap="1g") as database,
            FakeTwilioProcess() as fake,
        ):
            environ = stack_environ(
                Path(tmp),
                CONFIG,
                database.url,
                redis.url,
                "tidings_sms_bench",
                TWILIO_ACCOUNT_SID=ACCOUNT_SID,
                TWILIO_AUTH_TOKEN=AUTH_TOKEN,
                TWILIO_API_BASE=fake.url,
            )
            ours = asyncio.run(
                timed_cluster_send(
                    environ,
                    count=args.count,
                    warmup=args.warmup,
                    clusters=(CLUSTER, WARMUP_CLUSTER),
                    users=users,
                    body={
                        "channels": ["sms"],
                        "messageTitle": "Hello",
                        "messageContent": "Dear {{user.name}}, your appointment is on {{data.date}}.",
                        "data": {"date": "01/01/2030"},
                    },
                    workers=Workers(environ, args.processes, args.threads),
                    pids={"database": database.pid, "Redis": redis.pid, "twilio fake": fake.pid},
                    unit="SMS",
                )
            )
            peer = sdk_pool(fake.url, args.count, args.processes, args.threads, fake.pid)
            single = measured(
                "twilio SDK, one client, 1 process",
                args.count,
                {"twilio fake": fake.pid},
                lambda: sdk_loop(fake.url, args.count),
            )
            print_figures(
                f"SMS, {args.count:,} messages into the Twilio fake (rates; CPU per SMS by process group)",
                "SMS",
                [ours, peer, single],
                ours=ours,
                peer=peer,
                target="≥ 500 SMS/s end to end",
            )
    finally:
        redis.stop()


if __name__ == "__main__":
    main()
