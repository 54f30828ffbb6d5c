"""The broker: dramatiq on Redis, or a StubBroker with in-process workers for the embedded mode."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AsyncIO

__all__ = ["create_broker"]


def create_broker(redis_url: str | None) -> dramatiq.Broker:
    """A Redis broker when a URL is given, else an in-memory one (safe thanks to the outbox)."""
    broker: dramatiq.Broker
    if redis_url:
        broker = RedisBroker(url=redis_url)  # type: ignore[no-untyped-call]
    else:
        broker = StubBroker()
        broker.emit_after("process_boot")
    broker.add_middleware(AsyncIO())
    return broker
