"""``dateNow`` and ``dateFormat``: day.js-style date formatting with IANA time zones.

``dateFormat(date, format, tz)`` takes an ISO 8601 string (``Z`` or an offset; without one it is UTC, as
day.js reads it on a UTC server), a ``datetime`` (naive means UTC), a ``date``, or epoch milliseconds.
A missing value (undefined or null) renders as an empty string. Without ``format`` the result is day.js'
own ISO 8601 default, ``YYYY-MM-DDTHH:mm:ssZ``; without ``tz`` it is the renderer's default zone (UTC
unless configured otherwise).

Format tokens are day.js core's: ``YYYY YY M MM MMM MMMM D DD d dd ddd dddd H HH h hh m mm s ss SSS
A a Z ZZ``; text inside ``[brackets]`` is copied as is; any other character is copied too. Month, weekday
and AM/PM names come from the locale (Babel's CLDR data); months take their stand-alone form (``MMMM YYYY``
→ "luglio 2024") unless the pattern also shows the day, where languages such as Russian or Polish inflect.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from typing import Any, Literal

from babel import Locale
from babel import dates as babel_dates
from jinja2 import Undefined

from host.errors import RenderError
from host.templates.rendering import budget
from host.templates.rendering.locales import current_locale

__all__ = ["DEFAULT_FORMAT", "date_format", "date_now", "resolve_timezone", "to_datetime"]

DEFAULT_FORMAT = "YYYY-MM-DDTHH:mm:ssZ"

# The same alternatives as day.js' REGEX_FORMAT, longest first so "MMMM" is not read as "MM" twice.
_TOKENS = re.compile(r"\[([^\]]+)]|YYYY|YY|MMMM|MMM|MM|M|DD|D|dddd|ddd|dd|d|HH|H|hh|h|mm|m|ss|s|SSS|ZZ|Z|A|a")
_SHOWS_DAY = re.compile(r"D[oD]?(\[[^\[\]]*\]|\s)+MMMM?")
_ZONE_NAME = re.compile(r"[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*")
_MAX_FORMAT = 1000
_WEEKDAY_WIDTHS: dict[str, Literal["short", "abbreviated", "wide"]] = {
    "dd": "short",
    "ddd": "abbreviated",
    "dddd": "wide",
}


def date_now() -> datetime:
    """The current date-time, timezone-aware, in UTC: the active render's instant, if one is running."""
    state = budget.active_state()
    if state is not None and state.now is not None:
        return state.now
    return datetime.now(UTC)


@functools.lru_cache(maxsize=64)
def _zone(name: str) -> tzinfo:
    if name in ("UTC", "Z", "Etc/UTC"):
        return UTC
    if not _ZONE_NAME.fullmatch(name):
        raise RenderError(f"unknown time zone {name!r}")
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise RenderError(f"unknown time zone {name!r}") from None


def resolve_timezone(name: str | None) -> tzinfo:
    """The IANA zone ``name``, or the active render's default zone when ``name`` is None."""
    if name is None or isinstance(name, Undefined):
        state = budget.active_state()
        name = state.timezone if state is not None else "UTC"
    if not isinstance(name, str):
        raise RenderError(f"a time zone must be an IANA name such as 'Europe/Rome', not {name!r}")
    return _zone(name)


def to_datetime(value: Any, helper: str = "dateFormat") -> datetime | None:
    """An aware datetime for ``value``, None for a missing value; RenderError if it is not a date."""
    if value is None or isinstance(value, Undefined):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(float(value) / 1000, UTC)
        except (OverflowError, OSError, ValueError):
            raise RenderError(f"{helper}: {value!r} milliseconds is out of range") from None
    if isinstance(value, str) and len(value) <= 64:
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            pass
        else:
            return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    shown = value if not isinstance(value, str) or len(value) <= 64 else value[:64] + "…"
    raise RenderError(
        f"{helper}: cannot read {shown!r} as a date (expected ISO 8601, epoch milliseconds or a date)"
    )


def _offset(moment: datetime, colon: bool) -> str:
    offset = moment.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "+" if minutes >= 0 else "-"
    hours, minutes = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}{':' if colon else ''}{minutes:02d}"


def _field(code: str, moment: datetime, locale: Locale, standalone_months: bool) -> str:
    hour12 = moment.hour % 12 or 12
    month_context: Literal["format", "stand-alone"] = "stand-alone" if standalone_months else "format"
    sunday_first = (moment.weekday() + 1) % 7
    match code:
        case "YYYY":
            return f"{moment.year:04d}"
        case "YY":
            return str(moment.year)[-2:]
        case "M" | "MM":
            return f"{moment.month:0{len(code)}d}"
        case "MMM":
            return str(babel_dates.get_month_names("abbreviated", month_context, locale)[moment.month])
        case "MMMM":
            return str(babel_dates.get_month_names("wide", month_context, locale)[moment.month])
        case "D" | "DD":
            return f"{moment.day:0{len(code)}d}"
        case "d":
            return str(sunday_first)
        case "dd" | "ddd" | "dddd":
            width = _WEEKDAY_WIDTHS[code]
            return str(babel_dates.get_day_names(width, "format", locale)[moment.weekday()])
        case "H" | "HH":
            return f"{moment.hour:0{len(code)}d}"
        case "h" | "hh":
            return f"{hour12:0{len(code)}d}"
        case "m" | "mm":
            return f"{moment.minute:0{len(code)}d}"
        case "s" | "ss":
            return f"{moment.second:0{len(code)}d}"
        case "SSS":
            return f"{moment.microsecond // 1000:03d}"
        case "Z" | "ZZ":
            return _offset(moment, colon=code == "Z")
        case _:  # "A" or "a"
            periods = babel_dates.get_period_names("abbreviated", "format", locale)
            name = str(periods["am" if moment.hour < 12 else "pm"])
            return name if code == "A" else name.lower()


def date_format(
    date: Any, format: str | None = None, tz: str | None = None, locale: str | None = None
) -> str:
    """Format ``date`` day.js-style in the IANA zone ``tz``; see the module docstring for the tokens."""
    moment = to_datetime(date)
    if moment is None:
        return ""
    if format is None or isinstance(format, Undefined):
        format = DEFAULT_FORMAT
    if not isinstance(format, str):
        raise RenderError(f"dateFormat: the format must be a string, not {format!r}")
    if len(format) > _MAX_FORMAT:
        raise RenderError(f"dateFormat: the format is longer than {_MAX_FORMAT} characters")
    moment = moment.astimezone(resolve_timezone(tz))
    language = current_locale(locale)
    standalone_months = not _SHOWS_DAY.search(format)

    def replace(match: re.Match[str]) -> str:
        escaped = match.group(1)
        if escaped is not None:
            return escaped
        return _field(match.group(0), moment, language, standalone_months)

    return _TOKENS.sub(replace, format)
