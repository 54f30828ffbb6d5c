"""Which lane a dispatch takes, and how mixed deliveries are grouped back into their lanes."""

from __future__ import annotations

import pytest

from host.dispatch.lanes import choose_lane, lane_of, lanes_and_channels
from host.settings import LanePolicy

POLICY = LanePolicy(bulk_above=100)


@pytest.mark.parametrize(
    ("requested", "category", "users", "complete", "lane"),
    [
        ("bulk", "transactional", 1, True, "bulk"),  # asked for: wins over everything
        ("high", None, 5000, True, "high"),
        ("normal", None, 5000, True, "normal"),
        (None, "transactional", 5000, True, "high"),  # a receipt to many is still a receipt
        (None, "transactional", 1, False, "high"),
        (None, "standard", 101, True, "bulk"),
        (None, None, 100, True, "normal"),  # "above" the size: 100 is not
        (None, None, 101, False, "bulk"),  # the listed ones alone are enough
        (None, None, 3, False, None),  # clusters not counted yet: the fan-out decides
    ],
)
def test_the_lane_of_a_dispatch(
    requested: str | None, category: str | None, users: int, complete: bool, lane: str | None
) -> None:
    assert choose_lane(requested, category, users, complete=complete, policy=POLICY) == lane  # type: ignore[arg-type]


def test_a_delivery_stored_before_lanes_is_normal() -> None:
    assert lane_of({"priority": "high"}) == "high"
    assert lane_of({}) == "normal"
    assert lane_of({"priority": None}) == "normal"


def test_mixed_deliveries_are_grouped_by_lane_then_channel_in_order() -> None:
    docs = [
        {"_id": "a", "channel": "email", "priority": "high"},
        {"_id": "b", "channel": "sms", "priority": "bulk"},
        {"_id": "c", "channel": "email"},
        {"_id": "d", "channel": "email", "priority": "high"},
        {"_id": "e", "channel": "sms", "priority": "bulk"},
    ]
    assert lanes_and_channels(docs) == {
        "high": {"email": ["a", "d"]},
        "bulk": {"sms": ["b", "e"]},
        "normal": {"email": ["c"]},
    }
