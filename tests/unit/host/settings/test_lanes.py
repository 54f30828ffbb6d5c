"""The ``lanes`` key (its defaults, the threads it keeps for ``high``, wrong values named), and which lane a
dispatch takes."""

from __future__ import annotations

import json

import pytest

from host.errors import ConfigurationError
from host.settings import LANES, Lane, LanePolicy, lane_of, load_service_config


def test_lanes_are_served_high_first() -> None:
    assert LANES == ("high", "normal", "bulk")


def test_defaults_keep_a_quarter_of_the_threads_for_high_and_at_least_one() -> None:
    config = load_service_config('{"activeChannels": ["email"]}')
    assert config.lanes == LanePolicy(bulk_above=1000, reserved_threads=None)
    assert [config.lanes.reserved(threads) for threads in (1, 4, 8, 16)] == [1, 1, 2, 4]
    assert LanePolicy(reserved_threads=3).reserved(8) == 3


@pytest.mark.parametrize(
    ("lanes", "key"),
    [
        ({"bulkAbove": -1}, "lanes.bulkAbove"),
        ({"bulkAbove": "many"}, "lanes.bulkAbove"),
        ({"reservedThreads": -2}, "lanes.reservedThreads"),
        ({"reserved": 2}, "lanes"),
    ],
)
def test_a_wrong_value_is_named(lanes: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_service_config(json.dumps({"activeChannels": ["email"], "lanes": lanes}))
    assert caught.value.key == key


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
        (None, None, 101, False, "bulk"),  # the users counted so far are enough
        (None, None, 3, False, None),  # clusters not counted yet: the fan-out decides
    ],
)
def test_the_lane_of_a_dispatch(
    requested: Lane | None, category: str | None, users: int, complete: bool, lane: str | None
) -> None:
    assert POLICY.choose(requested, category, users, complete=complete) == lane


def test_a_delivery_stored_before_lanes_is_normal() -> None:
    assert lane_of({"priority": "high"}) == "high"
    assert lane_of({}) == "normal"
    assert lane_of({"priority": None}) == "normal"
