"""A clock the test moves by hand, for the domain objects that take one (``CircuitBreaker(clock=...)``)."""

from __future__ import annotations

__all__ = ["ManualClock"]


class ManualClock:
    """Monotonic seconds that pass only when the test says so: ``clock.advance(10)``."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
