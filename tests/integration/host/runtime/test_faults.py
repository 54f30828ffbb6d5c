"""Faults survived by real ``tidings worker`` processes: a worker killed, the database and Redis restarted.

Each test runs the whole chain at a size CI affords: ``POST /send`` through the app (in this process),
fan-out and delivery in ``tidings worker`` child processes on their own Redis, and an SMTP sink
(tests.fakes.smtp) that records every mail it accepts, by recipient, with its Message-ID
(tests.support.worker_processes.MailLedger). The fault comes mid-run, while mails are arriving; the
test then waits until the database says every delivery is settled, stops the workers cleanly (so
nothing is still on the wire), and counts at the sink: none lost, none sent twice that the database had
recorded as sent, and a second copy only of what was in flight when the fault came.

What brings the work back (README "Outbox and recovery"): deliveries left ``sending`` are handed out
again by the recovery sweep once ``sendingLeaseSeconds`` (5 s here) pass; broker messages lost with a
worker or with Redis, by the sweep's pass over deliveries ``queued`` longer than ``enqueueLeaseSeconds``
(6 s here); batches the broker refused, from the outbox.

Marked ``faults``: ``./scripts/test -m "not faults"`` leaves them out.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis as redis_client
from litestar.testing import AsyncTestClient
from pymongo import AsyncMongoClient

from host.api.app import create_app
from host.runtime.actors import declare_actors
from host.runtime.broker import create_broker
from host.runtime.lanes import queue_name
from host.settings import LANES, load_settings
from host.storage.devdb import DevDatabase
from tests.fakes.smtp import SmtpSink
from tests.services import RedisServer, free_port
from tests.support.waiting import eventually
from tests.support.worker_processes import (
    MAIL_CLUSTER,
    MAIL_CONFIG,
    MailLedger,
    WorkerProcesses,
    mail_users,
    wait_for_workers,
    worker_environ,
)

pytestmark = pytest.mark.faults

#: deliveries per test: enough for the fault to land mid-run, few enough for CI
COUNT = 600
SETTLE_SECONDS = 90.0


def address(i: int) -> str:
    return f"user{i}@example.test"


@dataclass
class Run:
    """One test's Tidings: the app's client, the database, the sink's ledger, the worker environment."""

    client: AsyncTestClient[Any]
    db: Any
    ledger: MailLedger
    environ: dict[str, str]
    output: Path

    async def settled(self) -> bool:
        """Whether the database has nothing left to do: no delivery queued or sending, no fan-out open."""
        try:
            open_ = await self.db["deliveries"].count_documents({"status": {"$in": ["queued", "sending"]}})
            expanding = await self.db["dispatches"].count_documents({"state": "expanding"})
        except Exception:  # the database may still be coming back: look again
            return False
        return not open_ and not expanding

    async def statuses(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        async for doc in self.db["deliveries"].find({}, {"status": 1}):
            counts[doc["status"]] = counts.get(doc["status"], 0) + 1
        return counts

    async def sent_addresses(self) -> set[str]:
        """The addresses whose delivery the database has recorded as sent."""
        return {
            doc["address"] async for doc in self.db["deliveries"].find({"status": "sent"}, {"address": 1})
        }

    def workers(self, processes: int, threads: int = 4) -> WorkerProcesses:
        return WorkerProcesses(self.environ, processes, threads, output=self.output)


@asynccontextmanager
async def tidings(tmp: Path, mongodb_url: str, redis: RedisServer, database: str) -> AsyncIterator[Run]:
    """The app in this process and an SMTP sink recording arrivals; the workers are the test's to start."""
    config = tmp / "configuration.json"
    config.write_text(json.dumps(MAIL_CONFIG))
    ledger = MailLedger()
    # aiosmtpd logs every command at INFO: hundreds of mails would go through the test's log capture
    mail_log = logging.getLogger("mail.log")
    level = mail_log.level
    mail_log.setLevel(logging.WARNING)
    sink = SmtpSink(on_message=ledger).start()
    environ = worker_environ(
        config, mongodb_url, database, redis.url, SMTP_HOST=sink.host, SMTP_PORT=str(sink.port)
    )
    # the app as `tidings api` builds it; key checks off (the figures here are not about API keys)
    settings = load_settings({**environ, "TIDINGS_API_AUTH": "off"})
    broker = create_broker(redis.url)
    actors = declare_actors(broker, settings, sweep_interval=None)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_url, tz_aware=True)
    try:
        async with AsyncTestClient(create_app(actors), timeout=60) as client:
            yield Run(client, mongo[database], ledger, environ, tmp / "workers.log")
    finally:
        broker.close()
        sink.stop()
        mail_log.setLevel(level)
        await mongo.drop_database(database)
        await mongo.close()


def assert_delivered(run: Run, expected: set[str], *, in_flight: set[str], recorded: set[str]) -> None:
    """At the sink: every expected address at least once, nothing else; a second copy only in flight."""
    counts = run.ledger.snapshot()
    lost = expected - set(counts)
    assert not lost, f"{len(lost)} lost, e.g. {sorted(lost)[:5]}"
    assert set(counts) <= expected, f"mail to addresses never sent to: {sorted(set(counts) - expected)[:5]}"
    twice = {recipient for recipient, n in counts.items() if n > 1}
    assert max(counts.values()) <= 2, {r: run.ledger.message_ids[r] for r in twice if counts[r] > 2}
    assert not twice & recorded, f"sent again after being recorded as sent: {sorted(twice & recorded)[:5]}"
    assert twice <= in_flight, f"duplicated but not in flight: {sorted(twice - in_flight)[:5]}"


def queued_messages(redis_url: str) -> int:
    """Messages waiting in the broker's e-mail queues, every lane's (dramatiq keeps each as a Redis list)."""
    client = redis_client.Redis.from_url(redis_url)
    try:
        return sum(int(client.llen(f"dramatiq:{queue_name('email', lane)}")) for lane in LANES)
    finally:
        client.close()


async def sending_claims(run: Run) -> dict[int, set[str]]:
    """The deliveries each worker process (by pid) has claimed and not finished."""
    claims: dict[int, set[str]] = {}
    async for claim in run.db["attempts"].find({"outcome": "sending"}, {"worker": 1, "delivery_id": 1}):
        pid = int(str(claim["worker"]).rpartition(":")[2])
        claims.setdefault(pid, set()).add(claim["delivery_id"])
    return claims


async def send_cluster(run: Run) -> str:
    response = await run.client.post(
        "/send",
        json={
            "clusters": [MAIL_CLUSTER],
            "channels": ["email"],
            "messageTitle": "Hello {{user.name}}",
            "messageContent": "Dear {{user.name}}, this one must arrive exactly once.",
        },
    )
    assert response.status_code == 200, response.text
    dispatch_id: str = response.json()["dispatchId"]
    return dispatch_id


async def arrivals(run: Run, at_least: int, what: str, *watch: WorkerProcesses) -> None:
    def arrived() -> int:
        for workers in watch:
            assert workers.exited() is None, f"tidings worker exited: {run.output.read_text()[-3000:]}"
        return run.ledger.arrived

    await eventually(arrived, until=lambda n: n >= at_least, timeout=SETTLE_SECONDS, what=what)


async def stop(*workers: WorkerProcesses) -> None:
    """Stop them cleanly, side by side: whatever they were sending is on the sink once they have exited."""
    await asyncio.gather(*(asyncio.to_thread(w.stop) for w in workers))


async def settle(run: Run) -> None:
    await eventually(run.settled, timeout=SETTLE_SECONDS, interval=0.5, what="every delivery settled")


@pytest.fixture
async def redis(tmp_path: Path) -> AsyncIterator[RedisServer]:
    """A Redis of the test's own: its queues are the test's only, and it may be killed."""
    server = await asyncio.to_thread(RedisServer(workdir=tmp_path).start)
    yield server
    await asyncio.to_thread(server.stop)


async def test_a_worker_killed_mid_batch_loses_nothing_and_repeats_only_what_was_in_flight(
    tmp_path: Path, devdb: DevDatabase, redis: RedisServer, unique: Callable[[str], str]
) -> None:
    async with tidings(tmp_path, devdb.url, redis, unique("faults-kill").replace("-", "_")) as run:
        for batch in mail_users(COUNT):
            await run.db["users"].insert_many(batch)
        first, second = run.workers(1), run.workers(1)
        since = time.time()
        first.start(), second.start()
        try:
            await asyncio.to_thread(wait_for_workers, redis.url, 2, since=since, watch=(first, second))
            await send_cluster(run)
            await arrivals(run, COUNT // 4, "a quarter of the mails", first, second)

            # kill -9 a worker process mid-batch: one holding claims it has not finished
            busy = await eventually(
                lambda: sending_claims(run), timeout=SETTLE_SECONDS, what="a worker process mid-batch"
            )
            victim = next(w for w in (first, second) if set(w.children()) & set(busy))
            killed = victim.kill_one()
            # what it had claimed and not recorded: its attempts and their deliveries still "sending"
            claimed = (await sending_claims(run)).get(killed, set())
            unfinished = (
                await run.db["deliveries"]
                .find({"_id": {"$in": list(claimed)}, "status": "sending"})
                .to_list(None)
            )
            mine = {doc["_id"] for doc in unfinished}
            in_flight = {doc["address"] for doc in unfinished}
            assert in_flight, "the batch ended before the kill: nothing was in flight"
            recorded = await run.sent_addresses()
            assert len(recorded) < COUNT, "the kill came after the run"

            victim.start()  # as an operator (or Kubernetes) would
            await settle(run)
        finally:
            await stop(first, second)
        assert await run.statuses() == {"sent": COUNT}
        assert_delivered(run, {address(i) for i in range(COUNT)}, in_flight=in_flight, recorded=recorded)
        # the in-flight ones went out again under a second attempt, taken by another process
        resent = await run.db["attempts"].count_documents({"_id": {"$in": [f"{d}:2" for d in mine]}})
        assert resent == len(mine)


async def test_the_database_stopped_and_restarted_mid_run_loses_nothing(
    tmp_path: Path, redis: RedisServer
) -> None:
    """Requests keep coming while the database is down: what was answered 200 arrives, nothing twice
    that had been recorded as sent, and a request refused meanwhile (503) sends nothing."""
    port, data_file = free_port(), tmp_path / "tidings.h2"
    database = DevDatabase(port=port, data_file=data_file, max_heap="512m")
    await asyncio.to_thread(database.start)
    requests, per_request = 30, COUNT // 30
    try:
        async with tidings(tmp_path, database.url, redis, "tidings_faults_db") as run:
            await run.db["users"].insert_many(
                [{"fiscalCode": f"R{i:05d}", "mail": address(i)} for i in range(COUNT)]
            )
            workers = run.workers(2)
            since = time.time()
            workers.start()
            accepted: set[str] = set()
            refused: set[str] = set()
            try:
                await asyncio.to_thread(wait_for_workers, redis.url, 2, since=since, watch=(workers,))
                recorded: set[str] = set()
                for n in range(requests):
                    if n == requests // 3:
                        await arrivals(run, len(accepted) // 3, "mails of the first requests", workers)
                        recorded = await run.sent_addresses()
                        # the database process ends (every connection drops), then starts again on the
                        # same port and file; SIGTERM, not kill -9: the development database's H2 store
                        # commits about once a second, so a kill -9 loses the last second of writes it
                        # had acknowledged, which no client could survive (MongoDB journals them)
                        await asyncio.to_thread(database.stop)
                        database = DevDatabase(port=port, data_file=data_file, max_heap="512m")
                        # a thread, not a task: the test client's requests block this loop meanwhile
                        restarting = threading.Thread(target=database.start)
                        restarting.start()
                    ids = range(n * per_request, (n + 1) * per_request)
                    answer = await run.client.post(
                        "/send",
                        json={
                            "channels": ["email"],
                            "recipients": [f"R{i:05d}" for i in ids],
                            "messageTitle": "Hi",
                            "messageContent": "Hello",
                        },
                    )
                    assert answer.status_code in (200, 503), answer.text
                    (accepted if answer.status_code == 200 else refused).update(address(i) for i in ids)
                await asyncio.to_thread(restarting.join)
                await settle(run)
            finally:
                await stop(workers)
            assert len(accepted) >= COUNT // 2, f"only {len(accepted)} accepted"
            statuses = await run.statuses()
            assert statuses == {"sent": len(accepted)}, statuses
            in_flight = accepted - recorded  # anything not yet recorded when the database died
            assert_delivered(run, accepted, in_flight=in_flight, recorded=recorded)
            assert not refused & set(run.ledger.snapshot()), "a refused request sent mail"
    finally:
        await asyncio.to_thread(database.stop)


async def test_redis_killed_and_restarted_mid_run_loses_nothing(
    tmp_path: Path, devdb: DevDatabase, redis: RedisServer, unique: Callable[[str], str]
) -> None:
    """Redis keeps nothing across the restart (no persistence): every queued message is gone, and the
    recovery sweep hands the deliveries out again from the database."""
    async with tidings(tmp_path, devdb.url, redis, unique("faults-redis").replace("-", "_")) as run:
        for batch in mail_users(COUNT):
            await run.db["users"].insert_many(batch)
        # one thread each: a worker prefetches two messages per thread, so most batches wait in Redis
        workers = run.workers(2, threads=1)
        since = time.time()
        workers.start()
        try:
            await asyncio.to_thread(wait_for_workers, redis.url, 2, since=since, watch=(workers,))
            await send_cluster(run)
            await arrivals(run, COUNT // 4, "a quarter of the mails", workers)
            recorded = await run.sent_addresses()
            unsent = {
                doc["address"]
                async for doc in run.db["deliveries"].find({"status": {"$ne": "sent"}}, {"address": 1})
            }
            waiting = await asyncio.to_thread(queued_messages, redis.url)
            await asyncio.to_thread(redis.kill)
            assert waiting, "no message was waiting in Redis when it was killed"
            await asyncio.to_thread(redis.start)  # the same port, empty
            await settle(run)
            assert workers.exited() is None, "tidings worker did not survive the Redis restart"
        finally:
            await stop(workers)
        assert await run.statuses() == {"sent": COUNT}
        assert len(recorded) < COUNT, "Redis was killed after the run"
        assert_delivered(run, {address(i) for i in range(COUNT)}, in_flight=unsent, recorded=recorded)
