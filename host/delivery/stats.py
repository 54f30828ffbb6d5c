"""Delivery statistics for the Overview and ``GET /stats``: the last 24 hours, providers, queues.

- deliveries per minute by channel and outcome (``sent``, ``retry``, ``failed``, ``skipped``: what the
  workers recorded), from the per-minute counters (host.delivery.minute_counts);
- per provider: messages taken, failed, and the failure rate over the window;
- queue depth per channel and lane (the delivery's ``priority``; every channel has a ``normal`` row),
  the deliveries in flight, and the oldest queued delivery (queued the longest, by ``updated_at``).

The queues come from one aggregation of ``status`` in ``queued``/``sending`` (one indexed field),
kept :data:`QUEUE_TTL_SECONDS` so an Overview refreshed every few seconds by several staff costs one
pass per interval; on the development database it scans the deliveries (160 ms for 100,000, measured
by ``python -m bench.stats_sources``), on MongoDB it reads the index.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import msgspec

from host.delivery.minute_counts import MinuteCounts, minute_of
from host.storage.documents import utcnow
from host.storage.store import Store

__all__ = [
    "OUTCOMES",
    "QUEUE_TTL_SECONDS",
    "WINDOW",
    "DeliveryStats",
    "MinuteCount",
    "OldestQueued",
    "ProviderRate",
    "QueueDepth",
    "StatsService",
]

#: what the Overview covers
WINDOW = timedelta(hours=24)
#: the outcomes counted per minute, in the order they are drawn
OUTCOMES = ("sent", "retry", "failed", "skipped")
#: the queue depths are aggregated at most this often
QUEUE_TTL_SECONDS = 5.0


class MinuteCount(msgspec.Struct, rename="camel", kw_only=True, frozen=True):
    """How many deliveries of a channel ended an attempt with an outcome in one minute."""

    minute: datetime
    channel: str
    outcome: str
    count: int


class ProviderRate(msgspec.Struct, rename="camel", kw_only=True, frozen=True):
    """One provider over the window: messages it took (or refused for the message's sake) and failed."""

    channel: str
    provider: str
    ok: int
    failed: int
    failure_rate: float


class QueueDepth(msgspec.Struct, rename="camel", kw_only=True, frozen=True):
    """Deliveries waiting (``queued``) and in flight (``sending``) on one channel and lane."""

    channel: str
    lane: str | None
    queued: int
    sending: int
    oldest_queued_at: datetime | None


class OldestQueued(msgspec.Struct, rename="camel", kw_only=True, frozen=True):
    """The delivery queued the longest."""

    channel: str
    lane: str | None
    queued_at: datetime
    age_seconds: float


class DeliveryStats(msgspec.Struct, rename="camel", kw_only=True, frozen=True):
    """What ``GET /stats`` answers and the Overview draws."""

    generated_at: datetime
    since: datetime
    per_minute: list[MinuteCount]
    providers: list[ProviderRate]
    queues: list[QueueDepth]
    oldest_queued: OldestQueued | None


class StatsService:
    """The statistics of one store's deliveries, for the active channels."""

    def __init__(self, store: Store, channels: Iterable[str], queue_ttl: float = QUEUE_TTL_SECONDS) -> None:
        self._store = store
        self._channels = list(channels)
        self.minutes = MinuteCounts(store)
        self._queue_ttl = queue_ttl
        self._queues: tuple[float, list[QueueDepth]] | None = None

    async def snapshot(self, now: datetime | None = None) -> DeliveryStats:
        """The window ending now (or at ``now``): series, providers, queues."""
        now = now or utcnow()
        since = minute_of(now - WINDOW) + timedelta(minutes=1)
        counters = await self.minutes.since(since)
        per_minute = sorted(
            (
                MinuteCount(
                    minute=doc["minute"], channel=doc["channel"], outcome=outcome, count=int(doc[outcome])
                )
                for doc in counters
                if doc.get("provider") is None
                for outcome in OUTCOMES
                if doc.get(outcome)
            ),
            key=lambda point: (point.minute, point.channel, OUTCOMES.index(point.outcome)),
        )
        queues = await self._queue_depths()
        waiting = [q for q in queues if q.oldest_queued_at is not None]
        oldest = min(waiting, key=lambda q: q.oldest_queued_at or now, default=None)
        return DeliveryStats(
            generated_at=now,
            since=since,
            per_minute=per_minute,
            providers=_rates(counters),
            queues=queues,
            oldest_queued=None
            if oldest is None or oldest.oldest_queued_at is None
            else OldestQueued(
                channel=oldest.channel,
                lane=oldest.lane,
                queued_at=oldest.oldest_queued_at,
                age_seconds=max(0.0, (now - oldest.oldest_queued_at).total_seconds()),
            ),
        )

    async def _queue_depths(self) -> list[QueueDepth]:
        if self._queues is not None and time.monotonic() - self._queues[0] < self._queue_ttl:
            return self._queues[1]
        pipeline: list[dict[str, Any]] = [
            {"$match": {"status": {"$in": ["queued", "sending"]}}},
            {
                "$group": {
                    # the delivery's lane (host.settings.lanes); written before lanes, it was normal
                    "_id": {
                        "channel": "$channel",
                        "lane": {"$ifNull": ["$priority", "normal"]},
                        "status": "$status",
                    },
                    "count": {"$sum": 1},
                    "oldest": {"$min": "$updated_at"},
                }
            },
        ]
        found: dict[tuple[str, str | None], dict[str, Any]] = {
            (name, "normal"): {"queued": 0, "sending": 0, "oldest": None} for name in self._channels
        }
        async for row in await self._store.deliveries.aggregate(pipeline):
            key = (str(row["_id"]["channel"]), row["_id"].get("lane"))
            entry = found.setdefault(key, {"queued": 0, "sending": 0, "oldest": None})
            entry[row["_id"]["status"]] = int(row["count"])
            if row["_id"]["status"] == "queued":
                entry["oldest"] = row["oldest"]
        queues = [
            QueueDepth(
                channel=channel,
                lane=lane,
                queued=entry["queued"],
                sending=entry["sending"],
                oldest_queued_at=entry["oldest"],
            )
            for (channel, lane), entry in sorted(
                found.items(), key=lambda item: (item[0][0], item[0][1] or "")
            )
        ]
        self._queues = (time.monotonic(), queues)
        return queues


def _rates(counters: Iterable[dict[str, Any]]) -> list[ProviderRate]:
    totals: dict[tuple[str, str], list[int]] = {}
    for doc in counters:
        if doc.get("provider") is None:
            continue
        entry = totals.setdefault((doc["channel"], doc["provider"]), [0, 0])
        entry[0] += int(doc.get("ok", 0))
        entry[1] += int(doc.get("failed", 0))
    return [
        ProviderRate(
            channel=channel, provider=provider, ok=ok, failed=failed, failure_rate=failed / (ok + failed)
        )
        for (channel, provider), (ok, failed) in sorted(totals.items())
        if ok + failed
    ]
