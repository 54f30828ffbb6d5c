"""``sendAt`` read as a scheduled send's time: in UTC, rounded up to MongoDB's milliseconds, never early."""

from __future__ import annotations

from datetime import UTC, datetime

from host.dispatch.scheduling import parse_send_at


def test_send_at_parsing() -> None:
    now = datetime(2026, 11, 27, 20, 0, tzinfo=UTC)
    assert parse_send_at(None, now) is None
    assert parse_send_at("2026-11-27T21:00:00+01:00", now) is None  # 20:00 UTC: not in the future
    assert parse_send_at("2026-11-27T22:00:00+01:00", now) == datetime(2026, 11, 27, 21, 0, tzinfo=UTC)
    assert parse_send_at("2026-11-27T21:00:00Z", now) == datetime(2026, 11, 27, 21, 0, tzinfo=UTC)
    # MongoDB keeps milliseconds: rounded up, never early
    at = parse_send_at("2026-11-27T21:00:00.000001+00:00", now)
    assert at == datetime(2026, 11, 27, 21, 0, 0, 1000, tzinfo=UTC)
