"""Dates and locales: handlebars-helpers' ``year``/``date``/``moment``, Mia's ``dateNow``/``dateFormat``/
``toLocale``, and Tidings' ``formatNumber``/``formatCurrency``/``formatDate``/``formatDateTime``.

"Now" is the render's instant (one per render). ``moment`` shows dates in the renderer's default time zone
(Mia shows them in its container's, UTC) and in English, the only moment.js locale available here; it
reads ISO 8601 strings and epoch milliseconds, and refuses the natural-language phrases ("next friday")
date.js would guess at.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from babel import numbers as babel_numbers

from host.errors import RenderError
from host.templates.rendering import budget, dates, locale_format
from host.templates.rendering.handlebars import js
from host.templates.rendering.handlebars.helpers.conventions import hash_of, is_options, spread
from host.templates.rendering.handlebars.helpers.moment_format import format_moment
from host.templates.rendering.handlebars.js import UNDEFINED
from host.templates.rendering.handlebars.js_numbers import EXACT
from host.templates.rendering.handlebars.runtime import Helper, lookup_property
from host.templates.rendering.locales import current_locale

__all__ = ["DATE", "MIA", "TIDINGS"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ENGLISH = ("en", "en-us", "en_us")
_DEFAULT_FORMAT = "YYYY-MM-DDTHH:mm:ssZ"
_MOMENT_METHODS = frozenset(
    {"add", "subtract", "lang", "fromNow", "from", "to", "toNow", "calendar", "diff", "toISOString", "toJSON",
     "toString", "toDate", "unix", "valueOf", "utc", "local", "startOf", "endOf", "locale", "utcOffset"}
)  # fmt: skip


def _now() -> datetime:
    return dates.date_now()


def _local(moment: datetime) -> datetime:
    """The moment in the renderer's default zone (moment.js' "local time")."""
    return moment.astimezone(dates.resolve_timezone(None))


def _from_epoch(milliseconds: float) -> datetime | None:
    if milliseconds != milliseconds or math.isinf(milliseconds) or abs(milliseconds) > 8.64e15:
        return None
    return _EPOCH + timedelta(milliseconds=math.trunc(milliseconds))


def _parse_iso(text: str, helper: str) -> datetime:
    """An ISO 8601 date or date-time; without an offset it is local time, as JavaScript reads it."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise RenderError(
            f"{helper}: cannot read {text[:64]!r} as a date (ISO 8601 or epoch milliseconds; "
            "natural-language dates are not supported)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dates.resolve_timezone(None))
    return parsed.replace(microsecond=parsed.microsecond // 1000 * 1000)


def _moment(value: Any, helper: str) -> datetime | None:
    """``moment(value)``: now for undefined, invalid (None) for null, epoch ms for numbers, ISO strings."""
    value = js.plain(value)
    if value is UNDEFINED:
        return _now()
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return _from_epoch(float(value))
    if isinstance(value, str):
        return _parse_iso(value, helper)
    raise RenderError(f"{helper}: moment's object and array forms are not supported")


def _language(this: Any, options: Any) -> Any:
    """helper-date's ``opts.lang || opts.language`` over ``this``, ``{lang: 'en'}`` and the hash."""
    merged: dict[str, Any] = dict(js.items(this)) if isinstance(this, Mapping) else {}
    merged["lang"] = "en"
    if is_options(options):
        merged.update(hash_of(options))
    language = merged.get("lang", UNDEFINED)
    return language if js.to_boolean(language) else merged.get("language", UNDEFINED)


def date_helper(this: Any, args: list[Any]) -> Any:
    """handlebars-helpers' ``date``/``moment`` (helper-date): format a date moment.js-style."""
    value, pattern, options = spread(args, 3)
    if is_options(pattern):
        options, pattern = pattern, None
    if is_options(value):
        options, pattern, value = value, None, None
    if js.is_nullish(value) and js.is_nullish(pattern):
        return format_moment(_local(_now()), "MMMM DD, YYYY")
    language = _language(this, options)
    if isinstance(language, str) and language.lower() not in _ENGLISH:
        raise RenderError(f"moment: only English dates are available, not lang={language!r}")
    hashed = hash_of(options) if is_options(options) else {}
    if isinstance(value, str) and isinstance(pattern, str):  # the library reads these with date.js
        return format_moment(_local(_parse_iso(value, "moment")), pattern)
    if is_options(options):
        for key, argument in hashed.items():
            if key == "format":
                moment = _moment(value, "moment")
                return format_moment(_local(moment) if moment else None, _pattern(argument))
            if key in _MOMENT_METHODS:
                raise RenderError(f"moment: the moment method {key!r} is not supported (only format=)")
    if js.is_object(value):
        raise RenderError("moment: moment's object form is not supported")
    if isinstance(value, str) and not js.to_boolean(pattern):
        return format_moment(_local(_now()), value)
    moment = _moment(value, "moment")
    return format_moment(_local(moment) if moment else None, _pattern(pattern))


def _pattern(value: Any) -> str:
    return _DEFAULT_FORMAT if js.is_nullish(value) else js.to_string(value)


def year(this: Any, args: list[Any]) -> Any:
    """``{{year}}``: the current year (UTC); ``{{year "YY"}}`` its last two digits."""
    (pattern,) = spread(args, 1)
    text = str(_now().astimezone(UTC).year)
    if not isinstance(pattern, str):
        return text
    if any(pattern[i : i + 4].lower() == "yyyy" for i in range(len(pattern))):
        return text
    if any(pattern[i : i + 2].lower() == "yy" for i in range(len(pattern))):
        return text[2:4]
    return UNDEFINED


DATE: dict[str, Helper] = {"year": year, "date": date_helper, "moment": date_helper}


def _arguments(args: list[Any], names: tuple[str, ...]) -> dict[str, Any]:
    """Positional arguments then ``key=value`` ones, by name; the first is None when missing, and the
    others are left out (so they take their defaults)."""
    values = dict(zip(names, args[:-1], strict=False))
    values.update(hash_of(args[-1]))
    given = {key: value for key, value in values.items() if key in names and value is not UNDEFINED}
    given.setdefault(names[0], None)
    return given


def date_now(this: Any, args: list[Any]) -> Any:
    """Mia's ``dateNow``: the current date-time as an ISO 8601 string (``2023-10-15T09:30:00.123Z``)."""
    return js.plain(_now())


def date_format(this: Any, args: list[Any]) -> Any:
    """Mia's ``dateFormat date format='DD/MM/YYYY' tz='Europe/Rome'`` (day.js tokens; ISO 8601 and UTC)."""
    given = _arguments(args, ("date", "format", "tz", "locale"))
    text = dates.date_format(given.get("date"), given.get("format"), given.get("tz"), given.get("locale"))
    if given.get("format") is None and text.endswith("+00:00"):  # day.js' default format shows UTC as Z
        return text[: -len("+00:00")] + "Z"
    return text


def _exact(number: float) -> Decimal:
    """The number rounded as Intl.NumberFormat rounds it: its shortest decimal form, to 3 decimals, ties
    away from zero (so 1.0005 rounds up, although the double is a little below it)."""
    rounded = Decimal(repr(number)).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP, context=EXACT)
    return rounded.normalize(context=EXACT)


def _number_in(number: float, tag: str) -> str:
    if number != number:
        return "NaN"
    if math.isinf(number):
        return "∞" if number > 0 else "-∞"
    locale = current_locale(tag)
    value = _exact(number)
    if value == 0:
        return "-0" if math.copysign(1.0, number) < 0 else "0"
    text: str = babel_numbers.format_decimal(value, locale=locale, decimal_quantization=False)
    return text


def _locale_string(value: Any, tag: str, seen: set[int]) -> str:
    value = js.plain(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _number_in(float(value), tag)
    if isinstance(value, str):
        return value
    if js.is_array(value):
        if id(value) in seen:
            return ""
        seen.add(id(value))
        return ",".join("" if js.is_nullish(item) else _locale_string(item, tag, seen) for item in value)
    return js.to_string(value)


def to_locale(this: Any, args: list[Any]) -> Any:
    """Mia's ``toLocale value locale='it-IT'``: ``value.toLocaleString(locale)``; "" for a missing value."""
    value, locale, options = spread(args, 3)
    if is_options(locale):
        options, locale = locale, UNDEFINED
    if js.is_nullish(value):
        return ""
    tag = lookup_property(hash_of(options), "locale") if is_options(options) else UNDEFINED
    if tag is UNDEFINED:
        tag = locale
    if tag is UNDEFINED:
        tag = None
    if tag is not None and not isinstance(tag, str):
        raise RenderError("toLocale: the locale must be a BCP 47 tag such as 'it-IT'")
    current_locale(tag)  # refuses an unknown locale
    return _locale_string(value, tag if tag is not None else _default_tag(), set())


def _default_tag() -> str:
    state = budget.active_state()
    return state.locale if state is not None else "en-US"


MIA: dict[str, Helper] = {"dateNow": date_now, "dateFormat": date_format, "toLocale": to_locale}


def _formatter(function: Callable[..., Any], names: tuple[str, ...]) -> Helper:
    def helper(this: Any, args: list[Any]) -> Any:
        return function(**_arguments(args, names))

    helper.__name__ = function.__name__
    return helper


def _ne(this: Any, args: list[Any]) -> Any:
    a, b = spread(args, 2)
    return not js.strict_equals(a, b)


TIDINGS: dict[str, Helper] = {
    "formatNumber": _formatter(locale_format.format_number, ("value", "locale", "format")),
    "formatCurrency": _formatter(locale_format.format_currency, ("value", "currency", "locale", "format")),
    "formatDate": _formatter(locale_format.format_date, ("value", "format", "locale", "tz")),
    "formatDateTime": _formatter(locale_format.format_datetime, ("value", "format", "locale", "tz")),
    "ne": _ne,
}
