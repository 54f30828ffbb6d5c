"""JavaScript's values as handlebars.js and handlebars-helpers see them: types, conversions, comparisons.

Template data is JSON-shaped Python: ``None`` is ``null``, :data:`UNDEFINED` is ``undefined`` (a missing
key), ``bool``, ``int``/``float`` are numbers, ``str``, lists and tuples are arrays, mappings are objects.
Values a user document may hold that JSON has not (datetimes, ObjectIds, decimals) are read as the JSON
a Mia CRUD service would have sent for them (:func:`plain`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Final

from host.templates.rendering.handlebars import js_numbers

__all__ = [
    "UNDEFINED",
    "Undefined",
    "is_array",
    "is_nullish",
    "is_object",
    "items",
    "js_ge",
    "js_gt",
    "js_le",
    "js_lt",
    "keys",
    "kind_of",
    "less_than",
    "loose_equals",
    "plain",
    "strict_equals",
    "to_boolean",
    "to_number",
    "to_primitive",
    "to_string",
    "typeof",
]


class Undefined:
    """JavaScript's ``undefined``: what a missing key or a missing argument reads as."""

    _instance: Undefined | None = None

    def __new__(cls) -> Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "undefined"


UNDEFINED: Final = Undefined()
_PLAIN = (str, bool, int, float, type(None), Undefined, dict, list, tuple)
_SCALAR = frozenset({str, bool, int, float, type(None), Undefined})
_TYPEOF = {str: "string", bool: "boolean", int: "number", float: "number", dict: "object", list: "object"}
_KIND = {**_TYPEOF, list: "array", tuple: "array", type(None): "null", Undefined: "undefined"}
_INDEX = re.compile(r"0|[1-9][0-9]{0,9}")
_MAX_INDEX = 2**32 - 2


def plain(value: Any) -> Any:
    """``value`` as the JSON a Mia service would have read: datetimes as ISO 8601, ids as strings."""
    if value.__class__ in _PLAIN or isinstance(value, Mapping | list | tuple):
        return value
    if isinstance(value, datetime):  # as Date.prototype.toJSON prints it; naive means UTC (PyMongo's)
        moment = value.astimezone(UTC) if value.tzinfo is not None else value
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    to_decimal = getattr(value, "to_decimal", None)  # bson.Decimal128
    if callable(to_decimal):
        return float(to_decimal())
    if callable(value):
        return value
    return str(value)  # ObjectId, UUID and the like print as their string


def is_nullish(value: Any) -> bool:
    """``value == null``: null or undefined."""
    return value is None or value is UNDEFINED


def is_array(value: Any) -> bool:
    """``Array.isArray(value)``."""
    return value.__class__ is list or isinstance(value, list | tuple)


def is_object(value: Any) -> bool:
    """kind-of's ``'object'``: a plain object (a mapping, or the options object of a helper)."""
    return kind_of(value) == "object"


def typeof(value: Any) -> str:
    """The ``typeof`` operator."""
    kind = _TYPEOF.get(value.__class__)
    if kind is not None:
        return kind
    value = plain(value)
    if value is UNDEFINED:
        return "undefined"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if callable(value) and not isinstance(value, Mapping):
        return "function"
    return "object"


def kind_of(value: Any) -> str:
    """The kind-of package (v6): typeof, with ``'null'`` and ``'array'`` told apart from objects."""
    kind = _KIND.get(value.__class__)
    if kind is not None:
        return kind
    value = plain(value)
    if value is None:
        return "null"
    if is_array(value):
        return "array"
    return typeof(value)


def to_boolean(value: Any) -> bool:
    """``Boolean(value)``: false for undefined, null, false, 0, NaN and ""; true for any object."""
    kind = value.__class__
    if kind is str:
        return bool(value != "")
    if kind is bool:
        return bool(value)
    if kind is int:
        return bool(value != 0)
    if kind is float:
        return bool(value == value and value != 0)
    if value is None or value is UNDEFINED:
        return False
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int | float):
        return bool(value == value and value != 0)
    return not isinstance(value, str) or value != ""


def _join(values: Sequence[Any], seen: set[int]) -> str:
    if id(values) in seen:  # Array.prototype.join prints a cycle as ""
        return ""
    seen.add(id(values))
    try:
        return ",".join("" if is_nullish(item) else _string(item, seen) for item in values)
    finally:
        seen.discard(id(values))


def _string(value: Any, seen: set[int]) -> str:
    value = plain(value)
    if isinstance(value, str):
        return value
    if value is UNDEFINED:
        return "undefined"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return js_numbers.number_to_string(value)
    if is_array(value):
        return _join(value, seen)
    if callable(value) and not isinstance(value, Mapping):
        return "function () { [native code] }"
    return "[object Object]"


def to_string(value: Any) -> str:
    """``String(value)``: arrays join with commas, objects print ``[object Object]``."""
    if isinstance(value, str):
        return value
    return _string(value, set())


def to_primitive(value: Any) -> Any:
    """ToPrimitive with the number hint: arrays and objects become their string, the rest stays."""
    if value.__class__ in _SCALAR:
        return value
    value = plain(value)
    if isinstance(value, Mapping) or is_array(value) or callable(value):
        return to_string(value)
    return value


def to_number(value: Any) -> float | int:
    """``Number(value)``: NaN for what does not read as a number, 0 for null, "" and []."""
    if value.__class__ is int or value.__class__ is float:
        return value
    value = to_primitive(value)
    if value is UNDEFINED:
        return math.nan
    if value is None:
        return 0
    if isinstance(value, bool):
        return 1 if value else 0
    if isinstance(value, int | float):
        return value
    return js_numbers.string_to_number(value)


def _same_type(a: Any, b: Any) -> bool:
    return typeof(a) == typeof(b) and (a is None) == (b is None)


def strict_equals(a: Any, b: Any) -> bool:
    """``a === b``: same type and value; objects and arrays only equal themselves; NaN equals nothing."""
    a, b = plain(a), plain(b)
    if not _same_type(a, b):
        return False
    if isinstance(a, str | bool) or a is None or a is UNDEFINED:
        return bool(a == b)
    if isinstance(a, int | float):
        return bool(float(a) == float(b))
    return a is b


def loose_equals(a: Any, b: Any) -> bool:
    """``a == b``: null equals undefined, strings and booleans compare as numbers, objects as primitives."""
    a, b = plain(a), plain(b)
    if _same_type(a, b):
        return strict_equals(a, b)
    if is_nullish(a) or is_nullish(b):
        return is_nullish(a) and is_nullish(b)
    if isinstance(a, bool):
        return loose_equals(to_number(a), b)
    if isinstance(b, bool):
        return loose_equals(a, to_number(b))
    kind_a, kind_b = typeof(a), typeof(b)
    if kind_a == "number" and kind_b == "string":
        return float(a) == float(to_number(b))
    if kind_a == "string" and kind_b == "number":
        return float(to_number(a)) == float(b)
    if kind_a in ("object", "function") and kind_b in ("number", "string"):
        return loose_equals(to_primitive(a), b)
    if kind_b in ("object", "function") and kind_a in ("number", "string"):
        return loose_equals(a, to_primitive(b))
    return False


def _utf16(text: str) -> bytes:
    return text.encode("utf-16-be", "surrogatepass")


def less_than(a: Any, b: Any) -> bool | None:
    """The abstract relational comparison ``a < b``: None stands for undefined (a NaN was involved)."""
    a, b = to_primitive(a), to_primitive(b)
    if isinstance(a, str) and isinstance(b, str):
        return _utf16(a) < _utf16(b)  # strings compare by UTF-16 code units
    x, y = to_number(a), to_number(b)
    if x != x or y != y:
        return None
    return bool(x < y)


def js_lt(a: Any, b: Any) -> bool:
    """``a < b``."""
    return less_than(a, b) is True


def js_gt(a: Any, b: Any) -> bool:
    """``a > b``."""
    return less_than(b, a) is True


def js_le(a: Any, b: Any) -> bool:
    """``a <= b`` (false when either side is NaN)."""
    return less_than(b, a) is False


def js_ge(a: Any, b: Any) -> bool:
    """``a >= b`` (false when either side is NaN)."""
    return less_than(a, b) is False


def keys(value: Mapping[Any, Any]) -> list[Any]:
    """``Object.keys`` order: array-index keys ascending first, then the others as inserted."""
    indexes: list[tuple[int, Any]] = []
    others: list[Any] = []
    for key in value:
        text = key if isinstance(key, str) else to_string(key)
        if text[:1].isdigit() and _INDEX.fullmatch(text) and int(text) <= _MAX_INDEX:
            indexes.append((int(text), key))
        else:
            others.append(key)
    if not indexes:
        return others
    indexes.sort(key=lambda pair: pair[0])
    return [key for _, key in indexes] + others


def items(value: Mapping[Any, Any]) -> Iterator[tuple[str, Any]]:
    """(key, value) pairs in ``Object.keys`` order, keys as strings."""
    for key in keys(value):
        yield (key if isinstance(key, str) else to_string(key)), value[key]
