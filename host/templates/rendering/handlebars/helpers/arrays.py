"""handlebars-helpers' array and collection groups: ``first``, ``last``, ``join``, ``sortBy``, ``withFirst``…

Helpers that sort or reverse sort a copy: the data a dispatch shares between its users is never changed
(the library sorts the array in place, and ``forEach`` writes ``index``/``total``/``isFirst``/``isLast``
into each item; here each item is a copy with those keys added).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import Any

from host.errors import RenderError
from host.templates.rendering import budget
from host.templates.rendering.handlebars import js, js_numbers, js_text
from host.templates.rendering.handlebars.helpers.conventions import (
    block_value,
    call,
    ensure_fits,
    get_value,
    is_number,
    is_options,
    is_string,
    is_undefined,
    property_of,
    spread,
)
from host.templates.rendering.handlebars.helpers.strings import js_slice
from host.templates.rendering.handlebars.js import UNDEFINED
from host.templates.rendering.handlebars.runtime import Helper, lookup_property

__all__ = ["ARRAY", "item_of", "js_sort", "length_of", "run_body", "slice_of"]


def length_of(value: Any) -> int:
    """``value.length`` as a loop bound (a TypeError on null and undefined; 0 if not a number)."""
    length = js.to_number(property_of(value, "length"))
    return int(length) if length == length and not math.isinf(length) and length > 0 else 0


def item_of(value: Any, index: Any) -> Any:
    """``value[index]``."""
    return property_of(value, js.to_string(index))


def slice_of(value: Any, start: Any, end: Any = UNDEFINED) -> Any:
    """``value.slice(start, end)`` for an array or a string."""
    if isinstance(value, str):
        return js_slice(value, start, end)
    if not js.is_array(value):
        raise RenderError(f"{js.kind_of(value)}.slice is not a function")
    length = len(value)

    def index(bound: Any) -> int:
        number = js_numbers.to_integer(js.to_number(bound))
        if number < 0:
            return int(max(length + number, 0))
        return int(min(number, length))

    begin = index(start)
    stop = length if end is UNDEFINED else index(end)
    return list(value[begin:stop]) if stop > begin else []


def items_of(value: Any, name: str) -> list[Any]:
    if not js.is_array(value):
        raise RenderError(f"{js.kind_of(value)}.{name} is not a function")
    budget.tick(len(value))
    return [js.plain(item) for item in value]


def _default_key(value: Any) -> bytes:
    return js.to_string(value).encode("utf-16-be", "surrogatepass")


def js_sort(values: Any, compare: Any = None) -> list[Any]:
    """``Array.prototype.sort`` on a copy: by UTF-16 string order, or ``compare``; undefined last."""
    items = [js.plain(item) for item in values]
    budget.tick(len(items) * max(1, len(items).bit_length()))
    defined = [item for item in items if item is not UNDEFINED]
    missing = [item for item in items if item is UNDEFINED]
    if compare is None:
        defined.sort(key=_default_key)
    else:
        defined.sort(key=functools.cmp_to_key(compare))
    return defined + missing


def run_body(options: Any, contexts: list[Any]) -> str:
    fn = lookup_property(options, "fn")
    return "".join(js.to_string(call(fn, context)) for context in contexts)


def after(this: Any, args: list[Any]) -> Any:
    array, n = spread(args, 2)
    return "" if is_undefined(array) else slice_of(array, n)


def arrayify(this: Any, args: list[Any]) -> Any:
    (value,) = spread(args, 1)
    if not js.to_boolean(value):
        return []
    return value if js.is_array(value) else [value]


def before(this: Any, args: list[Any]) -> Any:
    array, n = spread(args, 2)
    return "" if is_undefined(array) else slice_of(array, 0, -js.to_number(n))


def first(this: Any, args: list[Any]) -> Any:
    array, n = spread(args, 2)
    if is_undefined(array):
        return ""
    if not is_number(n):
        return item_of(array, 0)
    return slice_of(array, 0, n)


def in_array(this: Any, args: list[Any]) -> Any:
    array, value, options = spread(args, 3)
    found = any(js.strict_equals(item_of(array, i), value) for i in range(length_of(array)))
    return block_value(found, this, options)


def item_at(this: Any, args: list[Any]) -> Any:
    array, index = spread(args, 2)
    if not js.is_array(array):
        return UNDEFINED
    position = js.to_number(index) if is_number(index) else 0
    if position < 0:
        return item_of(array, len(array) + position)
    if position < len(array):
        return item_of(array, position)
    return UNDEFINED


def join(this: Any, args: list[Any]) -> Any:
    array, separator = spread(args, 2)
    if isinstance(array, str):
        return array
    if not js.is_array(array):
        return ""
    glue = separator if is_string(separator) else ", "
    budget.tick(len(array))
    texts = ["" if js.is_nullish(item) else js.to_string(item) for item in array]
    ensure_fits(sum(map(len, texts)) + max(len(texts) - 1, 0) * len(glue), "the result of join")
    return glue.join(texts)


def equals_length(this: Any, args: list[Any]) -> Any:
    value, length, options = spread(args, 3)
    if is_options(length):
        options, length = length, 0
    size = len(value) if js.is_array(value) else js_text.length(value) if isinstance(value, str) else 0
    return block_value(js.strict_equals(size, length), this, options)


def last(this: Any, args: list[Any]) -> Any:
    value, n = spread(args, 2)
    if not js.is_array(value) and not isinstance(value, str):
        return ""
    size = js.to_number(lookup_property(value, "length"))
    if not is_number(n):
        return item_of(value, js.to_string(size - 1))
    return slice_of(value, -abs(js.to_number(n)))


def length(this: Any, args: list[Any]) -> Any:
    (value,) = spread(args, 1)
    if js.is_object(value) and not is_options(value):
        return len(value) if isinstance(value, Mapping) else 0
    if isinstance(value, str) or js.is_array(value):
        return js.to_number(lookup_property(value, "length"))
    return 0


def map_helper(this: Any, args: list[Any]) -> Any:
    array, iterator = spread(args, 2)
    if not js.is_array(array):
        return ""
    if js.typeof(iterator) != "function":
        return array
    return [iterator(item, i, array) for i, item in enumerate(array)]


def pluck(this: Any, args: list[Any]) -> Any:
    array, prop = spread(args, 2)
    if is_undefined(array):
        return ""
    values = (get_value(item_of(array, i), prop) for i in range(length_of(array)))
    return [value for value in values if value is not UNDEFINED]


def sort(this: Any, args: list[Any]) -> Any:
    array, options = spread(args, 2)
    if not js.is_array(array):
        return ""
    ordered = js_sort(array)
    if js.to_boolean(get_value(options, "hash.reverse")):
        ordered.reverse()
    return ordered


def _default_compare(a: Any, b: Any) -> int:
    """The default-compare package: null before undefined at the end, else ``<`` and ``>``."""
    kind_a, kind_b = js.kind_of(a), js.kind_of(b)
    if kind_a == "null":
        return 0 if kind_b == "null" else -1 if kind_b == "undefined" else 1
    if kind_a == "undefined":
        return 1 if kind_b == "null" else 0 if kind_b == "undefined" else 1
    if kind_b in ("null", "undefined"):
        return -1
    return -1 if js.js_lt(a, b) else 1 if js.js_gt(a, b) else 0


def sort_by(this: Any, args: list[Any]) -> Any:
    array, prop = spread(args, 2)
    if not js.is_array(array):
        return ""
    if not is_string(prop) and js.typeof(prop) != "function":
        return js_sort(array)
    props: list[Any] = []
    for value in args[1:-1]:
        props.extend(value if js.is_array(value) else [value])
    opts: Any = {}
    if props and js.kind_of(props[-1]) == "object":
        opts = props.pop()
    descending = isinstance(opts, Mapping) and opts.get("reverse") is True

    def compare(a: Any, b: Any) -> int:
        result = 0
        for name in props:
            if js.to_boolean(name) and js.typeof(a) == "object" and js.typeof(b) == "object":
                result = _default_compare(get_value(a, name), get_value(b, name))
            else:
                result = _default_compare(a, b)
            if result != 0:
                break
        return -result if descending else result

    return js_sort(array, compare)


def unique(this: Any, args: list[Any]) -> Any:
    (array,) = spread(args, 1)
    if is_undefined(array):
        return ""
    items = items_of(array, "filter")
    seen: set[Any] = set()
    kept: list[Any] = []
    for item in items:
        if isinstance(item, float) and item != item:
            continue  # indexOf never finds NaN, so the library drops every NaN
        kind = js.typeof(item)
        key: tuple[str, Any] = (kind, item)
        if kind in ("object", "function") and item is not None:
            key = ("object", id(item))
        elif kind == "number":
            key = (kind, float(item))
        if key not in seen:
            seen.add(key)
            kept.append(item)
    return kept


ARRAY: dict[str, Helper] = {
    "after": after,
    "arrayify": arrayify,
    "before": before,
    "first": first,
    "inArray": in_array,
    "isArray": lambda this, args: js.is_array(spread(args, 1)[0]),
    "itemAt": item_at,
    "join": join,
    "equalsLength": equals_length,
    "last": last,
    "length": length,
    "lengthEqual": equals_length,
    "map": map_helper,
    "pluck": pluck,
    "sort": sort,
    "sortBy": sort_by,
    "unique": unique,
}
