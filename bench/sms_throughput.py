"""SMS per second end to end through Tidings and the real Twilio SDK, against a bare SDK loop, in one run.

    .venv/bin/python -m bench.sms_throughput [--count 10000] [--processes 2] [--threads 8] [--warmup 5000]

Tidings: ``POST /send`` to a cluster of ``--count`` users (the app through Litestar's test client, a
Redis broker) → fan-out and delivery in ``dramatiq host.runtime.worker_app`` subprocesses → the SMS channel →
``twilio`` SDK (aiohttp) → the Twilio fake (tests/fakes/twilio.py) in a process of its own; timed from
the request to the last delivery marked sent, after a warm-up dispatch to ``--warmup`` other users.
The reference sends the same number of messages from this process with the SDK as people use it: a
loop of ``client.messages.create`` (the synchronous client, requests' connection pool).
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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

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


def sdk_loop(base: str, count: int, pids: dict[str, int | None]) -> float:
    client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=_RoutedHttpClient(base))
    client.messages.create(to=phone(0), from_=SENDER, body="warm the pool")
    meter = CpuMeter(pids)
    meter.start()
    started = time.perf_counter()
    for i in range(count):
        client.messages.create(
            to=phone(i), from_=SENDER, body=f"Dear User {i}, your appointment is on 01/01/2030."
        )
    rate = count / (time.perf_counter() - started)
    meter.stop()
    print(f"bare SDK loop: {count:,} SMS at {rate:,.0f}/s; {meter.summary(count)}")
    return rate


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
                    pids={"database": database.pid, "twilio fake": fake.pid},
                    unit="SMS",
                )
            )
            bare = sdk_loop(fake.url, args.count, {"twilio fake": fake.pid})
            print(f"tidings {ours:,.0f} SMS/s (target ≥ 500); {ours / bare:.2f}× the bare SDK loop")
    finally:
        redis.stop()


if __name__ == "__main__":
    main()
