"""A worker process killed mid-run: every e-mail still arrives, and few arrive twice.

    .venv/bin/python -m bench.kill_worker [--count 10000] [--kill-after 0.3] [--threads 8]

Two ``tidings worker`` supervisors with one worker process each, a Redis broker, the development
database, and a counting SMTP sink (tests.fakes.smtp on its own thread; tests.support.worker_processes'
MailLedger counts recipients). ``POST /send`` to a cluster of ``--count`` users; once ``--kill-after`` of
them have arrived, one worker process gets ``kill -9`` (its supervisor then exits) and is started again.
The run waits until every delivery is settled, stops the workers, then prints delivered, lost (expected 0)
and duplicated (expected no more than the deliveries that were ``sending`` at the kill). The same fault
at CI size is a test: tests/integration/host/runtime/test_faults.py.

What brings the killed worker's work back: deliveries left ``sending`` are handed out again by the
recovery sweep once ``sendingLeaseSeconds`` pass; its prefetched broker messages by dramatiq's Redis
broker after its heartbeat timeout (60 s, not configurable from the environment), or sooner by the
sweep's pass over deliveries ``queued`` longer than ``enqueueLeaseSeconds`` (short here).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import dramatiq
from litestar.testing import AsyncTestClient
from pymongo import AsyncMongoClient

from bench.mail_stack import CLUSTER, CONFIG, user_batches
from host.api.app import create_app
from host.runtime.actors import declare_actors
from host.runtime.broker import create_broker
from host.settings import load_settings
from host.storage.devdb import DevDatabase
from tests.fakes.smtp import SmtpSink
from tests.services import RedisServer, free_port
from tests.support.worker_processes import MailLedger, WorkerProcesses, wait_for_workers, worker_environ

BENCH_CONFIG: dict[str, Any] = {
    **CONFIG,
    "delivery": {**CONFIG["delivery"], "sendingLeaseSeconds": 5, "enqueueLeaseSeconds": 15},
}


async def run(environ: dict[str, str], count: int, kill_after: float, threads: int) -> None:
    settings = load_settings({**environ, "TIDINGS_API_AUTH": "off"})  # the figures are not about API keys
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(environ["MONGODB_URL"], tz_aware=True)
    db = mongo[environ["MONGODB_DATABASE"]]
    for batch in user_batches(count):
        await db["users"].insert_many(batch)
    counter = MailLedger()
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command at INFO
    broker = create_broker(settings.env.redis_url)
    dramatiq.set_broker(broker)
    actors = declare_actors(broker, settings, sweep_interval=None)
    since = time.time()
    first = WorkerProcesses(environ, 1, threads).start()
    second = WorkerProcesses(environ, 1, threads).start()
    sink = SmtpSink(host="127.0.0.1", port=int(environ["SMTP_PORT"]), on_message=counter)
    try:
        with sink:
            async with AsyncTestClient(create_app(actors)) as client:
                await asyncio.to_thread(
                    wait_for_workers, environ["REDIS_URL"], 2, since=since, watch=(first, second)
                )
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
                killed = first.kill_one()
                in_flight = await db["deliveries"].count_documents({"status": "sending"})
                arrived_at_kill = counter.arrived
                print(f"killed worker pid {killed} after {arrived_at_kill:,} arrivals; {in_flight} sending")
                await asyncio.sleep(1)
                first.start()
                while await db["deliveries"].count_documents({"status": {"$in": ["queued", "sending"]}}):
                    await asyncio.sleep(0.5)
                elapsed = time.perf_counter() - started
                first.stop()  # once they have exited, nothing is still on the wire
                second.stop()
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
            environ = worker_environ(
                path,
                database.url,
                "tidings_kill_bench",
                redis.url,
                SMTP_HOST="127.0.0.1",
                SMTP_PORT=str(free_port()),
            )
            asyncio.run(run(environ, args.count, args.kill_after, args.threads))
    finally:
        redis.stop()


if __name__ == "__main__":
    main()
