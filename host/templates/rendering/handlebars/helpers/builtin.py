"""Handlebars' own helpers: ``if``, ``unless``, ``each``, ``with``, ``lookup`` and ``blockHelperMissing``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from host.errors import RenderError
from host.templates.rendering.handlebars import js
from host.templates.rendering.handlebars.helpers.conventions import call, hash_of, spread
from host.templates.rendering.handlebars.js import UNDEFINED
from host.templates.rendering.handlebars.runtime import Helper, Options, create_frame, lookup_property

__all__ = ["BUILTIN", "block_helper_missing", "each"]


def _is_empty(value: Any) -> bool:
    """Handlebars' ``isEmpty``: falsy but not 0, or an empty array."""
    zero = isinstance(value, int | float) and not isinstance(value, bool) and value == 0
    if not js.to_boolean(value) and not zero:
        return True
    return js.is_array(value) and len(value) == 0


def if_(this: Any, args: list[Any]) -> Any:
    """``{{#if value}}``: the body when ``value`` is truthy and not an empty array (``includeZero=true``)."""
    if len(args) != 2:
        raise RenderError("#if requires exactly one argument")
    conditional, options = args
    include_zero = js.to_boolean(hash_of(options).get("includeZero", UNDEFINED))
    if (not include_zero and not js.to_boolean(conditional)) or _is_empty(conditional):
        return call(options.inverse, this)
    return call(options.fn, this)


def unless(this: Any, args: list[Any]) -> Any:
    """``{{#unless value}}``: ``#if`` with the two branches swapped."""
    if len(args) != 2:
        raise RenderError("#unless requires exactly one argument")
    conditional, options = args
    swapped = Options(fn=options.inverse, inverse=options.fn, hash=options.hash)
    return if_(this, [conditional, swapped])


def each(this: Any, args: list[Any]) -> Any:
    """``{{#each list}}``: the body per item (or per key of an object) with ``@index @key @first @last``."""
    if len(args) < 2:
        raise RenderError("Must pass iterator to #each")
    context, options = args[0], args[-1]
    fn, inverse = options.fn, options.inverse
    data = create_frame(options.data) if js.to_boolean(options.data) else None
    out: list[str] = []
    count = 0

    def iteration(key: Any, index: int, item: Any, last: bool) -> None:
        if data is not None:
            data["key"] = key
            data["index"] = index
            data["first"] = index == 0
            data["last"] = last
        out.append(js.to_string(call(fn, item, data, [item, key])))

    if js.is_array(context):
        total = len(context)
        for index, item in enumerate(context):
            iteration(index, index, js.plain(item), index == total - 1)
        count = total
    elif isinstance(context, Mapping) and js.typeof(context) == "object":
        keyed = list(js.items(context))
        for index, (key, item) in enumerate(keyed):
            iteration(key, index, js.plain(item), index == len(keyed) - 1)
        count = len(keyed)
    if count == 0:
        return call(inverse, this)
    return "".join(out)


def with_(this: Any, args: list[Any]) -> Any:
    """``{{#with value}}``: the body with ``value`` as its context, unless ``value`` is empty."""
    if len(args) != 2:
        raise RenderError("#with requires exactly one argument")
    context, options = args
    if not _is_empty(context):
        return call(options.fn, context, None, [context])
    return call(options.inverse, this)


def lookup(this: Any, args: list[Any]) -> Any:
    """``(lookup object key)``: the object's own property named by ``key``."""
    target, field = spread(args, 2)
    if not js.to_boolean(target):
        return target
    return lookup_property(target, js.to_string(field))


def block_helper_missing(this: Any, args: list[Any]) -> Any:
    """A block over a value, not a helper: ``{{#flag}}``, ``{{#list}}`` (as each), ``{{#object}}``."""
    context, options = args[0], args[-1]
    if context is True:
        return call(options.fn, this)
    if context is False or js.is_nullish(context):
        return call(options.inverse, this)
    if js.is_array(context):
        if context:
            return each(this, [context, options])
        return call(options.inverse, this)
    return call(options.fn, context, None, ())


BUILTIN: dict[str, Helper] = {
    "if": if_,
    "unless": unless,
    "each": each,
    "with": with_,
    "lookup": lookup,
}
