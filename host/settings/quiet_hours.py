"""Quiet hours as written in the configuration file (``quietHours``) and in user documents.

A window is two times of day, ``{"start": "21:00", "end": "08:00"}`` (24-hour ``HH:MM``; a start after
the end spans midnight), read in the user's time zone. host.audience.quiet_hours turns a window into the
instants it covers; host.delivery.quiet_hours defers deliveries that fall inside one.
"""

from __future__ import annotations

import re
from datetime import time
from typing import Any

import msgspec

__all__ = ["QuietHours", "parse_clock", "parse_window"]

_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")


class QuietHours(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``quietHours``: from ``start`` to ``end``, both ``HH:MM`` in the user's time zone."""

    start: str
    end: str


def parse_clock(value: object) -> time:
    """``"21:00"`` → 21:00; ValueError saying why for anything else (``"25:00"``, ``"9pm"``, ``8``)."""
    if not isinstance(value, str):
        raise ValueError(f"expected a time of day as a string like '21:00', got {value!r}")
    found = _CLOCK.fullmatch(value.strip())
    if found is None:
        raise ValueError(f"{value!r} is not a time of day (HH:MM, 24-hour, e.g. '21:00')")
    hour, minute = int(found[1]), int(found[2])
    if hour > 23 or minute > 59:
        raise ValueError(f"{value!r} is not a time of day (00:00 to 23:59)")
    return time(hour, minute)


def parse_window(value: Any) -> tuple[time, time]:
    """A window's (start, end) from a mapping ``{"start", "end"}``; ValueError naming the wrong part.

    The error's message starts with the key that is wrong (``start: ...``), so callers can prefix it
    with where the window came from.
    """
    if isinstance(value, QuietHours):
        value = {"start": value.start, "end": value.end}
    if not isinstance(value, dict):
        raise ValueError(f"expected an object like {{'start': '21:00', 'end': '08:00'}}, got {value!r}")
    unknown = sorted(set(value) - {"start", "end"})
    if unknown:
        raise ValueError(f"{unknown[0]}: unknown key (a window has start and end)")
    times = []
    for key in ("start", "end"):
        if key not in value:
            raise ValueError(f"{key}: required")
        try:
            times.append(parse_clock(value[key]))
        except ValueError as exc:
            raise ValueError(f"{key}: {exc}") from None
    start, end = times
    if start == end:
        raise ValueError("end: equals start, so the window would be empty")
    return start, end
