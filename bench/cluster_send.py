"""Timing one dispatch to a cluster end to end, as the e-mail and SMS throughput benchmarks both do.

Everything runs as in production, each in a process of its own: ``tidings api`` (API keys on: the
bench creates one), ``tidings worker --processes N --threads M`` (fan-out and delivery), Redis, the
development database, and the provider's peer. The time is taken from the request to the last delivery
marked sent, after an untimed warm-up dispatch (a fresh development-database JVM runs interpreted until
its JIT compiles, 3-5x the CPU per operation; a running service is warm), sent again while the
database's JIT compiler still takes a large share of its CPU (bench.mail_stack.warm_up_rounds). CPU per
message is read for each process group from /proc (bench.mail_stack.CpuMeter): database, workers, API,
Redis, the peer, and this process (which only sends the request and polls).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from bench.baselines import Figure
from bench.mail_stack import ApiProcess, CpuMeter, Workers, warm_up_rounds
from host.access.api_keys import ApiKeys
from tests.support.worker_processes import wait_for_workers, worker_environ

__all__ = ["UsersOf", "add_stack_arguments", "stack_environ", "timed_cluster_send"]

#: ``users(count, cluster, first)``: insert batches of ``count`` users of ``cluster`` numbered from ``first``
UsersOf = Callable[[int, str, int], Iterator[list[dict[str, Any]]]]


def add_stack_arguments(parser: argparse.ArgumentParser, *, warmup: int, unit: str) -> None:
    """The options every end-to-end throughput benchmark takes."""
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=warmup, help=f"{unit} sent first, not timed")


def stack_environ(
    folder: Path, config: dict[str, Any], mongodb_url: str, redis_url: str, database: str, **extra: str
) -> dict[str, str]:
    """The environment of ``tidings api`` and ``tidings worker``: ``config`` as the configuration file, the
    secret key that signs unsubscribe links, migrations applied at start (what the commands accept)."""
    path = folder / "configuration.json"
    path.write_text(json.dumps(config))
    return worker_environ(path, mongodb_url, database, redis_url, **extra)


async def timed_cluster_send(
    environ: dict[str, str],
    *,
    count: int,
    warmup: int,
    clusters: tuple[str, str],
    users: UsersOf,
    body: dict[str, Any],
    workers: Workers,
    pids: dict[str, int | None],
    unit: str,
    arrived: Callable[[], int] | None = None,
) -> Figure:
    """``count`` messages through Tidings, as a :class:`~bench.baselines.Figure`; ``clusters`` is (timed,
    warm-up).

    ``arrived`` counts what reached the provider: when given, it is waited on before the (scanning)
    count of deliveries marked sent.
    """
    cluster, warmup_cluster = clusters
    mongo: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(environ["MONGODB_URL"], tz_aware=True)
    db = mongo[environ["MONGODB_DATABASE"]]
    for batch in users(count, cluster, 0):
        await db["users"].insert_many(batch)
    for batch in users(warmup, warmup_cluster, count):
        await db["users"].insert_many(batch)
    api = await asyncio.to_thread(ApiProcess(environ).start)  # it applies the migrations first
    key = await ApiKeys(db).create("bench", ["send"], created_by="bench")
    since = time.time()
    workers.start()

    async def sent() -> int:
        return await db["deliveries"].count_documents({"status": "sent"})

    try:
        await asyncio.to_thread(
            wait_for_workers, environ["REDIS_URL"], workers.processes, since=since, watch=(workers,)
        )
        async with httpx.AsyncClient(
            base_url=api.url, headers={"Authorization": f"Bearer {key.key}"}, timeout=60
        ) as client:

            async def send(to: str, messages: int) -> None:
                """POST /send and return once every message is marked sent."""
                arrived_before, sent_before = (arrived() if arrived else 0), await sent()
                response = await client.post("/send", json={**body, "clusters": [to]})
                assert response.status_code == 200, response.text
                if arrived is not None:
                    while arrived() - arrived_before < messages:
                        await asyncio.sleep(0.01)
                # each count scans the deliveries (~10 ms of database CPU): poll gently without a counter
                while await sent() - sent_before < messages:
                    await asyncio.sleep(0.01 if arrived else 0.05)

            if warmup:
                for _ in warm_up_rounds(pids.get("database"), f"{warmup:,} {unit}"):
                    await send(warmup_cluster, warmup)
            meter = CpuMeter({**pids, "workers": workers.pid, "API": api.pid}).start()
            started = time.perf_counter()
            await send(cluster, count)
            elapsed = time.perf_counter() - started
            meter.stop()
            failed = await db["deliveries"].count_documents({"status": "failed"})
            print(f"tidings: {count:,} {unit} sent, {failed} failed in {elapsed:.2f} s")
            label = f"tidings end to end ({workers.processes} processes × {workers.threads} threads)"
            return Figure(label, count / elapsed, count, meter)
    finally:
        workers.stop()
        api.stop()
        await mongo.close()
