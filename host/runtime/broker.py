"""The broker: dramatiq on Redis, or a StubBroker with in-process workers for the embedded mode.

Both consume the priority lanes' queues through :class:`~host.runtime.lanes.LaneConsumer` (the lanes'
thread budgets) and poll ``high`` queues often (host.runtime.lanes).
"""

from __future__ import annotations

from typing import Any

import dramatiq
from dramatiq.broker import Consumer
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AsyncIO

from host.runtime.lanes import HIGH_POLL_MS, LaneBudget, LaneConsumer
from host.settings import Lane

__all__ = ["LaneRedisBroker", "LaneStubBroker", "create_broker", "lane_budget", "register_lane_queue"]


class _LaneConsuming:
    """Wraps the consumers of lane queues (registered by the actors) in their lane's budget."""

    lane_budget: LaneBudget
    lane_queues: dict[str, Lane]

    def _init_lanes(self) -> None:
        self.lane_budget = LaneBudget()
        self.lane_queues = {}

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000) -> Consumer:
        lane = self.lane_queues.get(queue_name)  # None: a delay queue, or not a lane's
        if lane == "high":
            timeout = min(timeout, HIGH_POLL_MS)
        elif lane is not None:
            limit = self.lane_budget.limits[lane]
            prefetch = prefetch if limit is None else max(1, min(prefetch, limit))
        inner: Consumer = super().consume(queue_name, prefetch=prefetch, timeout=timeout)  # type: ignore[misc]
        return inner if lane is None else LaneConsumer(inner, lane, self.lane_budget)


class LaneRedisBroker(_LaneConsuming, RedisBroker):
    """dramatiq's Redis broker, consuming the lanes within their budgets."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)  # type: ignore[no-untyped-call]
        self._init_lanes()


class LaneStubBroker(_LaneConsuming, StubBroker):
    """dramatiq's in-memory broker (the embedded mode), consuming the lanes within their budgets."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._init_lanes()


def create_broker(redis_url: str | None) -> dramatiq.Broker:
    """A Redis broker when a URL is given, else an in-memory one (safe thanks to the outbox)."""
    broker: dramatiq.Broker
    if redis_url:
        broker = LaneRedisBroker(url=redis_url)
    else:
        broker = LaneStubBroker()
        broker.emit_after("process_boot")
    broker.add_middleware(AsyncIO())
    return broker


def lane_budget(broker: dramatiq.Broker) -> LaneBudget | None:
    """The broker's lane budgets (None for a broker not made by :func:`create_broker`)."""
    return getattr(broker, "lane_budget", None)


def register_lane_queue(broker: dramatiq.Broker, queue: str, lane: Lane) -> None:
    """Consume ``queue`` as a queue of ``lane`` (a no-op on a broker not made by :func:`create_broker`)."""
    queues: dict[str, Lane] | None = getattr(broker, "lane_queues", None)
    if queues is not None:
        queues[queue] = lane
