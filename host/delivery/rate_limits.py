"""Rate limits per channel: a channel's declared ``Limits.rate_per_second``, enforced before each send.

The rate is the channel's declaration unless the configuration file overrides it with
``channels.<name>.ratePerSecond`` (a positive number, or ``null`` for no limit). The host takes that key
away from the options it hands to the channel.

With a Redis URL the slots are counted in Redis by dramatiq's ``WindowRateLimiter``, so the limit holds
across every worker process: at most ``N`` sends per calendar second (a rate below 1 becomes one send
per ``ceil(1/rate)`` seconds; a fractional rate above 1 is rounded down). Without Redis (the embedded
mode: one process) the same ``WindowRateLimiter`` counts in dramatiq's in-memory ``StubBackend``, so
both modes share one piece of window arithmetic, dramatiq's.

A delivery that finds no free slot waits for the next second; it never fails for it. Slots are taken
only in the first 900 ms of a second, so the request reaches the provider within the second its slot
counts for, as the provider sees it.

When the limit binds, ``high`` is served first: every waiter wakes at the next second, ``high`` ones
just after it and the lower lanes a few tens of milliseconds later (``normal`` before ``bulk``), so
the second's slots go to ``high`` waiters of every process before anyone else asks. No slot is set
aside: without ``high`` traffic the lower lanes use them all.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Callable, Mapping
from typing import Protocol

from dramatiq.rate_limits import RateLimiterBackend, WindowRateLimiter
from dramatiq.rate_limits.backends import RedisBackend, StubBackend

from host.plugins.channel import Channel
from host.plugins.rates import configured_rate
from host.settings import DEFAULT_LANE, Lane, ServiceConfig

__all__ = [
    "WAKE_AFTER",
    "ChannelThrottle",
    "LocalWindow",
    "RedisWindow",
    "build_throttles",
    "configured_rate",
    "window_for",
]

#: slots are not taken in the last part of a second (see the module docstring)
SECOND_GUARD = 0.1
KEY_PREFIX = "tidings:rate:"
#: counters the in-memory backend holds before it drops the expired ones (one per second and channel)
_STUB_KEYS_KEPT = 64
#: (from, to) seconds after a second's boundary at which a lane's waiters try again: high first
WAKE_AFTER: dict[Lane, tuple[float, float]] = {
    "high": (0.001, 0.010),
    "normal": (0.030, 0.045),
    "bulk": (0.060, 0.080),
}


def window_for(rate: float) -> tuple[int, int]:
    """(limit, window in seconds) of the window limiter that never exceeds ``rate``."""
    if rate >= 1:
        return math.floor(rate), 1
    return 1, math.ceil(1 / rate)


class SlotSource(Protocol):
    """Counts sends in windows of whole seconds; ``try_acquire`` takes one slot or says there is none."""

    def try_acquire(self) -> bool: ...

    def close(self) -> None: ...


class _DramatiqWindow:
    """Slots counted by dramatiq's WindowRateLimiter in a rate-limit backend."""

    def __init__(self, backend: RateLimiterBackend, key: str, *, limit: int, window: int) -> None:
        self._limiter = WindowRateLimiter(backend, key, limit=limit, window=window)  # type: ignore[no-untyped-call]

    def try_acquire(self) -> bool:
        """Take one slot in the current calendar second, if any is left."""
        with self._limiter.acquire(raise_on_failure=False) as acquired:
            return bool(acquired)

    def close(self) -> None:
        """Nothing to release in memory."""


class RedisWindow(_DramatiqWindow):
    """Slots counted in Redis: one limit across every worker process."""

    def __init__(self, backend: RedisBackend, key: str, *, limit: int, window: int) -> None:
        super().__init__(backend, key, limit=limit, window=window)
        self._backend = backend

    def close(self) -> None:
        """Close the backend's Redis connections (shared by the channels: closing twice is fine)."""
        self._backend.client.connection_pool.disconnect()


class _PrunedStubBackend(StubBackend):
    """dramatiq's in-memory backend, dropping expired counters: it would keep one per second it has seen."""

    def incr_and_sum(
        self, key: str, keys: Callable[[], list[str]], amount: int, maximum: int, ttl: int
    ) -> bool:
        """Drop expired counters now and then (a month has 2.6 million seconds), then count."""
        with self.mutex:
            if len(self.db) > _STUB_KEYS_KEPT:
                now = time.monotonic()
                self.db = {k: entry for k, entry in self.db.items() if entry[1] > now}
        counted = super().incr_and_sum(key, keys, amount, maximum=maximum, ttl=ttl)  # type: ignore[no-untyped-call]
        return bool(counted)


class LocalWindow(_DramatiqWindow):
    """Slots counted in this process only, in dramatiq's in-memory backend (the embedded mode)."""

    def __init__(self, *, limit: int, window: int) -> None:
        backend = _PrunedStubBackend()  # type: ignore[no-untyped-call]
        super().__init__(backend, "local", limit=limit, window=window)


class ChannelThrottle:
    """Waits for a slot of one channel's rate before each send."""

    def __init__(self, source: SlotSource, rate: float) -> None:
        self.source = source
        self.rate = rate
        #: deliveries claimed at a time: about one second's worth, so claimed ones never wait long
        self.chunk_size = max(1, math.ceil(rate))

    def close(self) -> None:
        """Release the slot source's connections (the runtime's close)."""
        self.source.close()

    async def wait_for_slot(self, lane: Lane = DEFAULT_LANE) -> None:
        """Return once a slot is taken; sleeps to the next second while there is none (high wakes first)."""
        early, late = WAKE_AFTER[lane]
        while True:
            second = int(time.time())
            if time.time() - second < 1 - SECOND_GUARD and await asyncio.to_thread(self.source.try_acquire):
                if time.time() < second + 1 - SECOND_GUARD:
                    return
                # the slot came too late in its second (a slow Redis, a busy loop): it is spent, not used
                continue
            # every waiter wakes just after the boundary, its lane's delay later; a little jitter
            # spreads the Redis calls
            await asyncio.sleep(1 - time.time() % 1 + random.uniform(early, late))


def build_throttles(
    config: ServiceConfig, channels: Mapping[str, Channel], redis_url: str | None
) -> dict[str, ChannelThrottle]:
    """A throttle for every channel with a rate: on Redis when a URL is given, else in-process."""
    backend: RedisBackend | None = None
    throttles: dict[str, ChannelThrottle] = {}
    for name, channel in channels.items():
        rate = configured_rate(config, name, channel)
        if rate is None:
            continue
        limit, window = window_for(rate)
        if redis_url and backend is None:
            backend = RedisBackend(url=redis_url)
        source: SlotSource = (
            RedisWindow(backend, KEY_PREFIX + name, limit=limit, window=window)
            if backend is not None
            else LocalWindow(limit=limit, window=window)
        )
        throttles[name] = ChannelThrottle(source, rate)
    return throttles
