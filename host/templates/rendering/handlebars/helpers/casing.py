"""handlebars-helpers' case changes: ``capitalize``, ``camelcase``, ``titleize``, ``sentence``, ``chop`` …

Split from host.templates.rendering.handlebars.helpers.strings, which registers them; ``\\w`` is ASCII and
lengths count UTF-16 code units, as in JavaScript.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from host.templates.rendering.handlebars import js_text
from host.templates.rendering.handlebars.helpers.conventions import is_string

__all__ = ["capitalize", "capitalize_all", "change_case", "chop", "hyphenate", "sentence", "titleize"]

_NOT_ALNUM = "[^A-Za-z0-9]"
_CHOP = re.compile(rf"^{_NOT_ALNUM}+|{_NOT_ALNUM}+\Z")
_CASE_BREAK = re.compile(rf"{_NOT_ALNUM}+([A-Za-z0-9_]|\Z)")
_SENTENCE = re.compile(rf"([^{js_text.SPACE}][^.?!]*[.?!]*)")
_TITLE_BREAKS = re.compile(r"[- _]+")
_WORD = re.compile(rf"[A-Za-z0-9_][^{js_text.SPACE}]*")


def capitalize(value: Any) -> str:
    """The first character upper-cased."""
    if not is_string(value):
        return ""
    return js_text.upper(js_text.char_at(value, 0)) + js_text.slice_(value, 1)


def _chop(text: str) -> str:
    return _CHOP.sub("", js_text.trim(text))


def change_case(value: Any, join: Callable[[str], str]) -> str:
    if not is_string(value):
        return ""
    if js_text.length(value) == 1:
        return js_text.lower(value)
    text = js_text.lower(_chop(value))
    return _CASE_BREAK.sub(lambda found: join(found.group(1)), text)


def capitalize_all(text: Any) -> str:
    if not is_string(text):
        return ""
    return _WORD.sub(lambda found: capitalize(found.group()), text)


def chop(text: Any) -> str:
    return _chop(text) if is_string(text) else ""


def hyphenate(text: Any) -> str:
    return "-".join(text.split(" ")) if is_string(text) else ""


def sentence(text: Any) -> str:
    if not is_string(text):
        return ""
    return _SENTENCE.sub(
        lambda found: (
            js_text.upper(js_text.char_at(found.group(), 0)) + js_text.lower(js_text.slice_(found.group(), 1))
        ),
        text,
    )


def titleize(text: Any) -> str:
    if not is_string(text):
        return ""
    return " ".join(capitalize(word) for word in _TITLE_BREAKS.sub(" ", text).split(" "))
