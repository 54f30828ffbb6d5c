"""Quiet hours in the user's time zone, read off the wall clock, daylight saving nights included.

Europe/Rome in 2026: on 29 March the clock jumps from 02:00 to 03:00 (CET +1 → CEST +2), on 25 October it
goes back from 03:00 to 02:00 (02:00–02:59 happen twice). Every instant below is written in UTC with its
Rome wall time beside it; the clock is injected (``now``), nothing waits.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from host.audience.quiet_hours import QuietHoursPolicy, first_instant, window_end
from host.settings import load_service_config

ROME = ZoneInfo("Europe/Rome")


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def policy(**config: Any) -> QuietHoursPolicy:
    return QuietHoursPolicy(load_service_config(json.dumps({"activeChannels": ["email"], **config})))


# --- the night the clock jumps forward: a window 01:30–03:30 lasts one hour ---------------------------

SPRING = (time(1, 30), time(3, 30))


@pytest.mark.parametrize(
    ("now", "rome", "until"),
    [
        (utc(3, 29, 0, 29), "01:29 CET", None),
        (utc(3, 29, 0, 30), "01:30 CET", utc(3, 29, 1, 30)),
        (utc(3, 29, 0, 59), "01:59 CET", utc(3, 29, 1, 30)),
        (utc(3, 29, 1, 0), "03:00 CEST, just after the jump", utc(3, 29, 1, 30)),
        (utc(3, 29, 1, 29), "03:29 CEST", utc(3, 29, 1, 30)),
        (utc(3, 29, 1, 30), "03:30 CEST: the end is not inside", None),
        (utc(3, 29, 2, 0), "04:00 CEST", None),
    ],
)
def test_the_night_the_clock_jumps_a_window_from_01_30_to_03_30_lasts_one_hour(
    now: datetime, rome: str, until: datetime | None
) -> None:
    assert window_end(now, SPRING, ROME) == until, rome


def test_the_same_window_lasts_two_hours_on_an_ordinary_night_and_three_when_the_clock_goes_back() -> None:
    ordinary = window_end(utc(3, 22, 0, 30), SPRING, ROME)  # 01:30 CET a week before
    assert ordinary == utc(3, 22, 2, 30)
    autumn = window_end(utc(10, 24, 23, 30), SPRING, ROME)  # 01:30 CEST on 25 October
    assert autumn == utc(10, 25, 2, 30)  # 03:30 CET: three hours later


def test_a_time_the_clock_skips_is_reached_at_the_jump() -> None:
    # 02:30 does not exist in Rome on 29 March: a window ending then ends when the clock jumps, 03:00 CEST
    assert first_instant(date(2026, 3, 29), time(2, 30), ROME) == utc(3, 29, 1, 0)
    assert window_end(utc(3, 29, 0, 45), (time(1, 0), time(2, 30)), ROME) == utc(3, 29, 1, 0)
    # a window inside the gap never happens that night
    assert window_end(utc(3, 29, 1, 0), (time(2, 10), time(2, 40)), ROME) is None


# --- the night the clock goes back: a window ending at 02:30 ends at the first 02:30 -----------------

AUTUMN = (time(22, 0), time(2, 30))


@pytest.mark.parametrize(
    ("now", "rome", "until"),
    [
        (utc(10, 24, 19, 59), "21:59 CEST on Saturday", None),
        (utc(10, 24, 20, 0), "22:00 CEST", utc(10, 25, 0, 30)),
        (utc(10, 25, 0, 10), "02:10 CEST, the first time", utc(10, 25, 0, 30)),
        (utc(10, 25, 0, 29), "02:29 CEST", utc(10, 25, 0, 30)),
        (utc(10, 25, 0, 30), "02:30 CEST: the window is over", None),
        (utc(10, 25, 0, 59), "02:59 CEST", None),
        (utc(10, 25, 1, 10), "02:10 CET, the second time: not quiet again", None),
        (utc(10, 25, 1, 30), "02:30 CET, the second time", None),
        (utc(10, 25, 21, 0), "22:00 CET on Sunday: the next window", utc(10, 26, 1, 30)),
    ],
)
def test_the_night_the_clock_goes_back_a_window_ending_at_02_30_ends_the_first_time(
    now: datetime, rome: str, until: datetime | None
) -> None:
    assert window_end(now, AUTUMN, ROME) == until, rome


def test_a_time_the_clock_shows_twice_starts_a_window_the_first_time() -> None:
    assert first_instant(date(2026, 10, 25), time(2, 30), ROME) == utc(10, 25, 0, 30)
    # a window 02:15–02:45 that night is quiet during the first pass only
    window = (time(2, 15), time(2, 45))
    assert window_end(utc(10, 25, 0, 20), window, ROME) == utc(10, 25, 0, 45)
    assert window_end(utc(10, 25, 1, 20), window, ROME) is None


# --- whose window, in which time zone ------------------------------------------------------------------


def test_the_service_window_is_read_in_each_users_time_zone_else_the_default() -> None:
    quiet = policy(quietHours={"start": "21:00", "end": "08:00"}, defaultTimezone="Europe/Rome")
    now = utc(6, 1, 20, 30)  # 22:30 in Rome (CEST), 16:30 in New York, 08:30 in Auckland
    assert quiet.quiet_until({"timezone": "Europe/Rome"}, "u1", now) == utc(6, 2, 6, 0)
    assert quiet.quiet_until({}, "u2", now) == utc(6, 2, 6, 0)  # defaultTimezone
    assert quiet.quiet_until(None, "gone", now) == utc(6, 2, 6, 0)  # no user document: the default
    assert quiet.quiet_until({"timezone": "America/New_York"}, "u3", now) is None
    assert quiet.quiet_until({"timezone": "Pacific/Auckland"}, "u4", now) is None
    assert quiet.quiet_until({"timezone": "Pacific/Auckland"}, "u4", now - timedelta(hours=1)) == (
        utc(6, 1, 20, 0)  # 07:30 in Auckland: until 08:00 there
    )


def test_a_users_own_window_wins_over_the_service_one_when_the_field_is_mapped() -> None:
    quiet = policy(
        quietHours={"start": "21:00", "end": "08:00"},
        userFields={"quietHours": "dnd", "timezone": "tz"},
    )
    now = utc(6, 1, 12, 0)
    assert quiet.enabled
    assert quiet.projection() == {"_id": 1, "tz": 1, "dnd": 1}  # the id field is _id by default
    lunch = {"start": "11:00", "end": "13:00"}
    assert quiet.quiet_until({"dnd": lunch}, "u1", now) == utc(6, 1, 13, 0)
    assert quiet.quiet_until({"dnd": lunch, "tz": "Europe/Rome"}, "u2", now) is None  # 14:00 there
    assert quiet.quiet_until({}, "u3", now) is None  # no window of their own: the service's (21–08)
    only_users = policy(userFields={"quietHours": "dnd"})
    assert only_users.enabled and only_users.quiet_until({}, "u4", now) is None
    assert not policy().enabled


def test_a_bad_user_value_is_ignored_with_one_warning_and_the_service_window_applies(
    caplog: pytest.LogCaptureFixture,
) -> None:
    quiet = policy(quietHours={"start": "21:00", "end": "08:00"}, userFields={"quietHours": "dnd"})
    night = utc(6, 1, 23, 0)  # inside the service window (UTC)
    with caplog.at_level(logging.WARNING, logger="host.audience.quiet_hours"):
        for _ in range(3):  # a dispatch meets the same user's value on every retry: one warning
            bad = {"dnd": {"start": "25:00", "end": "07:00"}}
            assert quiet.quiet_until(bad, "u1", night) == utc(6, 2, 8, 0)
        assert quiet.quiet_until({"dnd": "all night"}, "u2", night) == utc(6, 2, 8, 0)
        assert quiet.quiet_until({"timezone": "Mars/Olympus"}, "u3", night) == utc(6, 2, 8, 0)
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 3, warnings
    assert "user u1: ignoring dnd for quiet hours: start: '25:00'" in warnings[0]
    assert "the service's quiet hours apply" in warnings[0]
    assert "user u3: ignoring timezone" in warnings[2] and "defaultTimezone applies" in warnings[2]
