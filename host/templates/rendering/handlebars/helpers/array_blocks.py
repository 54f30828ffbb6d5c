"""handlebars-helpers' block helpers over arrays and objects: ``forEach``, ``withFirst``, ``iterate``, …

They render their body once per item (or per key), with the item as the context; ``forEach`` and
``forOwn`` add their ``@index``/``@key`` to a data frame made from the options object, as the library does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from host.errors import RenderError
from host.templates.rendering.handlebars import js, js_numbers
from host.templates.rendering.handlebars.helpers.arrays import (
    item_of,
    items_of,
    js_sort,
    length_of,
    run_body,
    slice_of,
)
from host.templates.rendering.handlebars.helpers.conventions import (
    block_fn,
    block_value,
    call,
    get_value,
    hash_of,
    is_options,
    is_undefined,
    property_of,
    spread,
)
from host.templates.rendering.handlebars.helpers.numbers import js_remainder
from host.templates.rendering.handlebars.helpers.strings import js_slice
from host.templates.rendering.handlebars.js import UNDEFINED
from host.templates.rendering.handlebars.runtime import Helper, create_frame, lookup_property

__all__ = ["ARRAY_BLOCKS", "COLLECTION", "for_own"]


def each_index(this: Any, args: list[Any]) -> Any:
    array, options = spread(args, 2)
    contexts = [{"item": item_of(array, i), "index": i} for i in range(length_of(array))]
    return run_body(options, contexts)


def filter_helper(this: Any, args: list[Any]) -> Any:
    array, value, options = spread(args, 3)
    hashed = lookup_property(options, "hash")
    prop = UNDEFINED
    if js.to_boolean(hashed):
        prop = lookup_property(hashed, "property")
        if not js.to_boolean(prop):
            prop = lookup_property(hashed, "prop")
    items = items_of(array, "filter")
    if js.to_boolean(prop):
        results = [item for item in items if js.strict_equals(value, get_value(item, prop))]
    else:
        results = [item for item in items if js.strict_equals(value, item)]
    if results:
        return run_body(options, results)
    return call(lookup_property(options, "inverse"), this)


def _for_each(this: Any, args: list[Any]) -> Any:
    array, options = spread(args, 2)
    if not js.is_object(options):
        raise RenderError("createFrame expects data to be an object")
    data = create_frame(options, hash_of(options))
    length = length_of(array)
    out: list[str] = []
    for i in range(length):
        item = item_of(array, i)
        data["index"] = i
        if isinstance(item, Mapping):
            item = {**item, "index": i + 1, "total": length, "isFirst": i == 0, "isLast": i == length - 1}
        elif not js.is_array(item):
            raise RenderError(f"cannot create property 'index' on {js.kind_of(item)} '{js.to_string(item)}'")
        out.append(js.to_string(call(lookup_property(options, "fn"), item, data)))
    return "".join(out)


def some(this: Any, args: list[Any]) -> Any:
    array, iterator, options = spread(args, 3)
    if js.is_array(array):
        for i, item in enumerate(array):
            if js.to_boolean(call(iterator, item, i, array)):
                return call(lookup_property(options, "fn"), this)
    return call(lookup_property(options, "inverse"), this)


def _with_each(slice_of: Any) -> Helper:
    def helper(this: Any, args: list[Any]) -> Any:
        array, index, options = spread(args, 3)
        if not js.is_array(array):
            return ""
        return run_body(options, [js.plain(item) for item in slice_of(array, index)])

    return helper


def _with_end(first_items: bool) -> Helper:
    def helper(this: Any, args: list[Any]) -> Any:
        array, index, options = spread(args, 3)
        if is_undefined(array):
            return ""
        if not is_undefined(index):
            index = js_numbers.parse_float(js.to_string(index))
        if is_undefined(index):
            options = index
            position = 0 if first_items else js.to_number(property_of(array, "length")) - 1
            return call(lookup_property(options, "fn"), item_of(array, js.to_string(position)))
        chosen = slice_of(array, 0, index) if first_items else slice_of(array, -index)
        return run_body(options, [js.plain(item) for item in _iterable(chosen)])

    return helper


def _iterable(value: Any) -> list[Any]:
    if isinstance(value, str):
        return [js_slice(value, i, i + 1) for i in range(len(value))]
    return list(value)


def with_group(this: Any, args: list[Any]) -> Any:
    array, size, options = spread(args, 3)
    if not js.is_array(array) or not array:
        return ""
    step = js.to_number(size)
    groups: list[Any] = []
    current: list[Any] = []
    for i, item in enumerate(array):
        if i > 0 and js_remainder(float(i), float(step)) == 0:
            groups.append(current)
            current = []
        current.append(js.plain(item))
    groups.append(current)
    return run_body(options, groups)


def with_sort(this: Any, args: list[Any]) -> Any:
    array, prop, options = spread(args, 3)
    if is_undefined(array):
        return ""
    if not js.is_array(array):
        raise RenderError(f"{js.kind_of(array)}.sort is not a function")
    if is_undefined(prop):
        options = prop
        ordered = js_sort(array)
    else:

        def compare(a: Any, b: Any) -> int:
            a, b = get_value(a, prop), get_value(b, prop)
            return 1 if js.js_gt(a, b) else -1 if js.js_lt(a, b) else 0

        ordered = js_sort(array, compare)
    if js.to_boolean(get_value(options, "hash.reverse")):
        ordered.reverse()
    return run_body(options, ordered)


def for_own(this: Any, args: list[Any]) -> Any:
    """``{{#forOwn object}}``: the body per own key, with ``@key``."""
    target, options = spread(args, 2)
    if not is_options(options):
        return call(property_of(target, "inverse"), this)
    data = create_frame(options, hash_of(options))
    out: list[str] = []
    for key, value in _own_entries(target):
        data["key"] = key
        out.append(js.to_string(call(lookup_property(options, "fn"), value, data)))
    return "".join(out)


def _own_entries(target: Any) -> list[tuple[str, Any]]:
    """The keys ``for…in`` visits: an object's keys, an array's or a string's indexes."""
    if isinstance(target, Mapping):
        return list(js.items(target))
    if js.is_array(target):
        return [(str(i), js.plain(item)) for i, item in enumerate(target)]
    if isinstance(target, str):
        return [(str(i), js_slice(target, i, i + 1)) for i in range(len(target))]
    return []


def is_empty(this: Any, args: list[Any]) -> Any:
    collection, options = spread(args, 2)
    if not is_options(options):
        return block_fn(True, this, collection)
    if js.is_array(collection) and not collection:
        return block_fn(True, this, options)
    if js.is_nullish(collection):
        raise RenderError("cannot convert undefined or null to object")
    keys = _own_entries(collection)
    empty = js.typeof(collection) == "object" and not keys
    return block_value(empty, this, options)


def iterate(this: Any, args: list[Any]) -> Any:
    collection, options = spread(args, 2)
    if js.is_array(collection):
        return _for_each(None, args)
    if js.is_object(collection):
        return for_own(None, args)
    return call(lookup_property(options, "inverse"), this)


ARRAY_BLOCKS: dict[str, Helper] = {
    "eachIndex": each_index,
    "filter": filter_helper,
    "forEach": _for_each,
    "some": some,
    "withAfter": _with_each(lambda array, index: slice_of(array, index)),
    "withBefore": _with_each(lambda array, index: slice_of(array, 0, -js.to_number(index))),
    "withFirst": _with_end(first_items=True),
    "withGroup": with_group,
    "withLast": _with_end(first_items=False),
    "withSort": with_sort,
}


COLLECTION: dict[str, Helper] = {"isEmpty": is_empty, "iterate": iterate}
