"""The login throttle on the development database, with an injected clock: growing locks, per pair."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from admin_ui.login_throttle import LOCKOUT_AFTER, LoginThrottle
from tests.conftest import Stack

START = datetime(2030, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


async def test_locks_grow_per_pair_and_a_success_clears_them(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    clock = Clock()
    throttle = LoginThrottle(stack.db, clock=clock)
    email, client = f"{unique('grow')}@example.test", "192.0.2.1"
    for _ in range(LOCKOUT_AFTER):
        assert await throttle.attempt(email, client) is None
    assert await throttle.attempt(email, client) == START + 15 * MINUTE
    assert await throttle.attempt(email.upper(), client) == START + 15 * MINUTE  # the address is normalised
    assert await throttle.attempt(email, "192.0.2.2") is None  # another client is not held up
    waits = []
    for _ in range(4):  # each lock ends with one attempt allowed; its failure doubles the next wait
        clock.now = await throttle.attempt(email, client) or clock.now
        assert await throttle.attempt(email, client) is None
        until = await throttle.attempt(email, client)
        assert until is not None
        waits.append((until - clock.now) / MINUTE)
    assert waits == [30, 60, 120, 240]
    await throttle.succeeded(email, client)
    for _ in range(LOCKOUT_AFTER):
        assert await throttle.attempt(email, client) is None
    assert await throttle.attempt(email, client) is not None


async def test_a_pair_quiet_for_a_day_starts_afresh(stack: Stack, unique: Callable[[str], str]) -> None:
    clock = Clock()
    throttle = LoginThrottle(stack.db, clock=clock, max_lock_seconds=3600)
    email, client = f"{unique('quiet')}@example.test", "192.0.2.3"
    for _ in range(LOCKOUT_AFTER):
        await throttle.attempt(email, client)
    for _ in range(3):  # 30 minutes, then the 1-hour cap
        clock.now = await throttle.attempt(email, client) or clock.now
        await throttle.attempt(email, client)
    assert await throttle.attempt(email, client) == clock.now + 60 * MINUTE
    clock.now += timedelta(days=1, minutes=1)
    for _ in range(LOCKOUT_AFTER):
        assert await throttle.attempt(email, client) is None
    assert await throttle.attempt(email, client) == clock.now + 15 * MINUTE
