"""Waiters of several lanes racing for a throttle's slots, each slot noted with its lane and second."""

from __future__ import annotations

import asyncio
import time

from host.delivery.rate_limits import ChannelThrottle
from host.settings import Lane
from tests.support.waiting import eventually

__all__ = ["race_for_slots"]


async def race_for_slots(
    bulk: ChannelThrottle, high: ChannelThrottle, *, bulk_waiters: int, limit: int
) -> list[tuple[Lane, int]]:
    """``bulk_waiters`` bulk waiters take ``bulk``'s slots; once they have filled a second, one high
    waiter asks ``high`` (the same limit, maybe counted in another process). Returns (lane, calendar
    second) of every slot taken, in order."""
    taken: list[tuple[Lane, int]] = []

    async def wait(throttle: ChannelThrottle, lane: Lane) -> None:
        await throttle.wait_for_slot(lane)
        taken.append((lane, int(time.time())))

    tasks = [asyncio.create_task(wait(bulk, "bulk")) for _ in range(bulk_waiters)]
    # the limit binds: every slot of a second is taken, and more bulk waiters wait for the next one
    await eventually(
        lambda: [second for _, second in taken].count(taken[0][1]) if taken else 0,
        until=lambda n: n == limit,
        timeout=5,
        interval=0.005,
        what="the bulk waiters to fill a second",
    )
    tasks.append(asyncio.create_task(wait(high, "high")))
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=bulk_waiters / limit + 5)
    return taken
