"""JavaScript's string operations where they differ from Python's.

JavaScript strings are UTF-16: ``length``, indexes and slices count code units, so a character outside
the Basic Multilingual Plane (an emoji) counts two. Its regular expressions' ``\\w`` is ASCII only, and its
``\\s`` and ``trim()`` know a different set of spaces than Python's ``str.strip()``.
"""

from __future__ import annotations

import re

__all__ = [
    "SPACE",
    "char_at",
    "index_of",
    "length",
    "lower",
    "replace_first",
    "slice_",
    "split",
    "trim",
    "trim_end",
    "trim_start",
    "upper",
    "utf16_units",
]

#: the characters of ``\s`` and ``String.prototype.trim`` (WhiteSpace and LineTerminator)
SPACE = "\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_LEADING = re.compile(f"^[{SPACE}]+")
_TRAILING = re.compile(f"[{SPACE}]+$")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def _astral(text: str) -> bool:
    return _ASTRAL.search(text) is not None


def utf16_units(text: str) -> list[str]:
    """The UTF-16 code units of ``text``, each as a one-character string (lone surrogates included)."""
    data = text.encode("utf-16-be", "surrogatepass")
    return [data[i : i + 2].decode("utf-16-be", "surrogatepass") for i in range(0, len(data), 2)]


def _join_units(units: list[str]) -> str:
    return "".join(units).encode("utf-16-be", "surrogatepass").decode("utf-16-be", "surrogatepass")


def length(text: str) -> int:
    """``text.length``."""
    if not _astral(text):
        return len(text)
    return len(text.encode("utf-16-be", "surrogatepass")) // 2


def slice_(text: str, start: int, end: int | None = None) -> str:
    """``text.slice(start, end)`` (negative indexes count from the end)."""
    if not _astral(text):
        return text[start:end]
    return _join_units(utf16_units(text)[start:end])


def char_at(text: str, index: int) -> str:
    """``text.charAt(index)``: "" outside the string."""
    if index < 0:
        return ""
    return slice_(text, index, index + 1)


def index_of(text: str, search: str, start: int = 0) -> int:
    """``text.indexOf(search, start)``, in code units (``start`` clamped into the string)."""
    if not _astral(text) and not _astral(search):
        return text.find(search, min(max(start, 0), len(text)))
    units, wanted = utf16_units(text), utf16_units(search)
    begin = min(max(start, 0), len(units))
    for position in range(begin, len(units) - len(wanted) + 1):
        if units[position : position + len(wanted)] == wanted:
            return position
    return -1


def split(text: str, separator: str) -> list[str]:
    """``text.split(separator)`` with a string separator ("" splits into code units)."""
    if separator == "":
        return utf16_units(text)
    return text.split(separator)


def trim(text: str) -> str:
    """``text.trim()``."""
    return _TRAILING.sub("", _LEADING.sub("", text))


def trim_start(text: str) -> str:
    """``text.replace(/^\\s+/, '')``."""
    return _LEADING.sub("", text)


def trim_end(text: str) -> str:
    """``text.replace(/\\s+$/, '')``."""
    return _TRAILING.sub("", text)


def upper(text: str) -> str:
    """``text.toUpperCase()`` (full case mapping, as Python's)."""
    return text.upper()


def lower(text: str) -> str:
    """``text.toLowerCase()`` (full case mapping with the final-sigma rule, as Python's)."""
    return text.lower()


def _expand(replacement: str, matched: str, before: str, after: str) -> str:
    """A replacement string's ``$$``, ``$&``, ``$``` and ``$'`` patterns (a string pattern has no groups)."""
    out: list[str] = []
    i = 0
    while i < len(replacement):
        char = replacement[i]
        following = replacement[i + 1 : i + 2]
        if char == "$" and following in ("$", "&", "`", "'"):
            out.append({"$": "$", "&": matched, "`": before, "'": after}[following])
            i += 2
        else:
            out.append(char)
            i += 1
    return "".join(out)


def replace_first(text: str, pattern: str, replacement: str) -> str:
    """``text.replace(pattern, replacement)`` with a string pattern: only the first occurrence."""
    position = text.find(pattern)
    if position < 0:
        return text
    before, after = text[:position], text[position + len(pattern) :]
    return before + _expand(replacement, pattern, before, after) + after
