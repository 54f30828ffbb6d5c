"""The conventions helpers are written with: handlebars-utils, is-number, get-value, falsey, is-even.

A helper receives ``(this, args)``: ``args`` are the template's arguments followed by the options object,
exactly JavaScript's ``arguments``. :func:`spread` pads them to the parameters a JavaScript function
declares, so an argument left out shifts the options object into its place as it does there.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from host.errors import RenderError
from host.templates.rendering import budget
from host.templates.rendering.handlebars import js, js_text
from host.templates.rendering.handlebars.js import UNDEFINED
from host.templates.rendering.handlebars.runtime import Options, lookup_property

__all__ = [
    "block_fn",
    "block_inverse",
    "block_value",
    "call",
    "ensure_fits",
    "falsey",
    "get_value",
    "handlebars_options",
    "hash_of",
    "is_block",
    "is_even",
    "is_number",
    "is_options",
    "is_string",
    "is_undefined",
    "property_of",
    "spread",
]

_NEVER_OPTIONS = frozenset({str, int, float, bool, list, tuple, type(None), js.Undefined})
_FALSEY_WORDS = ("none", "nil", "nope", "no", "nada", "0", "false")


def spread(args: list[Any], count: int) -> list[Any]:
    """The first ``count`` arguments, undefined where fewer were given (JavaScript parameters)."""
    if len(args) >= count:
        return args[:count]
    return args + [UNDEFINED] * (count - len(args))


def property_of(value: Any, name: str) -> Any:
    """``value[name]`` as JavaScript code reads it; a TypeError on null and undefined."""
    if js.is_nullish(value):
        raise RenderError(f"cannot read properties of {js.to_string(value)} (reading '{name}')")
    return lookup_property(value, name)


def is_options(value: Any) -> bool:
    """``utils.isOptions``: an object whose ``hash`` is an object."""
    if value.__class__ is Options:
        return True
    if value.__class__ in _NEVER_OPTIONS:
        return False
    return js.is_object(value) and js.is_object(lookup_property(value, "hash"))


def hash_of(options: Any) -> Mapping[str, Any]:
    """``options.hash`` (a TypeError when the options object is missing)."""
    hashed = property_of(options, "hash")
    return hashed if isinstance(hashed, Mapping) else {}


def is_block(options: Any) -> bool:
    """``utils.isBlock``: options with ``fn`` and ``inverse`` functions."""
    return (
        is_options(options)
        and js.typeof(lookup_property(options, "fn")) == "function"
        and js.typeof(lookup_property(options, "inverse")) == "function"
    )


def call(function: Any, *args: Any) -> Any:
    """Call a JavaScript function value; a TypeError if it is not one."""
    if not callable(function) or isinstance(function, type):
        raise RenderError(f"{js.to_string(function)} is not a function")
    return function(*args)


def block_value(value: Any, context: Any, options: Any) -> Any:
    """``utils.value``: in a block, the body if ``value`` is truthy else the inverse; inline, ``value``."""
    if is_options(value):
        return block_value(None, value, options)
    if is_options(context):
        return block_value(value, {}, context)
    if is_block(options):
        branch = "fn" if js.to_boolean(value) else "inverse"
        return call(lookup_property(options, branch), context)
    return value


def block_fn(value: Any, context: Any, options: Any) -> Any:
    """``utils.fn``: in a block, the body with ``context``; inline, ``value``."""
    if is_options(value):
        return block_fn("", value, options)
    if is_options(context):
        return block_fn(value, {}, context)
    return call(lookup_property(options, "fn"), context) if is_block(options) else value


def block_inverse(value: Any, context: Any, options: Any) -> Any:
    """``utils.inverse``: in a block, the inverse with ``context``; inline, ``value``."""
    if is_options(value):
        return ""  # handlebars-utils returns utils.identity('') here
    if is_options(context):
        return block_inverse(value, {}, context)
    return call(lookup_property(options, "inverse"), context) if is_block(options) else value


def is_string(value: Any) -> bool:
    """``utils.isString``: a string that is not empty."""
    return isinstance(value, str) and value != ""


def is_undefined(value: Any) -> bool:
    """``utils.isUndefined``: null, undefined, or an options object (an argument left out)."""
    return js.is_nullish(value) or is_options(value)


def is_number(value: Any) -> bool:
    """The is-number package: a finite number, or a string that reads as one."""
    if value.__class__ is int:
        return True
    if value.__class__ is float:
        return math.isfinite(value)
    value = js.plain(value)
    if isinstance(value, str):
        if not js_text.trim(value):
            return False
    elif isinstance(value, bool) or not isinstance(value, int | float):
        return False
    number = js.to_number(value)
    return number == number and number not in (float("inf"), float("-inf"))


def is_even(value: Any) -> bool:
    """The is-even package: TypeError for a non-number, RangeError for a non-integer."""
    if not is_number(value):
        raise RenderError("is-odd expects a number.")
    number = js.to_number(value)
    if number != math.floor(number):
        raise RenderError("is-odd expects an integer.")
    return int(number) % 2 == 0


def falsey(value: Any) -> bool:
    """The falsey package: falsy, empty, or a word such as "no", "nope", "0" or "false"."""
    if not js.to_boolean(value):
        return True
    if js.is_array(value):
        return len(value) == 0
    if js.is_object(value):
        return len(value) == 0 if isinstance(value, Mapping) else False
    return isinstance(value, str) and js_text.lower(value) in _FALSEY_WORDS


def get_value(target: Any, prop: Any) -> Any:
    """The get-value package: ``target`` at a dotted path (``a.b.c``; ``\\.`` escapes a dot)."""
    if js.is_nullish(target) or js.typeof(target) not in ("object", "function") or not js.to_boolean(prop):
        return target
    path = ".".join(map(js.to_string, prop)) if js.is_array(prop) else js.to_string(prop)
    if lookup_property(target, path) is not UNDEFINED or (isinstance(target, Mapping) and path in target):
        return lookup_property(target, path)
    segments = path.split(".")
    value = target
    i = 0
    while js.to_boolean(value) and i < len(segments):
        key = segments[i]
        while key.endswith("\\") and i + 1 < len(segments):
            i += 1
            key = key[:-1] + "." + segments[i]
        value = _member(value, key)
        i += 1
    return value


def _member(value: Any, key: str) -> Any:
    """``value[key]`` for a truthy value, with the few inherited members JavaScript code reaches."""
    if isinstance(value, str | list | tuple | Mapping):
        return lookup_property(value, key)
    return UNDEFINED


def _assign(*sources: Any) -> dict[str, Any]:
    """``Object.assign({}, ...sources)`` for the sources that are objects."""
    merged: dict[str, Any] = {}
    for source in sources:
        if isinstance(source, Mapping):
            merged.update(js.items(source))
    return merged


def handlebars_options(this: Any, locals_: Any, options: Any) -> dict[str, Any]:
    """handlebars-utils' ``options(this, locals, options)``: the hash over ``locals``, ``this.options``
    and, when it names one, ``this.options[helper name]``."""
    if is_options(this):
        return handlebars_options({}, locals_, this)
    if is_options(locals_):
        return handlebars_options(this, options, locals_)
    if js.is_nullish(options) or options is UNDEFINED:
        options = {}
    if not is_options(options):
        locals_ = _assign(locals_, options)
    merged = _assign(locals_, lookup_property(options, "hash"))
    if js.is_object(this):
        merged = _assign(lookup_property(this, "options"), merged)
    name = lookup_property(options, "name")
    if not js.is_nullish(name) and js.to_boolean(merged.get(js.to_string(name), UNDEFINED)):
        merged = _assign(merged[js.to_string(name)], merged)
    return merged


def ensure_fits(length: int, what: str) -> None:
    """Refuse, before building it, a value longer than the render allows (a string a helper would make)."""
    limit = budget.max_value()
    if length > limit:
        raise RenderError(f"{what} would be too large ({length} characters, at most {limit})")
