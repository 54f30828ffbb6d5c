"""handlebars-helpers' string group: ``capitalize``, ``upcase``, ``truncate``, ``replace``, ``camelcase``, …

Most return "" for anything but a non-empty string, as the library does; lengths and slices count UTF-16
code units, and ``\\w`` is ASCII, as in JavaScript.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from host.errors import RenderError
from host.templates.rendering import budget
from host.templates.rendering.handlebars import js, js_numbers, js_text
from host.templates.rendering.handlebars.helpers.casing import (
    capitalize,
    capitalize_all,
    change_case,
    chop,
    hyphenate,
    sentence,
    titleize,
)
from host.templates.rendering.handlebars.helpers.conventions import (
    call,
    ensure_fits,
    handlebars_options,
    is_number,
    is_string,
    spread,
)
from host.templates.rendering.handlebars.js import UNDEFINED
from host.templates.rendering.handlebars.runtime import Helper, lookup_property

__all__ = ["STRING", "capitalize", "js_slice"]

_WORD = re.compile(rf"[A-Za-z0-9_][^{js_text.SPACE}]*")
_SPACE_OR_TAB = re.compile(r"[ \t]")


def _index(value: Any, length: int) -> int:
    """A ``slice`` argument: ToIntegerOrInfinity, negative from the end, clamped into the string."""
    number = js_numbers.to_integer(js.to_number(value))
    if number < 0:
        number = max(length + number, 0)
    return int(min(number, length))


def js_slice(text: str, start: Any, end: Any = UNDEFINED) -> str:
    """``text.slice(start, end)`` with JavaScript's conversion of any value to an index."""
    length = js_text.length(text)
    begin = _index(start, length)
    stop = length if end is UNDEFINED else _index(end, length)
    return js_text.slice_(text, begin, stop) if stop > begin else ""


def _string_helper(function: Callable[..., Any], count: int) -> Helper:
    """A helper that ignores ``this`` and takes ``count`` JavaScript parameters."""

    def helper(this: Any, args: list[Any]) -> Any:
        return function(*spread(args, count))

    helper.__name__ = function.__name__
    return helper


def append(text: Any, suffix: Any) -> Any:
    return text + suffix if isinstance(text, str) and isinstance(suffix, str) else text


def prepend(text: Any, prefix: Any) -> Any:
    return prefix + text if isinstance(text, str) and isinstance(prefix, str) else text


def center(text: Any, spaces: Any) -> str:
    if not is_string(text):
        return ""
    count = 0
    bound = js.to_number(spaces)
    if bound == bound and bound > 0:
        if math.isinf(bound) or bound * 6 > budget.max_value():
            raise RenderError("center: too many spaces")
        count = math.ceil(bound)
    return str("&nbsp;" * count + text + "&nbsp;" * count)


def ellipsis(text: Any, limit: Any) -> Any:
    if not is_string(text):
        return UNDEFINED
    if js.js_le(js_text.length(text), limit):
        return text
    return js.to_string(truncate(text, limit, UNDEFINED)) + "…"


def is_string_helper(value: Any) -> bool:
    return isinstance(value, str)


def lowercase(this: Any, args: list[Any]) -> Any:
    value = args[0] if args else UNDEFINED
    if js.is_object(value) and js.to_boolean(lookup_property(value, "fn")):
        return js_text.lower(js.to_string(call(lookup_property(value, "fn"), this)))
    return js_text.lower(value) if isinstance(value, str) and value else ""


def uppercase(this: Any, args: list[Any]) -> Any:
    value = args[0] if args else UNDEFINED
    if js.is_object(value) and js.to_boolean(lookup_property(value, "fn")):
        return js_text.upper(js.to_string(call(lookup_property(value, "fn"), this)))
    return js_text.upper(value) if isinstance(value, str) and value else ""


def occurrences(text: Any, substring: Any) -> Any:
    if not is_string(text):
        return ""
    if js.is_nullish(substring):
        raise RenderError(f"cannot read properties of {js.to_string(substring)} (reading 'length')")
    if not is_string(substring):  # the library would count forever once it finds one
        if js_text.index_of(text, js.to_string(substring)) == -1:
            return 0
        raise RenderError("occurrences: the substring must be a non-empty string")
    step = js_text.length(substring)
    count = 0
    position = 0
    while (position := js_text.index_of(text, substring, position)) > -1:
        count += 1
        position += step
    return count


def plusify(text: Any, separator: Any) -> str:
    if not is_string(text):
        return ""
    return "+".join(js_text.split(text, separator if is_string(separator) else " "))


def raw(this: Any, args: list[Any]) -> Any:
    options = args[-1]
    text = js.to_string(call(lookup_property(options, "fn")))
    escape = handlebars_options(this, options, UNDEFINED).get("escape", UNDEFINED)
    if escape is not False:
        out: list[str] = []
        index = 0
        while (found := text.find("{{", index)) != -1:
            out.append(text[index:found])
            if found == 0 or text[found - 1] != "\\":  # the library steps 3 past "{{" in the new text
                out.append("\\" + text[found : found + 2])
                index = found + 2
            else:
                out.append(text[found : found + 3])
                index = found + 3
        out.append(text[index:])
        text = "".join(out)
    return text


def remove(text: Any, pattern: Any) -> Any:
    if not is_string(text):
        return ""
    return "".join(js_text.split(text, pattern)) if is_string(pattern) else text


def remove_first(text: Any, pattern: Any) -> Any:
    if not is_string(text):
        return ""
    return text.replace(pattern, "", 1) if is_string(pattern) else text


def replace(text: Any, old: Any, new: Any) -> Any:
    if not is_string(text):
        return ""
    if not is_string(old):
        return text
    glue = new if is_string(new) else ""
    pieces = js_text.split(text, old)
    ensure_fits(len(text) + (len(pieces) - 1) * (len(glue) - len(old)), "the result of replace")
    return glue.join(pieces)


def replace_first(text: Any, old: Any, new: Any) -> Any:
    if not is_string(text):
        return ""
    if not is_string(old):
        return text
    return js_text.replace_first(text, old, new if is_string(new) else "")


def reverse(text: Any) -> str:
    if not is_string(text):
        return ""
    units = js_text.utf16_units(text)
    units.reverse()
    return "".join(units)


def split(text: Any, separator: Any) -> Any:
    if not is_string(text):
        return ""
    return js_text.split(text, separator if is_string(separator) else ",")


def starts_with(this: Any, args: list[Any]) -> Any:
    prefix, text = spread(args, 2)
    options = args[-1]
    if is_string(text) and js_text.index_of(text, js.to_string(prefix)) == 0:
        return call(lookup_property(options, "fn"), this)
    inverse = lookup_property(options, "inverse")
    if js.typeof(inverse) == "function":
        return inverse(this)
    return ""


def trim(text: Any) -> str:
    return js_text.trim(text) if isinstance(text, str) else ""


def trim_left(text: Any) -> Any:
    return js_text.trim_start(text) if is_string(text) else UNDEFINED


def trim_right(text: Any) -> Any:
    return js_text.trim_end(text) if is_string(text) else UNDEFINED


def truncate(text: Any, limit: Any, suffix: Any) -> Any:
    if not is_string(text):
        return UNDEFINED
    if not isinstance(suffix, str):
        suffix = ""
    if js.js_gt(js_text.length(text), limit):
        end = js.to_number(limit) - js_text.length(suffix)
        return js_slice(text, 0, end) + suffix
    return text


def truncate_words(text: Any, count: Any, suffix: Any) -> Any:
    if not (is_string(text) and is_number(count)):
        return UNDEFINED
    if not isinstance(suffix, str):
        suffix = "…"
    # the library slices only when asked for more words than there are: so every word stays
    return js_text.trim(" ".join(_SPACE_OR_TAB.split(text))) + suffix


STRING: dict[str, Helper] = {
    "append": _string_helper(append, 2),
    "camelcase": _string_helper(lambda text: change_case(text, js_text.upper), 1),
    "capitalize": _string_helper(capitalize, 1),
    "capitalizeAll": _string_helper(capitalize_all, 1),
    "center": _string_helper(center, 2),
    "chop": _string_helper(chop, 1),
    "dashcase": _string_helper(lambda text: change_case(text, lambda char: "-" + char), 1),
    "dotcase": _string_helper(lambda text: change_case(text, lambda char: "." + char), 1),
    "downcase": lowercase,
    "ellipsis": _string_helper(ellipsis, 2),
    "hyphenate": _string_helper(hyphenate, 1),
    "isString": _string_helper(is_string_helper, 1),
    "lowercase": lowercase,
    "occurrences": _string_helper(occurrences, 2),
    "pascalcase": _string_helper(lambda text: capitalize(change_case(text, js_text.upper)) or "", 1),
    "pathcase": _string_helper(lambda text: change_case(text, lambda char: "/" + char), 1),
    "plusify": _string_helper(plusify, 2),
    "prepend": _string_helper(prepend, 2),
    "raw": raw,
    "remove": _string_helper(remove, 2),
    "removeFirst": _string_helper(remove_first, 2),
    "replace": _string_helper(replace, 3),
    "replaceFirst": _string_helper(replace_first, 3),
    "reverse": _string_helper(reverse, 1),
    "sentence": _string_helper(sentence, 1),
    "snakecase": _string_helper(lambda text: change_case(text, lambda char: "_" + char), 1),
    "split": _string_helper(split, 2),
    "startsWith": starts_with,
    "titleize": _string_helper(titleize, 1),
    "trim": _string_helper(trim, 1),
    "trimLeft": _string_helper(trim_left, 1),
    "trimRight": _string_helper(trim_right, 1),
    "truncate": _string_helper(truncate, 3),
    "truncateWords": _string_helper(truncate_words, 3),
    "upcase": uppercase,
    "uppercase": uppercase,
}
