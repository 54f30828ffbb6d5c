"""Prometheus metrics of deliveries: outcomes and provider latency, and database totals.

Process-wide metrics live in prometheus_client's default registry, counted where things happen:
``count_outcome`` and ``observe_send`` (the delivery worker, when it records results and around each
provider call), ``count_feedback`` (each bounce or complaint recorded, host.feedback). The HTTP request
metrics are Litestar's (host.api.routes.metrics), in the same registry; this module imports no Litestar,
so the worker process does not either. Worker processes count their own; ``DeliveryTotals`` gives every
process's work at once, by aggregating the database (deliveries, attempts, suppressions by reason), cached
for a few seconds so a scrape never costs more than one pass over them per interval.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from host.storage.feedback_documents import SUPPRESSIONS_COLLECTION
from host.storage.store import Store

__all__ = [
    "CONTENT_TYPE",
    "DeliveryTotals",
    "count_feedback",
    "count_outcome",
    "observe_send",
    "render_totals",
]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: the label of a delivery total whose documents lack the field (written by hand or by another tool)
UNKNOWN = "unknown"
#: database totals are recomputed at most this often
TOTALS_TTL_SECONDS = 15.0

DELIVERY_OUTCOMES = Counter(
    "tidings_delivery_outcomes",
    "Delivery attempts recorded by this process, by channel and outcome (sent, retry, failed)",
    ["channel", "outcome"],
)
FEEDBACK_REPORTS = Counter(
    "tidings_feedback_reports",
    "Bounces and complaints recorded by this process, by source (smtp, ses, sendgrid, mailgun) and kind "
    "(hard-bounce, soft-bounce, complaint)",
    ["source", "kind"],
)
PROVIDER_LATENCY = Histogram(
    "tidings_provider_send_seconds",
    "Time a channel's provider took to take one message",
    ["channel"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)


#: the labelled series, looked up once each (``labels()`` validates and locks: a few µs a call, twice a mail)
_OUTCOME_SERIES: dict[tuple[str, str], Any] = {}
_LATENCY_SERIES: dict[str, Any] = {}


def count_outcome(channel: str, outcome: str) -> None:
    """Count one recorded attempt outcome (``sent``, ``retry`` or ``failed``)."""
    series = _OUTCOME_SERIES.get((channel, outcome))
    if series is None:
        series = _OUTCOME_SERIES[channel, outcome] = DELIVERY_OUTCOMES.labels(channel, outcome)
    series.inc()


def count_feedback(source: str, kind: str) -> None:
    """Count one bounce or complaint recorded (a duplicate is not counted)."""
    FEEDBACK_REPORTS.labels(source, kind).inc()


def observe_send(channel: str, seconds: float) -> None:
    """Record how long one provider call took."""
    series = _LATENCY_SERIES.get(channel)
    if series is None:
        series = _LATENCY_SERIES[channel] = PROVIDER_LATENCY.labels(channel)
    series.observe(seconds)


class DeliveryTotals(Collector):
    """Deliveries by channel and status and attempts by outcome, as the database holds them."""

    def __init__(self, store: Store, ttl: float = TOTALS_TTL_SECONDS) -> None:
        self._store = store
        self._ttl = ttl
        self._taken = -ttl
        self._deliveries: dict[tuple[str, str], int] = {}
        self._attempts: dict[str, int] = {}
        self._suppressions: dict[str, int] = {}

    async def refresh(self) -> None:
        """Aggregate again unless the last snapshot is younger than the TTL."""
        store = self._store
        if time.monotonic() - self._taken < self._ttl:
            return
        deliveries: dict[tuple[str, str], int] = {}
        pipeline: list[dict[str, Any]] = [
            {"$group": {"_id": {"channel": "$channel", "status": "$status"}, "count": {"$sum": 1}}}
        ]
        async for row in await store.deliveries.aggregate(pipeline):
            # a field missing from a document is missing from its group's key (MongoDB leaves it out)
            key = row["_id"]
            channel, status = key.get("channel", UNKNOWN), key.get("status", UNKNOWN)
            deliveries[(str(channel), str(status))] = int(row["count"])
        attempts: dict[str, int] = {}
        async for row in await store.attempts.aggregate(
            [{"$group": {"_id": "$outcome", "count": {"$sum": 1}}}]
        ):
            attempts[str(row["_id"])] = int(row["count"])
        suppressions: dict[str, int] = {}
        async for row in await store.db[SUPPRESSIONS_COLLECTION].aggregate(
            [{"$unwind": "$reasons"}, {"$group": {"_id": "$reasons", "count": {"$sum": 1}}}]
        ):
            suppressions[str(row["_id"])] = int(row["count"])
        self._deliveries, self._attempts, self._taken = deliveries, attempts, time.monotonic()
        self._suppressions = suppressions

    def collect(self) -> Iterator[Metric]:
        """The last snapshot (prometheus_client calls this while rendering)."""
        deliveries = GaugeMetricFamily(
            "tidings_deliveries",
            "Deliveries in the database by channel and status",
            labels=["channel", "status"],
        )
        for (channel, status), count in sorted(self._deliveries.items()):
            deliveries.add_metric([channel, status], count)
        yield deliveries
        attempts = GaugeMetricFamily(
            "tidings_attempts", "Delivery attempts in the database by outcome", labels=["outcome"]
        )
        for outcome, count in sorted(self._attempts.items()):
            attempts.add_metric([outcome], count)
        yield attempts
        suppressed = GaugeMetricFamily(
            "tidings_suppressions",
            "Suppressed e-mail addresses in the database by reason (hard-bounce, soft-bounces, complaint)",
            labels=["reason"],
        )
        for reason, count in sorted(self._suppressions.items()):
            suppressed.add_metric([reason], count)
        yield suppressed


def render_totals(totals: DeliveryTotals) -> bytes:
    """The exposition text of the database totals (to follow this process's own metrics)."""
    own = CollectorRegistry(auto_describe=False)
    own.register(totals)
    return generate_latest(own)
