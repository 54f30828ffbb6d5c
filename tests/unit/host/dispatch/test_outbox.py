"""How the outbox groups deliveries of mixed lanes and channels back into their lanes."""

from __future__ import annotations

from host.dispatch.outbox import lanes_and_channels


def test_mixed_deliveries_are_grouped_by_lane_then_channel_in_order() -> None:
    docs = [
        {"_id": "a", "channel": "email", "priority": "high"},
        {"_id": "b", "channel": "sms", "priority": "bulk"},
        {"_id": "c", "channel": "email"},  # stored before lanes: normal
        {"_id": "d", "channel": "email", "priority": "high"},
        {"_id": "e", "channel": "sms", "priority": "bulk"},
    ]
    assert lanes_and_channels(docs) == {
        "high": {"email": ["a", "d"]},
        "bulk": {"sms": ["b", "e"]},
        "normal": {"email": ["c"]},
    }
