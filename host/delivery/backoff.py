"""Exponential backoff with jitter, never shorter than what the provider asked for (Retry-After).

Used for delivery attempts (``delivery`` policy of the configuration) and for webhook posts (each
endpoint's own policy), so both back off by the same rule.
"""

from __future__ import annotations

import random

__all__ = ["backoff_seconds"]


def backoff_seconds(
    attempt: int, *, minimum: float, maximum: float, retry_after: float | None = None
) -> float:
    """The wait after ``attempt`` failures: up to ``minimum * 2^(attempt-1)`` capped at ``maximum``.

    Jittered over the upper half of that ceiling, so retries of many messages spread out; at least
    ``retry_after`` when the provider gave one.
    """
    ceiling = min(maximum, minimum * 2 ** max(attempt - 1, 0))
    delay = random.uniform(ceiling / 2, ceiling)
    return max(delay, retry_after) if retry_after is not None else delay
