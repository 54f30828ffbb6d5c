"""The rate limiter's arithmetic: windows that never exceed the rate, the in-process window, high first."""

from __future__ import annotations

import time

import pytest

from host.delivery.rate_limits import ChannelThrottle, LocalWindow, _PrunedStubBackend, window_for
from tests.support.throttles import race_for_slots


@pytest.mark.parametrize(
    ("rate", "window"), [(14, (14, 1)), (2.5, (2, 1)), (1, (1, 1)), (0.5, (1, 2)), (0.3, (1, 4))]
)
def test_window_never_exceeds_the_rate(rate: float, window: tuple[int, int]) -> None:
    assert window_for(rate) == window


def test_local_window_counts_per_calendar_second() -> None:
    window = LocalWindow(limit=3, window=1)
    # dramatiq's limiter reads the clock itself: start early in a second so the five calls share it
    while time.time() % 1 > 0.5:
        time.sleep(0.05)
    assert [window.try_acquire() for _ in range(5)] == [True, True, True, False, False]


def test_local_window_drops_expired_counters() -> None:
    backend = _PrunedStubBackend()
    for second in range(200):  # counters that expire at once, one per "second", as a long run leaves
        backend.incr_and_sum(f"k@{second}", lambda: [], 1, maximum=5, ttl=0)
    assert len(backend.db) < 100
    assert backend.incr_and_sum("k@live", lambda: ["k@live"], 1, maximum=1, ttl=1000)
    assert not backend.incr_and_sum("k@live", lambda: ["k@live"], 1, maximum=1, ttl=1000)  # still counts


async def test_when_the_limit_binds_high_takes_the_next_seconds_first_slot() -> None:
    throttle = ChannelThrottle(LocalWindow(limit=2, window=1), rate=2)
    taken = await race_for_slots(throttle, throttle, bulk_waiters=6, limit=2)
    [(_, second)] = [slot for slot in taken if slot[0] == "high"]
    # the first bulk second was full when high asked; in the second it got, it came before every bulk
    # waiter that had waited longer
    assert second > taken[0][1]
    assert next(lane for lane, at in taken if at == second) == "high", taken
