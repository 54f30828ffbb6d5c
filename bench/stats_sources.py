"""The Overview's sources compared: a 24-hour `$group` over the deliveries, or the per-minute counters.

    .venv/bin/python -m bench.stats_sources [--deliveries 100000] [--rounds 3]

On the development database (the Overview refreshes every few seconds, so what one refresh costs is
what counts), with ``--deliveries`` deliveries spread over the last 24 hours on two channels:

- **group**: ``$match`` on ``updated_at`` (the 24-hour window), ``$group`` by minute, channel and status
  (``$dateToString``; the development database has no ``$dateTrunc``), as the Overview could do with no
  collection of its own;
- **counters**: reading a day of ``delivery_minutes`` (host.delivery.minute_counts: one document per
  minute, channel and provider, written with each batch's results), one indexed field (``minute``);
- **counter write**: what the counters cost a batch of results (one unordered bulk upsert of ``$inc``);
- **queue**: queued deliveries by channel, oldest first (``status`` is indexed), with 1% queued.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import AsyncMongoClient, UpdateOne

from host.storage.devdb import DevDatabase

CHANNELS = ("email", "sms")
STATUSES = ("sent", "sent", "sent", "failed", "skipped")


def _deliveries(count: int, now: datetime) -> list[dict[str, Any]]:
    docs = []
    for index in range(count):
        at = now - timedelta(seconds=random.uniform(0, 86_400))
        queued = index % 100 == 0
        docs.append(
            {
                "_id": f"d:{index}",
                "dispatch_id": f"x{index // 1000}",
                "channel": CHANNELS[index % 2],
                "user_id": f"u{index}",
                "status": "queued" if queued else random.choice(STATUSES),
                "attempts": 1,
                "created_at": at,
                "updated_at": at,
                "provider": "smtp://127.0.0.1:25" if index % 2 == 0 else "twilio",
            }
        )
    return docs


def _minutes(now: datetime) -> list[dict[str, Any]]:
    """A day of counters as the recorder writes them: every minute, both channels, one provider each."""
    docs = []
    start = now.replace(second=0, microsecond=0) - timedelta(minutes=1439)
    for offset in range(1440):
        minute = start + timedelta(minutes=offset)
        for channel, provider in (("email", "smtp://127.0.0.1:25"), ("sms", "twilio")):
            docs.append(
                {
                    "_id": f"{minute:%Y-%m-%dT%H:%M}|{channel}|{provider}",
                    "minute": minute,
                    "channel": channel,
                    "provider": provider,
                    "sent": random.randint(0, 100),
                    "failed": random.randint(0, 3),
                    "retry": random.randint(0, 3),
                    "skipped": 0,
                }
            )
    return docs


async def _timed(rounds: int, run: Any) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(rounds):
        started = time.perf_counter()
        result = await run()
        best = min(best, time.perf_counter() - started)
    return best, result


async def main(count: int, rounds: int) -> None:
    with DevDatabase() as devdb:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(devdb.url, tz_aware=True)
        db = client["bench_stats"]
        now = datetime.now(UTC)
        await db.deliveries.create_index("status")
        await db.deliveries.create_index("updated_at")
        await db.delivery_minutes.create_index("minute")
        docs = _deliveries(count, now)
        for start in range(0, len(docs), 5000):
            await db.deliveries.insert_many(docs[start : start + 5000], ordered=False)
        await db.delivery_minutes.insert_many(_minutes(now), ordered=False)
        since = now - timedelta(hours=24)

        async def group() -> list[dict[str, Any]]:
            pipeline: list[dict[str, Any]] = [
                {"$match": {"updated_at": {"$gte": since}}},
                {
                    "$group": {
                        "_id": {
                            "minute": {"$dateToString": {"format": "%Y-%m-%dT%H:%M", "date": "$updated_at"}},
                            "channel": "$channel",
                            "status": "$status",
                        },
                        "count": {"$sum": 1},
                    }
                },
            ]
            return await (await db.deliveries.aggregate(pipeline)).to_list(None)

        async def counters() -> list[dict[str, Any]]:
            return await db.delivery_minutes.find({"minute": {"$gte": since}}).to_list(None)

        async def write() -> None:
            minute = now.replace(second=0, microsecond=0)
            await db.delivery_minutes.bulk_write(
                [
                    UpdateOne(
                        {"_id": f"{minute:%Y-%m-%dT%H:%M}|email|smtp://127.0.0.1:25"},
                        {"$inc": {"sent": 98, "failed": 2}, "$setOnInsert": {"minute": minute}},
                        upsert=True,
                    )
                ],
                ordered=False,
            )

        async def queue() -> list[dict[str, Any]]:
            pipeline: list[dict[str, Any]] = [
                {"$match": {"status": "queued"}},
                {"$group": {"_id": "$channel", "depth": {"$sum": 1}, "oldest": {"$min": "$updated_at"}}},
            ]
            return await (await db.deliveries.aggregate(pipeline)).to_list(None)

        async def queue_find() -> dict[str, int]:
            depth: dict[str, int] = {}
            cursor = db.deliveries.find({"status": "queued"}, {"channel": 1, "updated_at": 1})
            async for doc in cursor:
                depth[doc["channel"]] = depth.get(doc["channel"], 0) + 1
            return depth

        grouped_s, grouped = await _timed(rounds, group)
        counted_s, counted = await _timed(rounds, counters)
        write_s, _ = await _timed(rounds * 10, write)
        queue_s, queued = await _timed(rounds, queue)
        found_s, found = await _timed(rounds, queue_find)
        print(f"{count:,} deliveries over 24 h, best of {rounds}")
        print(
            f"  group: $match updated_at, $group by minute {grouped_s * 1000:8.1f} ms ({len(grouped)} rows)"
        )
        print(f"  counters: find minute >= 24 h ago        {counted_s * 1000:8.1f} ms ({len(counted)} docs)")
        print(f"  counter write per batch ($inc upserts)    {write_s * 1000:8.1f} ms")
        print(f"  queue: $match status queued, $group       {queue_s * 1000:8.1f} ms ({len(queued)} rows)")
        print(f"  queue: find status queued, counted here   {found_s * 1000:8.1f} ms ({found})")
        print(f"  group / counters: {grouped_s / counted_s:.0f}x")
        await client.drop_database("bench_stats")
        await client.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.deliveries, arguments.rounds))
