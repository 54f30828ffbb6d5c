"""Locale-aware number, currency and date formatting for templates, all through Babel (CLDR data)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from babel import dates as babel_dates
from babel import numbers as babel_numbers
from jinja2 import Undefined

from host.errors import RenderError
from host.templates.rendering.dates import resolve_timezone, to_datetime
from host.templates.rendering.locales import current_locale

__all__ = [
    "format_currency",
    "format_date",
    "format_datetime",
    "format_number",
]


def _number(value: Any, helper: str) -> int | float | Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise RenderError(f"{helper}: {value!r} is not a number")
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            raise RenderError(f"{helper}: {value!r} is not a number") from None
    return value


def _missing(value: Any) -> bool:
    return value is None or isinstance(value, Undefined)


def format_number(value: Any, locale: str | None = None, format: str | None = None) -> str:
    """``1234567.891`` → ``1,234,567.891`` (en-US), ``1.234.567,891`` (it-IT, de-DE).

    ``format`` is an optional CLDR number pattern such as ``#,##0.00``.
    """
    if _missing(value):
        return ""
    number = _number(value, "formatNumber")
    return babel_numbers.format_decimal(number, format=format, locale=current_locale(locale))


def format_currency(value: Any, currency: str, locale: str | None = None, format: str | None = None) -> str:
    """``1234.5, 'EUR'`` → ``€1,234.50`` (en-US), ``1.234,50 €`` (it-IT, de-DE)."""
    if _missing(value):
        return ""
    if not isinstance(currency, str) or not currency:
        raise RenderError("formatCurrency: the currency must be an ISO 4217 code such as 'EUR'")
    number = _number(value, "formatCurrency")
    return babel_numbers.format_currency(number, currency, format=format, locale=current_locale(locale))


def _zoned(value: Any, tz: str | None, helper: str) -> datetime | None:
    moment = to_datetime(value, helper)
    if moment is None:
        return None
    return moment.astimezone(resolve_timezone(tz))


def format_date(value: Any, format: str = "medium", locale: str | None = None, tz: str | None = None) -> str:
    """The date of ``value`` in ``tz``: ``format`` is short/medium/long/full or a CLDR date pattern."""
    moment = _zoned(value, tz, "formatDate")
    if moment is None:
        return ""
    return babel_dates.format_date(moment.date(), format=format, locale=current_locale(locale))


def format_datetime(
    value: Any, format: str = "medium", locale: str | None = None, tz: str | None = None
) -> str:
    """Date and time of ``value`` in ``tz``: short/medium/long/full or a CLDR date-time pattern."""
    moment = _zoned(value, tz, "formatDateTime")
    if moment is None:
        return ""
    return babel_dates.format_datetime(
        moment, format=format, tzinfo=moment.tzinfo, locale=current_locale(locale)
    )
