"""The rate limiter's arithmetic: windows that never exceed the rate, and the in-process window."""

from __future__ import annotations

import pytest

from host.delivery.rate_limits import LocalWindow, window_for


@pytest.mark.parametrize(
    ("rate", "window"), [(14, (14, 1)), (2.5, (2, 1)), (1, (1, 1)), (0.5, (1, 2)), (0.3, (1, 4))]
)
def test_window_never_exceeds_the_rate(rate: float, window: tuple[int, int]) -> None:
    assert window_for(rate) == window


def test_local_window_counts_per_calendar_second() -> None:
    window = LocalWindow(limit=3, window=1)
    now = 1_767_225_600.25  # inside one calendar second, whatever the clock says
    assert [window.try_acquire(now=now) for _ in range(5)] == [True, True, True, False, False]
