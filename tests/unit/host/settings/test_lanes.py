"""The ``lanes`` key: its defaults, the threads it keeps for ``high``, and wrong values named."""

from __future__ import annotations

import json

import pytest

from host.errors import ConfigurationError
from host.settings import LANES, LanePolicy, load_service_config


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
