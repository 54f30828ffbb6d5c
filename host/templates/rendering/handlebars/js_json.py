"""``JSON.stringify`` and ``JSON.parse`` as JavaScript does them (number printing, key order, indent)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from host.errors import RenderError
from host.templates.rendering import budget
from host.templates.rendering.handlebars import js
from host.templates.rendering.handlebars.js import UNDEFINED

__all__ = ["parse", "stringify"]

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _quote(text: str) -> str:
    out = ['"']
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif char < " " or "\ud800" <= char <= "\udfff":
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _skipped(value: Any) -> bool:
    return value is UNDEFINED or js.typeof(value) == "function"


def _serialize(value: Any, gap: str, indent: str, stack: list[int]) -> str | None:
    value = js.plain(value)
    budget.tick()
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, int | float):
        number = float(value)
        return js.to_string(value) if math.isfinite(number) else "null"
    if _skipped(value):
        return None
    if id(value) in stack:
        raise RenderError("Converting circular structure to JSON")
    stack.append(id(value))
    inner = indent + gap
    try:
        if js.is_array(value):
            items = [_serialize(item, gap, inner, stack) or "null" for item in value]
            if not items:
                return "[]"
            if not gap:
                return "[" + ",".join(items) + "]"
            return "[\n" + inner + (",\n" + inner).join(items) + "\n" + indent + "]"
        pairs: list[str] = []
        if isinstance(value, Mapping):
            for key, item in js.items(value):
                text = _serialize(item, gap, inner, stack)
                if text is not None:
                    pairs.append(_quote(key) + (": " if gap else ":") + text)
        if not pairs:
            return "{}"
        if not gap:
            return "{" + ",".join(pairs) + "}"
        return "{\n" + inner + (",\n" + inner).join(pairs) + "\n" + indent + "}"
    finally:
        stack.pop()


def stringify(value: Any, space: Any = 0) -> Any:
    """``JSON.stringify(value, null, space)``; undefined for undefined (and functions)."""
    if isinstance(space, str):
        gap = space[:10]
    else:
        count = js.to_number(space)
        gap = " " * int(min(10, count)) if count == count and count >= 1 else ""
    text = _serialize(value, gap, "", [])
    return UNDEFINED if text is None else text


def _reject_constant(name: str) -> Any:
    raise ValueError(f"Unexpected token {name[0]}")


def parse(text: str) -> Any:
    """``JSON.parse(text)``: a SyntaxError (RenderError) for anything that is not strict JSON."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise RenderError(f"Unexpected token in JSON: {exc}") from None
