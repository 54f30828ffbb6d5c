"""Timing one dispatch to a cluster end to end, as the e-mail and SMS throughput benchmarks both do.

The app runs in this process (Litestar's test client, a Redis broker); fan-out and delivery run in
``dramatiq host.runtime.worker_app`` subprocesses; the time is taken from the request to the last delivery
marked sent, after an untimed warm-up dispatch (a fresh development-database JVM runs interpreted until
its JIT compiles, 3-5x the CPU per operation; a running service is warm).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dramatiq
from litestar.testing import AsyncTestClient
from pymongo import AsyncMongoClient

from bench.mail_stack import CpuMeter, Workers
from host.access.api_keys import ApiKeys
from host.api.app import create_app
from host.runtime.actors import declare_actors
from host.runtime.broker import create_broker
from host.settings import load_settings

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
    """The environment of the app and its worker subprocesses, with ``config`` as the configuration file."""
    path = folder / "configuration.json"
    path.write_text(json.dumps(config))
    return {
        "CONFIGURATION_PATH": str(path),
        "MONGODB_URL": mongodb_url,
        "MONGODB_DATABASE": database,
        "REDIS_URL": redis_url,
        "TIDINGS_AUTO_MIGRATE": "1",
        **extra,
    }


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
) -> float:
    """``count`` messages per second through Tidings; ``clusters`` is (timed, warm-up).

    ``arrived`` counts what reached the provider: when given, it is waited on before the (scanning)
    count of deliveries marked sent.
    """
    cluster, warmup_cluster = clusters
    settings = load_settings(environ)
    mongo: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(environ["MONGODB_URL"], tz_aware=True)
    db = mongo[environ["MONGODB_DATABASE"]]
    for batch in users(count, cluster, 0):
        await db["users"].insert_many(batch)
    for batch in users(warmup, warmup_cluster, count):
        await db["users"].insert_many(batch)
    key = await ApiKeys(db).create("bench", ["send"], created_by="bench")
    broker = create_broker(settings.env.redis_url)
    dramatiq.set_broker(broker)
    actors = declare_actors(broker, settings, sweep_interval=None)
    workers.start()

    async def sent() -> int:
        return await db["deliveries"].count_documents({"status": "sent"})

    try:
        async with AsyncTestClient(create_app(actors)) as client:

            async def send(to: str, messages: int) -> None:
                """POST /send and return once every message is marked sent."""
                arrived_before, sent_before = (arrived() if arrived else 0), await sent()
                response = await client.post(
                    "/send", headers={"Authorization": f"Bearer {key.key}"}, json={**body, "clusters": [to]}
                )
                assert response.status_code == 200, response.text
                if arrived is not None:
                    while arrived() - arrived_before < messages:
                        await asyncio.sleep(0.01)
                # each count scans the deliveries (~10 ms of database CPU): poll gently without a counter
                while await sent() - sent_before < messages:
                    await asyncio.sleep(0.01 if arrived else 0.05)

            await asyncio.sleep(3)  # let the worker processes boot
            if warmup:
                started = time.perf_counter()
                await send(warmup_cluster, warmup)
                print(f"warm-up: {warmup:,} {unit} in {time.perf_counter() - started:.2f} s (not counted)")
            meter = CpuMeter({**pids, "workers": workers.pid})
            meter.start()
            started = time.perf_counter()
            await send(cluster, count)
            elapsed = time.perf_counter() - started
            meter.stop()
            failed = await db["deliveries"].count_documents({"status": "failed"})
            print(
                f"tidings: {count:,} {unit} sent, {failed} failed in {elapsed:.2f} s; {meter.summary(count)}"
            )
            return count / elapsed
    finally:
        workers.stop()
        broker.close()
        await mongo.close()
