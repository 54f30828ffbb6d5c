"""Fan-out: POST /send to a cluster, its expansion through the Redis broker against a bare ``insert_many``.

    .venv/bin/python -m bench.fanout [--users 100000] [--batch 5000] [--writes 3] [--rounds 3]

The development database (memory backend) holds a cluster of ``--users`` users. ``POST /send`` goes
through the real app (Litestar's test client, API keys on, a Redis broker behind it); the expansion then
runs the fan-out actor's body (``DispatchService.expand``) on this loop, handing its batches to the real
Redis broker as the fan-out actor in ``tidings worker`` does (no worker takes them: the run counts the
delivery ids queued in Redis, then empties it). The baseline inserts the same delivery documents with a
bare ``insert_many`` into a collection of the same database with the same indexes, as many batches at
once as the expansion writes (``--writes``), in the same run: each round measures it before and after one
send and expansion (each timed phase starting with the database's heap collected, ``jcmd GC.run``), and
the median ratio of the rounds is printed (other processes share these two cores, so a single round can
be off either way). CPU per delivery is printed for the database, Redis and this process (the expansion
runs in it), for the expansion and for the baseline. Targets (issue 15): expansion ≥ 70% of the baseline
rate; answer ≤ 1 s, RSS growth ≤ 50 MB at 1,000,000 users.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dramatiq
import redis
import uvloop
from litestar.testing import AsyncTestClient

from bench.collector_time import CollectorTime
from bench.mail_stack import CpuMeter, check_as_tidings_worker, collect_database_heap
from host.access.api_keys import ApiKeys
from host.api.app import create_app
from host.audience.planning import delivery_id
from host.dispatch.expansion import FANOUT_BATCH
from host.runtime.actors import declare_actors
from host.runtime.broker import create_broker
from host.runtime.collector import YOUNG_THRESHOLD, settle_collector
from host.runtime.lanes import queue_name
from host.runtime.wiring import Runtime
from host.settings import LANES, Settings, load_settings
from host.storage.devdb import DevDatabase
from host.storage.documents import utcnow
from tests.services import RedisServer
from tests.support.worker_processes import worker_environ

CONFIG: dict[str, Any] = {
    "activeChannels": ["email"],
    "sender": {"email": "noreply@tidings.test"},
    "userFields": {"id": "fiscalCode", "emailAddress": "mail", "clusters": "groups"},
}
CLUSTER = "bench-fanout"
_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    """This process's resident set size in MB."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * _PAGE / 1e6


def user_batches(count: int, size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, count, size):
        yield [
            {"fiscalCode": f"U{i:08d}", "mail": f"user{i}@example.test", "groups": [CLUSTER]}
            for i in range(start, min(start + size, count))
        ]


def delivery_batches(dispatch_id: str, count: int, size: int) -> Iterator[list[dict[str, Any]]]:
    """The documents the expansion writes, built the same way (ids, fields, timestamps)."""
    for start in range(0, count, size):
        now = utcnow()
        yield [
            {
                "_id": delivery_id(dispatch_id, "email", f"U{i:08d}"),
                "dispatch_id": dispatch_id,
                "channel": "email",
                "user_id": f"U{i:08d}",
                "address": f"user{i}@example.test",
                "status": "queued",
                "priority": "bulk",
                "attempts": 0,
                "created_at": now,
                "updated_at": now,
            }
            for i in range(start, min(start + size, count))
        ]


def queued_in_redis(redis_url: str) -> tuple[int, int]:
    """(messages, delivery ids) waiting in the e-mail queues of the Redis broker, every lane's; then
    empties Redis."""
    client = redis.Redis.from_url(redis_url)
    try:
        bodies = [
            body for lane in LANES for body in client.hvals(f"dramatiq:{queue_name('email', lane)}.msgs")
        ]
        ids = sum(len(json.loads(body)["args"][0]) for body in bodies)
        client.flushdb()
        return len(bodies), ids
    finally:
        client.close()


async def fill_users(runtime: Runtime, count: int) -> None:
    started = time.perf_counter()
    for batch in user_batches(count, 5000):
        await runtime.store.users.insert_many(batch, ordered=False)
    await runtime.store.ensure_user_indexes()
    print(f"users: {count:,} inserted in {time.perf_counter() - started:.1f} s")


async def baseline(runtime: Runtime, count: int, batch: int, writes: int, meter: CpuMeter) -> float:
    """Bare insert_many of the same delivery documents (built before the timed part), in docs/s, with as
    many batches in flight as the expansion writes at once (``--writes``: the same parallelism)."""
    target = runtime.store.db["bench_deliveries_baseline"]
    await target.drop()
    for name, spec in (await runtime.store.deliveries.index_information()).items():
        if name != "_id_":
            await target.create_index(spec["key"])
    batches = list(delivery_batches("baseline0000000000000000", count, batch))
    gate = asyncio.Semaphore(writes)

    async def insert(docs: list[dict[str, Any]]) -> None:
        async with gate:
            await target.insert_many(docs, ordered=False)

    collect_database_heap(meter.pids.get("database"))
    meter.start()
    started = time.perf_counter()
    await asyncio.gather(*(insert(docs) for docs in batches))
    elapsed = time.perf_counter() - started
    meter.stop()
    await target.drop()
    return count / elapsed


async def sample_rss(peak: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], rss_mb())
        await asyncio.sleep(0.05)


def _profiler() -> Any:
    from pyinstrument import Profiler

    profiler = Profiler(async_mode="enabled")
    profiler.start()
    return profiler


async def expand_once(
    runtime: Runtime,
    client: AsyncTestClient[Any],
    redis_url: str,
    users: int,
    profile: bool,
    meter: CpuMeter,
    collector: CollectorTime,
) -> tuple[float, float, float, int]:
    """One POST /send and its expansion: (answer seconds, expansion docs/s, RSS growth MB, messages)."""
    body = {"clusters": [CLUSTER], "channels": ["email"], "messageTitle": "Hi", "messageContent": "Hey"}
    collect_database_heap(meter.pids.get("database"))
    rss_before = rss_mb()
    started = time.perf_counter()
    response = await client.post("/send", json=body)
    answer = time.perf_counter() - started
    assert response.status_code == 200, response.text
    dispatch_id = response.json()["dispatchId"]
    peak = [rss_before]
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_rss(peak, stop))
    profiler = _profiler() if profile else None
    meter.start()
    collector.start()
    started = time.perf_counter()
    await runtime.dispatch.expand(dispatch_id)
    expansion = time.perf_counter() - started
    collector.stop()
    meter.stop()
    if profiler is not None:
        profiler.stop()
        profiler.print(show_all=False)
    stop.set()
    await sampler
    dispatch = await runtime.store.dispatches.find_one({"_id": dispatch_id})
    assert dispatch is not None and dispatch["state"] == "expanded", dispatch
    written = await runtime.store.deliveries.count_documents({"dispatch_id": dispatch_id})
    messages, queued = queued_in_redis(redis_url)
    assert written == users == queued, (written, users, queued)
    return answer, users / expansion, peak[0] - rss_before, messages


async def fresh_deliveries(runtime: Runtime) -> None:
    """Empty the deliveries collection between rounds, keeping its indexes, so every round is alike."""
    indexes = await runtime.store.deliveries.index_information()
    await runtime.store.deliveries.drop()
    for name, spec in indexes.items():
        if name != "_id_":
            await runtime.store.deliveries.create_index(spec["key"], unique=spec.get("unique", False))


async def run(settings: Settings, args: argparse.Namespace, pids: dict[str, int | None]) -> None:
    import host.dispatch.expansion

    host.dispatch.expansion.FANOUT_BATCH = args.batch
    host.dispatch.expansion.FANOUT_WRITES = args.writes
    redis_url = settings.env.redis_url
    assert redis_url
    broker = create_broker(redis_url)
    dramatiq.set_broker(broker)
    actors = declare_actors(broker, settings, sweep_interval=None)
    # the fan-out actor's Runtime: its batches go to the Redis broker, as in `tidings worker`
    runtime = Runtime(
        settings, actors.enqueue_delivery, lambda _dispatch_id: None, enqueue_many=actors.enqueue_deliveries
    )
    await fill_users(runtime, args.users)
    key = await ApiKeys(runtime.store.db).create("bench", ["send"], created_by="bench")
    ratios: list[float] = []
    async with AsyncTestClient(create_app(actors)) as client:
        client.headers["Authorization"] = f"Bearer {key.key}"
        body = {"clusters": [CLUSTER], "channels": ["email"], "messageTitle": "Hi", "messageContent": "Hey"}
        await client.post("/send", json=body)  # warm-up: first request pays route and schema setup
        queued_in_redis(redis_url)  # its deliveries stay unexpanded; nothing of it is queued
        settle_collector()  # as a worker's boot does (host.runtime.actors)
        if args.young_threshold != YOUNG_THRESHOLD:  # another setting, to compare
            gc.set_threshold(args.young_threshold, *gc.get_threshold()[1:])
        for round_ in range(1, args.rounds + 1):
            await fresh_deliveries(runtime)
            bare_meter, ours_meter, collector = CpuMeter(pids), CpuMeter(pids), CollectorTime()
            bare_before = (
                0.0
                if args.skip_baseline
                else await baseline(runtime, args.users, args.batch, args.writes, bare_meter)
            )
            answer, rate, growth, messages = await expand_once(
                runtime, client, redis_url, args.users, args.profile, ours_meter, collector
            )
            print(
                f"round {round_}: POST /send answered in {answer * 1000:.1f} ms (target ≤ 1000 ms); "
                f"expansion {args.users:,} deliveries at {rate:,.0f}/s, queued in Redis as {messages:,} "
                f"messages; RSS growth {growth:.0f} MB"
            )
            print(f"  expansion: {ours_meter.summary(args.users, 'delivery')}")
            print(f"  this process's {collector.summary(args.users, 'delivery')}")
            if not args.skip_baseline:
                bare_after = await baseline(runtime, args.users, args.batch, args.writes, CpuMeter(pids))
                bare = (bare_before + bare_after) / 2
                ratios.append(rate / bare)
                print(
                    f"  bare insert_many: {bare_before:,.0f} docs/s before, {bare_after:,.0f} after, "
                    f"mean {bare:,.0f}; expansion/bare = {rate / bare:.0%} (target ≥ 70%)"
                )
                print(f"  bare insert_many (before): {bare_meter.summary(args.users, 'document')}")
    if ratios:
        print(f"median expansion/bare over {len(ratios)} rounds = {statistics.median(ratios):.0%}")
    await runtime.close()
    broker.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=FANOUT_BATCH, help="fan-out batch size (FANOUT_BATCH)")
    parser.add_argument("--writes", type=int, default=3, help="batches written at once (FANOUT_WRITES)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of baseline, send, baseline")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--profile", action="store_true", help="pyinstrument the expansion")
    parser.add_argument(
        "--young-threshold",
        type=int,
        default=YOUNG_THRESHOLD,
        help=f"the collector's youngest-generation threshold (a worker's: {YOUNG_THRESHOLD}; CPython's: 700)",
    )
    parser.add_argument(
        "--heap",
        help="the development database's Java heap (-Xmx); by default 6 GB a million users, at least 2 GB "
        "(1,000,000 users and their deliveries filled 2 GB: the server collected for seconds on end "
        "until the driver gave up on its connections)",
    )
    args = parser.parse_args()
    heap = args.heap or f"{max(2, math.ceil(args.users * 6 / 1_000_000))}g"
    server = RedisServer().start()
    try:
        with tempfile.TemporaryDirectory() as tmp, DevDatabase(max_heap=heap) as database:
            path = Path(tmp) / "configuration.json"
            path.write_text(json.dumps(CONFIG))
            # no mail is sent (no worker runs), but the configuration is one tidings worker accepts
            environ = worker_environ(
                path, database.url, "tidings_bench", server.url, SMTP_HOST="127.0.0.1", SMTP_PORT="25"
            )
            check_as_tidings_worker(environ)
            pids = {"database": database.pid, "Redis": server.pid}
            uvloop.run(run(load_settings(environ), args, pids))  # the loop of `tidings worker`
    finally:
        server.stop()


if __name__ == "__main__":
    main()
