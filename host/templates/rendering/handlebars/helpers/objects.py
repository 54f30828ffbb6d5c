"""handlebars-helpers' object, misc, inflection and i18n groups: ``get``, ``JSONstringify``, ``inflect``, …

``extend`` and ``merge`` build a new object: the library's ``merge`` writes into its first argument, which
here would be data shared by every user of a dispatch.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from host.errors import RenderError
from host.templates.rendering.handlebars import js, js_json, js_numbers
from host.templates.rendering.handlebars.helpers.array_blocks import for_own
from host.templates.rendering.handlebars.helpers.conventions import (
    call,
    get_value,
    handlebars_options,
    hash_of,
    is_number,
    is_options,
    is_string,
    property_of,
    spread,
)
from host.templates.rendering.handlebars.js import UNDEFINED
from host.templates.rendering.handlebars.runtime import Helper, create_frame, lookup_property

__all__ = ["I18N", "INFLECTION", "MISC", "OBJECT"]

_SEGMENTS = re.compile(r"[\[.\]]")


def _copy_into(target: dict[str, Any], source: Any) -> None:
    """``Object.assign``/``extend`` of one source: an object's keys, an array's or a string's indexes."""
    if isinstance(source, Mapping):
        target.update(js.items(source))
    elif js.is_array(source):
        target.update((str(i), js.plain(item)) for i, item in enumerate(source))
    elif isinstance(source, str):
        target.update((str(i), char) for i, char in enumerate(source))


def extend(this: Any, args: list[Any]) -> Any:
    values = list(args)
    if values and is_options(values[-1]):
        values[-1] = hash_of(values[-1])
    merged: dict[str, Any] = {}
    for value in values:
        if js.is_object(value) and isinstance(value, Mapping):
            merged.update(js.items(value))
    return merged


def merge(this: Any, args: list[Any]) -> Any:
    values = list(args)
    if values and is_options(values[-1]):
        values[-1] = hash_of(values[-1])
    target = values[0] if values else UNDEFINED
    if js.is_nullish(target):
        raise RenderError("cannot convert undefined or null to object")
    if not isinstance(target, Mapping):
        return target
    merged: dict[str, Any] = {}
    for value in values:
        _copy_into(merged, value)
    return merged


def to_path(this: Any, args: list[Any]) -> Any:
    return ".".join(
        js.to_string(value)
        for value in args
        if isinstance(value, str | int | float) and not isinstance(value, bool)
    )


def get(this: Any, args: list[Any]) -> Any:
    prop, context, options = spread(args, 3)
    value = get_value(context, prop)
    if js.to_boolean(options) and js.to_boolean(lookup_property(options, "fn")):
        if js.to_boolean(value):
            return call(lookup_property(options, "fn"), value)
        return call(lookup_property(options, "inverse"), context)
    return value


def get_object(context: Any, prop: Any) -> Any:
    """The get-object package: ``{last key: value}`` of a (dotted) path, ``[value]`` for an index."""
    if not js.to_boolean(prop):
        return context
    if not js.to_boolean(context):
        return {}
    segments = [segment for segment in _SEGMENTS.split(js.to_string(prop)) if segment]
    value = context
    for segment in segments:
        value = property_of(value, segment) if not js.is_nullish(value) else UNDEFINED
        if not js.to_boolean(value):
            return {}
    last = segments[-1] if segments else UNDEFINED
    if is_number(last):
        return [value]
    return {js.to_string(last): value}


def has_own(this: Any, args: list[Any]) -> Any:
    context, key = spread(args, 2)
    if js.is_nullish(context):
        raise RenderError("cannot convert undefined or null to object")
    name = js.to_string(key)
    if isinstance(context, Mapping):
        return name in context
    return lookup_property(context, name) is not UNDEFINED


def json_parse(this: Any, args: list[Any]) -> Any:
    (text,) = spread(args, 1)
    return js_json.parse(js.to_string(text))


def json_stringify(this: Any, args: list[Any]) -> Any:
    value, indent = spread(args, 2)
    if not is_number(indent):
        indent = 0
    return js_json.stringify(value, indent)


def pick(this: Any, args: list[Any]) -> Any:
    props, context, options = spread(args, 3)
    keys = props if js.is_array(props) else ([props] if js.to_boolean(props) else [])
    result: dict[str, Any] = {}
    for key in keys:
        picked = get_object(context, key)
        merged = {**result}
        if js.is_object(picked) and isinstance(picked, Mapping):
            merged.update(js.items(picked))
        result = merged
    if js.to_boolean(property_of(options, "fn")):
        if result:
            return call(lookup_property(options, "fn"), result)
        return call(lookup_property(options, "inverse"), context)
    return result


OBJECT: dict[str, Helper] = {
    "extend": extend,
    "forIn": for_own,  # for…in also walks inherited keys; JSON data has none
    "forOwn": for_own,
    "toPath": to_path,
    "get": get,
    "getObject": lambda this, args: get_object(spread(args, 2)[1], spread(args, 2)[0]),
    "hasOwn": has_own,
    "isObject": lambda this, args: js.kind_of(spread(args, 1)[0]) == "object",
    "JSONparse": json_parse,
    "JSONstringify": json_stringify,
    "merge": merge,
    "parseJSON": json_parse,
    "pick": pick,
    "stringify": json_stringify,
}


def _plain_object(value: Any) -> bool:
    """The isobject package: not null, an object, not an array."""
    return js.typeof(value) == "object" and value is not None and not js.is_array(value)


def frame(this: Any, args: list[Any]) -> Any:
    context, options = spread(args, 2)
    if _plain_object(context) and js.to_boolean(lookup_property(context, "hash")):
        options = context
        context = lookup_property(options, "data")
    if not js.is_object(context):
        raise RenderError("createFrame expects data to be an object")
    data = create_frame(context)
    if not _plain_object(options):
        options = {}
    hashed = lookup_property(options, "hash")
    if isinstance(hashed, Mapping):
        data.update(hashed)
    return call(property_of(options, "fn"), this, data)


def option(this: Any, args: list[Any]) -> Any:
    prop, local, options = spread(args, 3)
    return get_value(handlebars_options(this, local, options), prop)


def noop(this: Any, args: list[Any]) -> Any:
    (options,) = spread(args, 1)
    return call(property_of(options, "fn"), this)


def with_hash(this: Any, args: list[Any]) -> Any:
    (options,) = spread(args, 1)
    hashed = lookup_property(options, "hash")
    if js.to_boolean(hashed) and isinstance(hashed, Mapping) and hashed:
        return call(lookup_property(options, "fn"), hashed)
    return call(property_of(options, "inverse"), this)


MISC: dict[str, Helper] = {
    "frame": frame,
    "option": option,
    "noop": noop,
    "typeOf": lambda this, args: js.kind_of(spread(args, 1)[0]),
    "withHash": with_hash,
}


def inflect(this: Any, args: list[Any]) -> Any:
    count, singular, plural, include_count = spread(args, 4)
    word = plural if (js.js_gt(count, 1) or js.strict_equals(count, 0)) else singular
    if include_count is True:
        return js.to_string(count) + " " + js.to_string(word)
    return word


def ordinalize(this: Any, args: list[Any]) -> Any:
    (value,) = spread(args, 1)
    number = abs(float(js_numbers.math_round(js.to_number(value))))
    text = js.to_string(value)
    if number == number and number % 100 in (11, 12, 13):
        return text + "th"
    last = number % 10 if number == number and number != float("inf") else None
    return text + {1: "st", 2: "nd", 3: "rd"}.get(int(last) if last is not None else -1, "th")


INFLECTION: dict[str, Helper] = {"inflect": inflect, "ordinalize": ordinalize}


def i18n(this: Any, args: list[Any]) -> Any:
    prop, local, options = spread(args, 3)
    if is_options(local):
        options, local = local, {}
    if not is_string(prop):
        raise RenderError('{{i18n}} helper expected "key" to be a string')
    opts = handlebars_options(this, local, options)
    context: dict[str, Any] = {}
    if isinstance(this, Mapping):
        context.update(js.items(this))
    context.update(opts)
    language = context.get("language", UNDEFINED)
    if not js.to_boolean(language):
        language = context.get("lang", UNDEFINED)
    if not is_string(language):
        raise RenderError('{{i18n}} helper expected "language" to be a string')
    cache = context.get(language, UNDEFINED)
    if cache is UNDEFINED:
        raise RenderError(f'{{{{i18n}}}} helper cannot find language "{language}"')
    result = get_value(cache, prop)
    if result is UNDEFINED:
        raise RenderError(f'{{{{i18n}}}} helper cannot find property "{prop}" for language "{language}"')
    return result


I18N: dict[str, Helper] = {"i18n": i18n}
