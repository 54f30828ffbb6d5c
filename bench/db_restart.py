"""The database restarted under load: the API answers 503 meanwhile, then everyone recovers by itself.

    .venv/bin/python -m bench.db_restart [--requests 200] [--recipients 25] [--outage 4]

The development database keeps its data in an H2 file on a fixed port; ``tidings worker`` with two
worker processes, a Redis broker and a counting SMTP sink. ``POST /send`` requests (``--recipients``
users each) go out one after another; a few seconds in, the database is stopped (SIGTERM: its H2 store
commits about once a second, so a kill -9 would lose writes it had acknowledged) and started again on
the same port and file after ``--outage`` seconds. The same fault at CI size is a test:
tests/integration/host/runtime/test_faults.py. Prints the answers by status (and whether every
error body has the Mia shape), then waits until every accepted delivery is settled and prints
delivered, lost (expected 0) and duplicated, and mails sent for refused requests (expected 0).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import dramatiq
from litestar.testing import AsyncTestClient
from pymongo import AsyncMongoClient

from bench.kill_worker import BENCH_CONFIG
from host.api.app import create_app
from host.runtime.actors import declare_actors
from host.runtime.broker import create_broker
from host.settings import load_settings
from host.storage.devdb import DevDatabase
from tests.fakes.smtp import SmtpSink
from tests.services import RedisServer, free_port
from tests.support.worker_processes import MailLedger, WorkerProcesses, wait_for_workers, worker_environ

ERROR_KEYS = {"statusCode", "error", "message"}


def address(i: int) -> str:
    return f"user{i}@example.test"


class Restart(threading.Thread):
    """Stop the database, wait ``outage`` seconds, start it again on the same port and file.

    A thread, not a task: the test client's requests block the event loop while the database is away.
    """

    def __init__(self, database: DevDatabase, data_file: Path, port: int, outage: float) -> None:
        super().__init__()
        self.database, self._data_file, self._port, self._outage = database, data_file, port, outage

    def run(self) -> None:
        self.database.stop()
        time.sleep(self._outage)
        self.database = DevDatabase(port=self._port, data_file=self._data_file, max_heap="512m")
        self.database.start()


async def run(args: argparse.Namespace, tmp: Path, redis: RedisServer) -> None:
    data_file, port = tmp / "tidings.h2", free_port()
    database = DevDatabase(port=port, data_file=data_file, max_heap="512m")
    database.start()
    path = tmp / "configuration.json"
    path.write_text(json.dumps(BENCH_CONFIG))
    counter = MailLedger()
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command at INFO
    sink = SmtpSink(on_message=counter).start()
    environ = worker_environ(
        path, database.url, "tidings_restart_bench", redis.url, SMTP_HOST=sink.host, SMTP_PORT=str(sink.port)
    )
    users = args.requests * args.recipients
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(database.url, tz_aware=True)
    db = mongo[environ["MONGODB_DATABASE"]]
    await db["users"].insert_many(
        [{"fiscalCode": f"R{i:07d}", "mail": address(i), "groups": []} for i in range(users)]
    )
    settings = load_settings({**environ, "TIDINGS_API_AUTH": "off"})  # the figures are not about API keys
    broker = create_broker(settings.env.redis_url)
    dramatiq.set_broker(broker)
    actors = declare_actors(broker, settings, sweep_interval=None)
    since = time.time()
    workers = WorkerProcesses(environ, 2, 8).start()
    answers: Counter[int] = Counter()
    bad_shapes: list[str] = []
    accepted: set[int] = set()
    refused: set[int] = set()
    try:
        async with AsyncTestClient(create_app(actors), timeout=60) as client:
            await asyncio.to_thread(wait_for_workers, redis.url, 2, since=since, watch=(workers,))
            restarting: Restart | None = None
            started = time.perf_counter()
            for n in range(args.requests):
                if n == args.requests // 4:
                    restarting = Restart(database, data_file, port, args.outage)
                    restarting.start()
                ids = range(n * args.recipients, (n + 1) * args.recipients)
                response = await client.post(
                    "/send",
                    json={
                        "channels": ["email"],
                        "recipients": [f"R{i:07d}" for i in ids],
                        "messageTitle": "Hi",
                        "messageContent": "Hello",
                    },
                )
                answers[response.status_code] += 1
                (accepted if response.status_code == 200 else refused).update(ids)
                if response.status_code != 200 and set(response.json()) != ERROR_KEYS:
                    bad_shapes.append(response.text[:200])
                await asyncio.sleep(0.02)
            assert restarting is not None
            await asyncio.to_thread(restarting.join)
            database = restarting.database
            print(f"{args.requests} requests in {time.perf_counter() - started:.1f} s: {dict(answers)}")
            print(f"error bodies outside the Mia shape: {len(bad_shapes)} {bad_shapes[:3]}")
            deadline = time.monotonic() + args.settle_timeout
            while time.monotonic() < deadline:
                try:
                    open_ = await db["deliveries"].count_documents({"status": {"$in": ["queued", "sending"]}})
                    expanding = await db["dispatches"].count_documents({"state": "expanding"})
                except Exception as exc:  # the test loop's client reconnects on its own
                    print("waiting:", type(exc).__name__)
                    open_ = expanding = 1
                if not open_ and not expanding and counter.arrived >= len(accepted):
                    break
                await asyncio.sleep(1)
            settled = time.perf_counter() - started
            workers.stop()  # once they have exited, nothing is still on the wire
    finally:
        workers.stop()
        broker.close()
        sink.stop()
        await mongo.close()
        database.stop()
    delivered = sum(1 for i in accepted if counter.counts[address(i)])
    duplicated = sum(n - 1 for n in counter.counts.values() if n > 1)
    stray = sum(1 for i in refused if counter.counts[address(i)])
    print(
        f"after {settled:.0f} s: delivered {delivered:,} of {len(accepted):,} accepted; "
        f"lost {len(accepted) - delivered} (expected 0); duplicated {duplicated}; "
        f"mails for refused requests {stray} (expected 0)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--recipients", type=int, default=25)
    parser.add_argument("--outage", type=float, default=4.0, help="seconds the database stays down")
    parser.add_argument("--settle-timeout", type=float, default=240.0)
    args = parser.parse_args()
    redis = RedisServer().start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            asyncio.run(run(args, Path(tmp), redis))
    finally:
        redis.stop()


if __name__ == "__main__":
    main()
