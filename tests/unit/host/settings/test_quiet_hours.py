"""Quiet-hour windows as written: times of day checked, and a wrong ``quietHours`` names its key."""

from __future__ import annotations

import json
from datetime import time

import pytest

from host.errors import ConfigurationError
from host.settings import load_service_config
from host.settings.quiet_hours import parse_clock, parse_window


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("21:00", time(21)),
        ("08:00", time(8)),
        ("8:05", time(8, 5)),
        ("00:00", time(0)),
        ("23:59", time(23, 59)),
    ],
)
def test_times_of_day_are_read(text: str, expected: time) -> None:
    assert parse_clock(text) == expected


@pytest.mark.parametrize("text", ["25:00", "24:00", "12:60", "9pm", "21", "21:00:00", "", 2100, None])
def test_anything_else_is_refused_saying_why(text: object) -> None:
    with pytest.raises(ValueError, match="time of day"):
        parse_clock(text)


def test_a_window_spans_midnight_when_it_starts_after_it_ends() -> None:
    assert parse_window({"start": "21:00", "end": "08:00"}) == (time(21), time(8))
    assert parse_window({"start": "13:00", "end": "15:30"}) == (time(13), time(15, 30))


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"start": "25:00", "end": "08:00"}, "start: '25:00'"),
        ({"start": "21:00", "end": "8pm"}, "end: '8pm'"),
        ({"start": "21:00"}, "end: required"),
        ({"start": "21:00", "end": "21:00"}, "end: equals start"),
        ({"start": "21:00", "end": "08:00", "days": "all"}, "days: unknown key"),
        ("21:00-08:00", "expected an object"),
    ],
)
def test_a_wrong_window_names_its_part(value: object, problem: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_window(value)
    assert str(caught.value).startswith(problem)


@pytest.mark.parametrize(
    ("quiet", "key", "reason"),
    [
        ({"start": "25:00", "end": "08:00"}, "quietHours.start", "'25:00' is not a time of day"),
        ({"start": "21:00", "end": "08:61"}, "quietHours.end", "'08:61' is not a time of day"),
        ({"start": "21:00", "end": "21:00"}, "quietHours.end", "equals start"),
        ({"start": "21:00"}, "quietHours", "missing required field `end`"),
        ({"start": "21:00", "end": "08:00", "tz": "UTC"}, "quietHours", "unknown field `tz`"),
    ],
)
def test_the_configuration_names_the_wrong_key(quiet: dict[str, str], key: str, reason: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_service_config(json.dumps({"activeChannels": ["email"], "quietHours": quiet}))
    assert (caught.value.key, reason in caught.value.reason) == (key, True), caught.value


def test_the_default_time_zone_must_exist() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_service_config(json.dumps({"activeChannels": ["email"], "defaultTimezone": "Europe/Atlantis"}))
    assert caught.value.key == "defaultTimezone" and "Europe/Atlantis" in caught.value.reason


def test_quiet_hours_are_off_unless_configured_and_users_own_windows_unless_mapped() -> None:
    config = load_service_config('{"activeChannels": ["email"]}')
    assert config.quiet_hours is None
    assert (config.user_fields.timezone, config.user_fields.quiet_hours) == ("timezone", None)
    mapped = load_service_config(
        json.dumps(
            {
                "activeChannels": ["email"],
                "quietHours": {"start": "21:00", "end": "08:00"},
                "userFields": {"quietHours": "dnd", "timezone": "tz"},
            }
        )
    )
    assert mapped.quiet_hours is not None and mapped.quiet_hours.start == "21:00"
    assert (mapped.user_fields.field_for("quietHours"), mapped.user_fields.field_for("timezone")) == (
        "dnd",
        "tz",
    )
