"""The functions every message template can call, in both syntaxes.

``dateNow()``, ``dateFormat(date, format, tz)``, ``formatNumber(value, locale)``,
``formatCurrency(value, currency, locale)``, ``formatDate(value, format, locale, tz)``,
``formatDateTime(value, format, locale, tz)``, the comparisons ``eq ne lt gt lte gte`` (comparing
values of different kinds, or a missing one, with ``lt``/``gt``/… is false rather than an error, as in
JavaScript), and a ``range`` capped at :attr:`RenderLimits.max_range` items.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from jinja2 import UndefinedError

from host.errors import RenderError
from host.templates.rendering import budget
from host.templates.rendering.dates import date_format, date_now
from host.templates.rendering.locale_format import (
    format_currency,
    format_date,
    format_datetime,
    format_number,
)

__all__ = ["TEMPLATE_FUNCTIONS", "bounded_range"]


def bounded_range(*args: int) -> range:
    """``range()`` refusing more items than the active render allows."""
    if not all(isinstance(arg, int) for arg in args):
        raise RenderError("range() takes integers")
    numbers = range(*args)
    state = budget.active_state()
    limit = state.limits.max_range if state is not None else budget.RenderLimits().max_range
    if len(numbers) > limit:
        raise RenderError(f"range() of {len(numbers)} items (at most {limit})")
    return numbers


def eq(left: Any, right: Any) -> bool:
    """``left == right``."""
    return bool(left == right)


def ne(left: Any, right: Any) -> bool:
    """``left != right``."""
    return bool(left != right)


def _ordering(compare: Callable[[Any, Any], Any]) -> Callable[[Any, Any], bool]:
    def ordered(left: Any, right: Any) -> bool:
        try:
            return bool(compare(left, right))
        except (TypeError, UndefinedError):
            return False

    ordered.__doc__ = f"``left {compare.__name__} right``; false when the two cannot be compared."
    return ordered


TEMPLATE_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "range": bounded_range,
    "dateNow": date_now,
    "dateFormat": date_format,
    "formatNumber": format_number,
    "formatCurrency": format_currency,
    "formatDate": format_date,
    "formatDateTime": format_datetime,
    "eq": eq,
    "ne": ne,
    "lt": _ordering(operator.lt),
    "gt": _ordering(operator.gt),
    "lte": _ordering(operator.le),
    "gte": _ordering(operator.ge),
}
