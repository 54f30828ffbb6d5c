"""The circuit breaker of provider failover, on a clock the test moves (no relay, no time passing)."""

from __future__ import annotations

from host.delivery.failover import CircuitBreaker
from host.plugins.providers import CircuitPolicy


def test_a_half_open_circuit_lets_one_trial_through_at_a_time() -> None:
    now = [0.0]
    breaker = CircuitBreaker("test provider", CircuitPolicy(failures=2, cool_down_seconds=10), lambda: now[0])
    breaker.failed("pass")
    assert breaker.state == "closed"
    breaker.failed("pass")
    assert (breaker.state, breaker.acquire(), breaker.remaining()) == ("open", None, 10)
    now[0] = 10.0
    assert breaker.acquire() == "trial"
    assert breaker.acquire() is None, "a second trial while the first runs"
    breaker.failed("trial")  # a failed trial opens it for another cool-down at once
    assert (breaker.state, breaker.acquire()) == ("open", None)
    now[0] = 20.0
    assert breaker.acquire() == "trial"
    breaker.abandoned("trial")  # nothing was sent: the trial is free again
    assert breaker.acquire() == "trial"
    breaker.succeeded()
    assert (breaker.state, breaker.acquire()) == ("closed", "pass")
