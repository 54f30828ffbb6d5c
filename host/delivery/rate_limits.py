"""Rate limits per channel: a channel's declared ``Limits.rate_per_second``, enforced before each send.

The rate is the channel's declaration unless the configuration file overrides it with
``channels.<name>.ratePerSecond`` (a positive number, or ``null`` for no limit). The host takes that key
away from the options it hands to the channel.

With a Redis URL the slots are counted in Redis by dramatiq's ``WindowRateLimiter``, so the limit holds
across every worker process: at most ``N`` sends per calendar second (a rate below 1 becomes one send
per ``ceil(1/rate)`` seconds; a fractional rate above 1 is rounded down). Without Redis (the embedded
mode: one process) an in-process window with the same arithmetic does the counting.

A delivery that finds no free slot waits for the next second; it never fails for it. Slots are taken
only in the first 900 ms of a second, so the request reaches the provider within the second its slot
counts for, as the provider sees it.
"""

from __future__ import annotations

import asyncio
import math
import random
import threading
import time
from collections.abc import Mapping
from typing import Protocol

from dramatiq.rate_limits import WindowRateLimiter
from dramatiq.rate_limits.backends import RedisBackend

from host.plugins.channel import Channel
from host.plugins.rates import configured_rate
from host.settings import ServiceConfig

__all__ = [
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


def window_for(rate: float) -> tuple[int, int]:
    """(limit, window in seconds) of the window limiter that never exceeds ``rate``."""
    if rate >= 1:
        return math.floor(rate), 1
    return 1, math.ceil(1 / rate)


class SlotSource(Protocol):
    """Counts sends in windows of whole seconds; ``try_acquire`` takes one slot or says there is none."""

    def try_acquire(self) -> bool: ...


class RedisWindow:
    """Slots counted in Redis by dramatiq's WindowRateLimiter: one limit across every worker process."""

    def __init__(self, backend: RedisBackend, key: str, *, limit: int, window: int) -> None:
        self._limiter = WindowRateLimiter(backend, key, limit=limit, window=window)  # type: ignore[no-untyped-call]

    def try_acquire(self) -> bool:
        """Take one slot in the current calendar second, if any is left."""
        with self._limiter.acquire(raise_on_failure=False) as acquired:
            return bool(acquired)


class LocalWindow:
    """The same window arithmetic in this process only (the embedded mode has one process)."""

    def __init__(self, *, limit: int, window: int) -> None:
        self._limit = limit
        self._window = window
        self._counts: dict[int, int] = {}
        self._lock = threading.Lock()

    def try_acquire(self, *, now: float | None = None) -> bool:
        """Take one slot in the current calendar second (of ``now``, default: the clock), if any is left."""
        second = int(time.time() if now is None else now)
        with self._lock:
            for old in [s for s in self._counts if s <= second - self._window]:
                del self._counts[old]
            if sum(self._counts.values()) >= self._limit:
                return False
            self._counts[second] = self._counts.get(second, 0) + 1
            return True


class ChannelThrottle:
    """Waits for a slot of one channel's rate before each send."""

    def __init__(self, source: SlotSource, rate: float) -> None:
        self.source = source
        self.rate = rate
        #: deliveries claimed at a time: about one second's worth, so claimed ones never wait long
        self.chunk_size = max(1, math.ceil(rate))

    async def wait_for_slot(self) -> None:
        """Return once a slot is taken; sleeps to the next second while there is none."""
        while True:
            second = int(time.time())
            if time.time() - second < 1 - SECOND_GUARD and await asyncio.to_thread(self.source.try_acquire):
                if time.time() < second + 1 - SECOND_GUARD:
                    return
                # the slot came too late in its second (a slow Redis, a busy loop): it is spent, not used
                continue
            # every waiter wakes just after the boundary; a little jitter spreads the Redis calls
            await asyncio.sleep(1 - time.time() % 1 + random.uniform(0.001, 0.02))


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
