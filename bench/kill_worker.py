"""A worker process killed mid-run: every e-mail still arrives, and few arrive twice.

    .venv/bin/python -m bench.kill_worker [--count 10000] [--kill-after 0.3] [--threads 8]

Two ``dramatiq host.runtime.worker_app`` supervisors with one worker process each, a Redis broker, the
development database, and a counting SMTP sink (tests.fakes.smtp on its own thread: it counts
recipients). ``POST /send`` to a cluster of ``--count`` users; once ``--kill-after`` of them have arrived,
one worker process gets ``kill -9`` (its supervisor then exits) and is started again. The run waits until
every delivery is settled, then prints delivered, lost (expected 0) and duplicated (expected no more than
the deliveries that were ``sending`` at the kill).

What brings the killed worker's work back: deliveries left ``sending`` are handed out again by the
recovery sweep once ``sendingLeaseSeconds`` pass; its prefetched broker messages by dramatiq's Redis
broker after its heartbeat timeout (60 s, not configurable from the environment), or sooner by the
sweep's pass over deliveries ``queued`` longer than ``enqueueLeaseSeconds`` (short here).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import dramatiq
from litestar.testing import AsyncTestClient
from pymongo import AsyncMongoClient

from bench.mail_stack import CLUSTER, CONFIG, Workers, user_batches
from host.api.app import create_app
from host.runtime.actors import declare_actors
from host.runtime.broker import create_broker
from host.settings import load_settings
from host.storage.devdb import DevDatabase
from tests.fakes.smtp import ReceivedMail, SmtpSink
from tests.services import RedisServer, free_port

BENCH_CONFIG: dict[str, Any] = {
    **CONFIG,
    "delivery": {**CONFIG["delivery"], "sendingLeaseSeconds": 5, "enqueueLeaseSeconds": 15},
}


class RecipientCounter:
    """Counts arrivals per recipient; safe from the sink's thread."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, mail: ReceivedMail) -> None:
        with self._lock:
            self.counts.update(mail.rcpt_tos)

    @property
    def arrived(self) -> int:
        with self._lock:
            return sum(self.counts.values())


def kill_one_worker(workers: Workers) -> int:
    """``kill -9`` the worker process of ``workers``; returns its pid once its supervisor has exited."""
    children = workers.children()
    if not children:
        raise RuntimeError("the supervisor has no worker process to kill")
    os.kill(children[0], signal.SIGKILL)
    workers.kill_all()  # the supervisor exits on its own when a worker dies; this reaps it
    return children[0]


async def run(environ: dict[str, str], count: int, kill_after: float, threads: int) -> None:
    settings = load_settings(environ)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(environ["MONGODB_URL"], tz_aware=True)
    db = mongo[environ["MONGODB_DATABASE"]]
    for batch in user_batches(count):
        await db["users"].insert_many(batch)
    counter = RecipientCounter()
    broker = create_broker(settings.env.redis_url)
    dramatiq.set_broker(broker)
    actors = declare_actors(broker, settings, sweep_interval=None)
    first = Workers(environ, 1, threads).start()
    second = Workers(environ, 1, threads).start()
    sink = SmtpSink(host="127.0.0.1", port=int(environ["SMTP_PORT"]), on_message=counter)
    try:
        with sink:
            async with AsyncTestClient(create_app(actors)) as client:
                await asyncio.sleep(3)  # let the worker processes boot
                started = time.perf_counter()
                response = await client.post(
                    "/send",
                    json={
                        "clusters": [CLUSTER],
                        "channels": ["email"],
                        "messageTitle": "Hello {{user.name}}",
                        "messageContent": "Dear {{user.name}}, this one must arrive exactly once.",
                    },
                )
                assert response.status_code == 200, response.text
                while counter.arrived < count * kill_after:
                    await asyncio.sleep(0.02)
                killed = kill_one_worker(first)
                in_flight = await db["deliveries"].count_documents({"status": "sending"})
                arrived_at_kill = counter.arrived
                print(f"killed worker pid {killed} after {arrived_at_kill:,} arrivals; {in_flight} sending")
                await asyncio.sleep(1)
                first.start()
                while await db["deliveries"].count_documents({"status": {"$in": ["queued", "sending"]}}):
                    await asyncio.sleep(0.5)
                elapsed = time.perf_counter() - started
                await asyncio.sleep(1)  # a late duplicate would still be on the wire
                sent = await db["deliveries"].count_documents({"status": "sent"})
                failed = await db["deliveries"].count_documents({"status": "failed"})
    finally:
        first.stop()
        second.stop()
        broker.close()
        await mongo.close()
    expected = {f"user{i}@example.test" for i in range(count)}
    delivered = len(expected & set(counter.counts))
    duplicated = sum(n - 1 for n in counter.counts.values() if n > 1)
    print(f"settled in {elapsed:.1f} s: {sent:,} sent, {failed} failed (database)")
    print(
        f"delivered {delivered:,} of {count:,}; lost {count - delivered} (expected 0); "
        f"duplicated {duplicated} (expected ≤ {in_flight}, the deliveries sending at the kill)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--kill-after", type=float, default=0.3, help="fraction arrived before the kill")
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    redis = RedisServer().start()
    try:
        with tempfile.TemporaryDirectory() as tmp, DevDatabase(max_heap="1g") as database:
            path = Path(tmp) / "configuration.json"
            path.write_text(json.dumps(BENCH_CONFIG))
            environ = {
                "CONFIGURATION_PATH": str(path),
                "MONGODB_URL": database.url,
                "MONGODB_DATABASE": "tidings_kill_bench",
                "REDIS_URL": redis.url,
                "SMTP_HOST": "127.0.0.1",
                "SMTP_PORT": str(free_port()),
                "TIDINGS_AUTO_MIGRATE": "1",
                "TIDINGS_API_AUTH": "off",  # the figures are not about API keys
            }
            asyncio.run(run(environ, args.count, args.kill_after, args.threads))
    finally:
        redis.stop()


if __name__ == "__main__":
    main()
