"""``dateFormat`` and ``dateNow`` in templates: day.js tokens, IANA zones across DST, the renderer's default
zone, and missing or unreadable dates."""

from __future__ import annotations

import pytest

from host.errors import RenderError
from host.templates.rendering import Renderer
from tests.support.rendering import render


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


ROME, NEW_YORK = "Europe/Rome", "America/New_York"


STAMP = "YYYY-MM-DD HH:mm:ss Z"


@pytest.mark.parametrize(
    ("moment", "zone", "expected"),
    [
        ("2024-03-31T00:59:59Z", ROME, "2024-03-31 01:59:59 +01:00"),  # last second of winter time
        ("2024-03-31T01:00:00Z", ROME, "2024-03-31 03:00:00 +02:00"),  # 02:00 never happens
        ("2024-10-27T00:59:59Z", ROME, "2024-10-27 02:59:59 +02:00"),  # fall back: 02:xx twice
        ("2024-10-27T01:00:00Z", ROME, "2024-10-27 02:00:00 +01:00"),
        ("2024-03-10T06:59:59Z", NEW_YORK, "2024-03-10 01:59:59 -05:00"),
        ("2024-03-10T07:00:00Z", NEW_YORK, "2024-03-10 03:00:00 -04:00"),
        ("2024-11-03T05:59:59Z", NEW_YORK, "2024-11-03 01:59:59 -04:00"),
        ("2024-11-03T06:00:00Z", NEW_YORK, "2024-11-03 01:00:00 -05:00"),
        ("2024-06-01T12:00:00+02:00", "Asia/Kolkata", "2024-06-01 15:30:00 +05:30"),
    ],
)
def test_date_format_across_zones_and_dst(renderer: Renderer, moment: str, zone: str, expected: str) -> None:
    text = render(
        renderer,
        "{{ dateFormat(data.at, data.format, data.tz) }}",
        data={"at": moment, "format": STAMP, "tz": zone},
    )
    assert text == expected


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("DD/MM/YYYY", "05/03/2024"),
        ("D/M/YY", "5/3/24"),
        ("HH:mm:ss.SSS", "09:07:04.120"),
        ("h:mm A, hh a", "9:07 AM, 09 am"),
        ("ZZ", "+0000"),
        ("d dd ddd dddd", "2 Tu Tue Tuesday"),
        ("MMM MMMM", "Mar March"),
        ("[Today is] dddd [at] H:mm", "Today is Tuesday at 9:07"),
        ("[YYYY] YYYY", "YYYY 2024"),
    ],
)
def test_date_format_tokens(renderer: Renderer, pattern: str, expected: str) -> None:
    source = "{{ dateFormat('2024-03-05T09:07:04.120Z', data.pattern, 'UTC') }}"
    assert render(renderer, source, data={"pattern": pattern}) == expected


def test_date_format_defaults_are_iso_8601_in_utc(renderer: Renderer) -> None:
    assert render(renderer, "{{ dateFormat('2024-07-01T12:34:56+02:00') }}") == "2024-07-01T10:34:56+00:00"
    assert render(renderer, "{{ dateFormat('2024-07-01') }}") == "2024-07-01T00:00:00+00:00"


def test_date_format_takes_epoch_milliseconds_and_datetimes(renderer: Renderer) -> None:
    source = "{{ dateFormat(data.at, 'YYYY-MM-DD HH:mm:ss', 'Europe/Rome') }}"
    assert render(renderer, source, data={"at": 1711846799000}) == "2024-03-31 01:59:59"
    assert render(renderer, source, data={"at": 1711846800000}) == "2024-03-31 03:00:00"
    from datetime import datetime

    assert render(renderer, source, data={"at": datetime(2024, 1, 1, 12, 0)}) == "2024-01-01 13:00:00"


def test_date_format_uses_the_renderers_default_zone() -> None:
    rome = Renderer(default_timezone="Europe/Rome")
    assert render(rome, "{{ dateFormat('2024-08-01T10:00:00Z', 'HH:mm Z') }}") == "12:00 +02:00"


def test_date_format_of_a_missing_or_bad_date(renderer: Renderer) -> None:
    assert render(renderer, "[{{ dateFormat(data.nope, 'DD') }}]") == "[]"
    with pytest.raises(RenderError, match="cannot read '01/01/2021' as a date"):
        render(renderer, "{{ dateFormat(data.d) }}", data={"d": "01/01/2021"})
    with pytest.raises(RenderError, match="unknown time zone"):
        render(renderer, "{{ dateFormat('2024-01-01', 'DD', 'Mars/Olympus') }}")


def test_date_now_is_current_utc(renderer: Renderer) -> None:
    from datetime import UTC, datetime

    text = render(renderer, "{{ dateNow() }}|{{ dateFormat(dateNow(), 'YYYY') }}")
    now, year = text.split("|")
    assert now.endswith("Z")
    assert abs((datetime.fromisoformat(now) - datetime.now(UTC)).total_seconds()) < 5
    assert year == str(datetime.now(UTC).year)
