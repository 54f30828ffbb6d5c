"""``pushData``: Mia's JSON string, interpolated like any field and then parsed, or Tidings' fixed object.

Mia's templates type ``pushData`` as a string holding JSON that supports interpolation (its
``android`` and ``apns`` blocks reach FCM as they are). The string is compiled with the template's other
fields, rendered per user, and parsed: what does not parse after rendering fails that delivery naming
``pushData``. A string with nothing to interpolate is parsed when the template is saved. An object (what
Tidings' API has always taken) is sent as it is, never interpolated.
"""

from __future__ import annotations

import json
from typing import Any

from host.errors import RenderError
from host.templates.rendering import Renderer, Syntax

__all__ = ["FIELD", "check_push_data", "parse_push_data"]

#: the field's name in messages, as Mia's templates spell it
FIELD = "pushData"


def parse_push_data(text: str, field: str = FIELD) -> dict[str, Any]:
    """The object a rendered ``pushData`` holds; RenderError naming the field if it is not one."""
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise RenderError(f"not valid JSON after rendering: {exc}", field=field) from None
    if not isinstance(value, dict):
        raise RenderError(f"must be a JSON object, not {type(value).__name__}", field=field)
    return value


def check_push_data(renderer: Renderer, push_data: Any, syntax: Syntax) -> None:
    """Compile a string ``pushData`` (and parse one with nothing to interpolate); RenderError if wrong."""
    if push_data is None or isinstance(push_data, dict):
        return
    if not isinstance(push_data, str):
        raise RenderError("must be a JSON string or an object", field=FIELD)
    renderer.check(push_data, field=FIELD, html=False, syntax=syntax)
    if "{{" not in push_data and "{%" not in push_data:
        parse_push_data(push_data)
