"""Quiet hours: whether a user is inside their quiet window at an instant, and when that window ends.

A window is two wall-clock times in the user's time zone (the mapped ``userFields.timezone`` field, else
``defaultTimezone``): the user's own (the mapped ``userFields.quietHours`` field) or the service's
``quietHours``. A user value that cannot be read is ignored with a warning: that user gets the service's
window (or their default time zone).

Daylight saving time is taken as the clock on the wall shows it. A window starts at the first instant
the user's clock shows its start and ends at the first instant after that when it shows its end: on the
night the clock repeats an hour, a window ending at 02:30 ends at the *first* 02:30 (the repeated
02:00–02:30 is not quiet again); on the night it jumps, a time the clock skips (02:30 in Rome) is
reached at the jump, so a window 01:30–03:30 lasts one hour that night, and 01:30–02:30 ends at 03:00.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from host.audience.users import read_field
from host.settings import ServiceConfig
from host.settings.quiet_hours import parse_window

__all__ = ["QuietHoursPolicy", "Window", "first_instant", "window_end"]

log = logging.getLogger(__name__)

Window = tuple[time, time]
#: users whose unreadable values were already logged (one warning per user and value, not per delivery)
_WARNED_KEPT = 1024


def first_instant(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """The first instant (UTC) at which the clock in ``zone`` shows ``clock`` or later on ``day``.

    A time the clock shows twice (the night it goes back) is its first occurrence; a time it skips
    (the night it jumps forward) is the instant of the jump.
    """
    wall = datetime.combine(day, clock)
    instant = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == wall:
        return instant  # the time exists; fold=0 is its first occurrence
    # in a gap: fold=1 reads the time with the offset after the jump (an instant before it), fold=0 with
    # the one before (an instant after it); the jump lies between, found to the second
    low = int(wall.replace(tzinfo=zone, fold=1).timestamp())
    high = int(instant.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def window_end(now: datetime, window: Window, zone: ZoneInfo) -> datetime | None:
    """When the window containing ``now`` ends (UTC), or None when ``now`` is outside it.

    ``window`` is (start, end); a start after the end spans midnight. The end is exclusive.
    """
    start, end = window
    today = now.astimezone(zone).date()
    for day in (today - timedelta(days=1), today):
        begins = first_instant(day, start, zone)
        ends = first_instant(day if end > start else day + timedelta(days=1), end, zone)
        if begins <= now < ends:
            return ends
    return None


class QuietHoursPolicy:
    """The service's quiet hours and the user fields that refine them, read from the configuration."""

    def __init__(self, config: ServiceConfig) -> None:
        fields = config.user_fields
        self.service: Window | None = parse_window(config.quiet_hours) if config.quiet_hours else None
        self.default_zone = ZoneInfo(config.default_timezone)
        self._id_field = fields.id
        self._zone_field = fields.timezone
        self._window_field = fields.quiet_hours
        self._warned: OrderedDict[tuple[str, str], None] = OrderedDict()

    @property
    def enabled(self) -> bool:
        """Whether any delivery can be quiet: a service window, or users' own windows are mapped."""
        return self.service is not None or self._window_field is not None

    def projection(self) -> dict[str, int]:
        """The user fields a decision reads."""
        fields = {"_id": 1, self._id_field: 1, self._zone_field: 1}
        if self._window_field is not None:
            fields[self._window_field] = 1
        return fields

    def quiet_until(self, user: Mapping[str, Any] | None, user_id: str, now: datetime) -> datetime | None:
        """When the user's quiet window containing ``now`` ends, or None if they may be disturbed now."""
        window = self._window_of(user, user_id)
        if window is None:
            return None
        return window_end(now, window, self._zone_of(user, user_id))

    def _window_of(self, user: Mapping[str, Any] | None, user_id: str) -> Window | None:
        if self._window_field is None or user is None:
            return self.service
        value = read_field(user, self._window_field)
        if value is None:
            return self.service
        try:
            return parse_window(value)
        except ValueError as exc:
            self._warn(user_id, self._window_field, f"{exc}; the service's quiet hours apply")
            return self.service

    def _zone_of(self, user: Mapping[str, Any] | None, user_id: str) -> ZoneInfo:
        value = None if user is None else read_field(user, self._zone_field)
        if value is None or value == "":
            return self.default_zone
        try:
            if not isinstance(value, str):
                raise ValueError(f"expected a string, got {value!r}")
            return ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            reason = exc if isinstance(exc, ValueError) else f"{value!r} is not an IANA time zone"
            self._warn(user_id, self._zone_field, f"{reason}; defaultTimezone applies")
            return self.default_zone

    def _warn(self, user_id: str, field: str, reason: str) -> None:
        key = (user_id, field)
        if key in self._warned:
            return
        self._warned[key] = None
        if len(self._warned) > _WARNED_KEPT:
            self._warned.popitem(last=False)
        log.warning("user %s: ignoring %s for quiet hours: %s", user_id, field, reason)
