"""What templates translated from Handlebars call at render time: truthiness, scopes, JavaScript printing."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from jinja2 import ChainableUndefined, Undefined
from markupsafe import Markup

from host.templates.rendering import budget
from host.templates.rendering.sandbox import iso_datetime

__all__ = ["HANDLEBARS_FUNCTIONS", "js_string", "truthy"]


def truthy(value: Any, include_zero: bool = False) -> bool:
    """Handlebars' ``#if``: false for undefined, null, false, 0 (unless ``include_zero``), NaN, "" and []."""
    if value is None or isinstance(value, Undefined):
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | Decimal):
        if value != value:  # NaN
            return False
        return include_zero or value != 0
    if isinstance(value, str | list | tuple):
        return len(value) > 0
    return True  # objects, even empty ones, are truthy in JavaScript


def js_string(value: Any) -> str:
    """How JavaScript prints ``value`` in a template: true/false, 1 for 1.0, "a,b" for lists."""
    if value is None or isinstance(value, Undefined):
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)
    if isinstance(value, datetime):
        return iso_datetime(value)
    if isinstance(value, Mapping):
        return "[object Object]"
    if isinstance(value, list | tuple):
        budget.ensure_small(value, "printed list")
        return ",".join(js_string(item) for item in value)
    return str(value)


def each_items(value: Any) -> Iterable[tuple[Any, Any]]:
    """``#each``: (index, item) over a list, (key, value) over an object, nothing over anything else."""
    if isinstance(value, Mapping):
        return iter(value.items())
    if isinstance(value, list | tuple):
        return enumerate(value)
    return ()


def lookup(name: str, *contexts: Any) -> Any:
    """The first of ``contexts`` (innermost first) that has ``name``, like Handlebars' compat mode."""
    for context in contexts:
        if isinstance(context, Mapping) and name in context:
            return context[name]
    return ChainableUndefined(name=name)


def raw(value: Any) -> Markup:
    """``{{{triple-stash}}}``: the value printed as is, never escaped."""
    return Markup(js_string(value))  # noqa: S704 - unescaped output is what {{{…}}} asks for


def all_of(*values: Any) -> bool:
    """``(and a b …)``: every value truthy."""
    return all(truthy(value) for value in values)


def any_of(*values: Any) -> bool:
    """``(or a b …)``: some value truthy."""
    return any(truthy(value) for value in values)


def none_of(value: Any) -> bool:
    """``(not a)``: the value is falsy."""
    return not truthy(value)


HANDLEBARS_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "_hb_truthy": truthy,
    "_hb_each": each_items,
    "_hb_lookup": lookup,
    "_hb_raw": raw,
    "_hb_and": all_of,
    "_hb_or": any_of,
    "_hb_not": none_of,
}
