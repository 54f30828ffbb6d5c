"""handlebars-helpers' comparison group: ``eq``, ``and``, ``or``, ``compare``, ``is``, ``default`` and more.

Each works inline (``{{#if (eq a b)}}`` passes a boolean) and as a block (``{{#eq a b}}…{{else}}…{{/eq}}``),
comparing with JavaScript's operators (``eq`` is ``===``, ``is`` is ``==``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from host.errors import RenderError
from host.templates.rendering.handlebars import js, js_numbers, js_text
from host.templates.rendering.handlebars.helpers.conventions import (
    block_fn,
    block_inverse,
    block_value,
    falsey,
    get_value,
    hash_of,
    is_even,
    is_number,
    is_options,
    is_string,
    spread,
)
from host.templates.rendering.handlebars.js import UNDEFINED
from host.templates.rendering.handlebars.runtime import Helper, lookup_property

__all__ = ["COMPARISON", "contains"]


def and_(this: Any, args: list[Any]) -> Any:
    """``{{#and a b …}}``: every value truthy."""
    options = args[-1]
    return block_value(all(js.to_boolean(value) for value in args[:-1]), this, options)


def or_(this: Any, args: list[Any]) -> Any:
    """``{{#or a b …}}``: some value truthy."""
    options = args[-1]
    return block_value(any(js.to_boolean(value) for value in args[:-1]), this, options)


_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "==": js.loose_equals,
    "===": js.strict_equals,
    "!=": lambda a, b: not js.loose_equals(a, b),
    "!==": lambda a, b: not js.strict_equals(a, b),
    "<": js.js_lt,
    ">": js.js_gt,
    "<=": js.js_le,
    ">=": js.js_ge,
    "typeof": lambda a, b: js.strict_equals(js.typeof(a), b),
}


def compare(this: Any, args: list[Any]) -> Any:
    """``{{#compare a "<" b}}``: ``==`` ``===`` ``!=`` ``!==`` ``<`` ``>`` ``<=`` ``>=`` or ``typeof``."""
    if len(args) < 4:
        raise RenderError("handlebars Helper {{compare}} expects 4 arguments")
    a, operator, b, options = spread(args, 4)
    test = _OPERATORS.get(operator) if isinstance(operator, str) else None
    if test is None:
        raise RenderError(f"helper {{{{compare}}}}: invalid operator: `{js.to_string(operator)}`")
    return block_value(test(a, b), this, options)


def _position(start: Any) -> float:
    return js_numbers.to_integer(js.to_number(start)) if start is not UNDEFINED else 0.0


def contains(collection: Any, value: Any, start: Any = UNDEFINED) -> bool:
    """handlebars-helpers' ``utils.contains``: ``collection.indexOf(value, start) !== -1``."""
    if js.is_nullish(collection) or js.is_nullish(value):
        return False
    if not is_number(lookup_property(collection, "length")):
        return False
    position = _position(start)
    if isinstance(collection, str):
        begin = int(min(max(position, 0), js_text.length(collection)))
        return js_text.index_of(collection, js.to_string(value), begin) != -1
    if js.is_array(collection):
        if position >= len(collection):
            return False
        begin = int(position) if position >= 0 else max(len(collection) + int(position), 0)
        return any(js.strict_equals(item, value) for item in collection[begin:])
    raise RenderError(f"{js.to_string(collection)}.indexOf is not a function")


def contains_helper(this: Any, args: list[Any]) -> Any:
    """``{{#contains list value}}``: the array (or string) holds the value."""
    collection, value, start, options = spread(args, 4)
    if js.typeof(start) == "object":
        options, start = start, UNDEFINED
    return block_value(contains(collection, value, start), this, options)


def default(this: Any, args: list[Any]) -> Any:
    """``{{default a b "fallback"}}``: the first argument that is not null or undefined, else ""."""
    for value in args[:-1]:
        if not js.is_nullish(value):
            return value
    return ""


def _binary(test: Callable[[Any, Any], bool], *, hash_when: Callable[[list[Any], Any], bool]) -> Helper:
    """A two-operand comparison whose second operand may come from ``compare=`` instead."""

    def helper(this: Any, args: list[Any]) -> Any:
        a, b, options = spread(args, 3)
        if hash_when(args, b):
            options = b
            b = hash_of(options).get("compare", UNDEFINED)
        return block_value(test(a, b), this, options)

    return helper


def _two_arguments(args: list[Any], _: Any) -> bool:
    return len(args) == 2


def _options_second(_: list[Any], second: Any) -> bool:
    return is_options(second)


def has(this: Any, args: list[Any]) -> Any:
    """``{{#has value pattern}}``: the string or array contains ``pattern``, or the object has that key."""
    value, pattern, options = spread(args, 3)
    if is_options(value):
        options, pattern, value = value, None, None
    if is_options(pattern):
        options, pattern = pattern, None
    if value is None:
        return block_value(False, this, options)
    if len(args) == 2:
        return block_value(_has_value(this, value), this, options)
    if (js.is_array(value) or is_string(value)) and is_string(pattern):
        found = (
            js.to_string(pattern) in value
            if isinstance(value, str)
            else any(js.strict_equals(item, pattern) for item in value)
        )
        if found:
            return block_fn(True, this, options)
    if js.is_object(value) and is_string(pattern) and isinstance(value, Mapping) and pattern in value:
        return block_fn(True, this, options)
    return block_inverse(False, this, options)


def _has_values(value: Any) -> bool:
    """The has-values package: numbers, null and booleans count; strings, arrays, objects if not empty."""
    value = js.plain(value)
    if is_number(value):
        return True
    kind = js.kind_of(value)
    if kind in ("null", "boolean", "function"):
        return True
    if kind == "string":
        return len(value) != 0
    if kind == "array":
        return any(_has_values(item) for item in value)
    if kind == "object" and isinstance(value, Mapping):
        return any(_has_values(item) for item in value.values())
    return False


def _has_value(target: Any, prop: Any) -> bool:
    """The has-value package: ``target``'s (dotted) property, or ``target`` itself, has a value."""
    plain_object = js.typeof(target) == "object" and not js.is_nullish(target) and not js.is_array(target)
    return _has_values(get_value(target, prop) if plain_object and js.to_boolean(prop) else target)


def _unary(test: Callable[[Any], bool]) -> Helper:
    def helper(this: Any, args: list[Any]) -> Any:
        value, options = spread(args, 2)
        return block_value(test(value), this, options)

    return helper


def if_nth(this: Any, args: list[Any]) -> Any:
    """``{{#ifNth 2 @index}}``: ``b`` is a multiple of ``a``."""
    a, b, options = spread(args, 3)
    nth = is_number(a) and is_number(b) and _js_mod(js.to_number(b), js.to_number(a)) == 0
    return block_value(nth, this, options)


def _js_mod(a: float, b: float) -> float:
    if b == 0 or a != a or b != b or math.isinf(a):
        return math.nan
    return math.fmod(a, b)


def neither(this: Any, args: list[Any]) -> Any:
    """``{{#neither a b}}``: both falsy."""
    a, b, options = spread(args, 3)
    return block_value(not js.to_boolean(a) and not js.to_boolean(b), this, options)


COMPARISON: dict[str, Helper] = {
    "and": and_,
    "compare": compare,
    "contains": contains_helper,
    "default": default,
    "eq": _binary(js.strict_equals, hash_when=_two_arguments),
    "gt": _binary(js.js_gt, hash_when=_two_arguments),
    "gte": _binary(js.js_ge, hash_when=_two_arguments),
    "has": has,
    "isFalsey": _unary(falsey),
    "isTruthy": _unary(lambda value: not falsey(value)),
    "ifEven": _unary(is_even),
    "ifNth": if_nth,
    "ifOdd": _unary(lambda value: not is_even(value)),
    "is": _binary(js.loose_equals, hash_when=_two_arguments),
    "isnt": _binary(lambda a, b: not js.loose_equals(a, b), hash_when=_two_arguments),
    "lt": _binary(js.js_lt, hash_when=_two_arguments),
    "lte": _binary(js.js_le, hash_when=_two_arguments),
    "neither": neither,
    "not": _unary(lambda value: not js.to_boolean(value)),
    "or": or_,
    "unlessEq": _binary(lambda a, b: not js.strict_equals(a, b), hash_when=_options_second),
    "unlessGt": _binary(js.js_le, hash_when=_options_second),
    "unlessLt": _binary(js.js_ge, hash_when=_options_second),
    "unlessGteq": _binary(js.js_lt, hash_when=_options_second),
    "unlessLteq": _binary(js.js_gt, hash_when=_options_second),
}
