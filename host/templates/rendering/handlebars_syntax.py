"""Reading Handlebars source: text and tags, standalone lines, and each tag's expression.

See :mod:`host.templates.rendering.handlebars` for the supported subset; anything else is a RenderError here,
carrying the Handlebars line.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from host.errors import RenderError

__all__ = [
    "HELPERS",
    "Call",
    "Constant",
    "Expr",
    "Parser",
    "Path",
    "Tag",
    "helper_name",
    "scan",
    "strip_standalone",
    "syntax_error",
]

HELPERS = frozenset(
    {
        "dateNow", "dateFormat", "formatNumber", "formatCurrency", "formatDate", "formatDateTime",
        "eq", "ne", "lt", "gt", "lte", "gte", "and", "or", "not", "lookup",
    }
)  # fmt: skip
_LITERALS = {"true": "true", "false": "false", "null": "none", "undefined": "none"}
_ID = r"[^\s!\"#%&'()*+,./;<=>@\[\\\]^`{|}~]+"
_SEGMENT = rf"\[[^\]]*\]|\.\.|\.|{_ID}"
_EXPR_TOKEN = re.compile(
    rf"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<number>-?\d+(?:\.\d+)?)(?=[\s)|]|$)
      | (?P<key>{_ID})\s*=
      | (?P<open>\()
      | (?P<close>\))
      | (?P<params>as\s+\|)
      | (?P<pipe>\|)
      | (?P<path>@?(?:{_SEGMENT})(?:[./](?:{_SEGMENT}))*)
    )""",
    re.VERBOSE,
)
_SEGMENTS = re.compile(_SEGMENT)
_STANDALONE_KINDS = frozenset({"#", "^", "/", "else", "!"})


@dataclass
class Tag:
    kind: str  # "{{", "{{{", "&", "#", "^", "/", "else", "!"
    content: str
    line: int
    newlines: int
    strip_left: bool = False
    strip_right: bool = False


@dataclass
class Path:
    data: bool
    parts: list[str]


@dataclass
class Constant:
    source: str


@dataclass
class Call:
    name: str
    params: list[Path | Constant | Call]
    hash: list[tuple[str, Path | Constant | Call]]


Expr = Path | Constant | Call


def syntax_error(message: str, line: int) -> RenderError:
    return RenderError(message, line=line)


def _closing(source: str, start: int, marker: str, line: int) -> int:
    """Index of ``marker`` closing a tag, skipping quoted strings."""
    quote = ""
    i = start
    while i < len(source):
        char = source[i]
        if quote:
            if char == "\\":
                i += 1
            elif char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif source.startswith(marker, i):
            return i
        i += 1
    raise syntax_error(f"unclosed '{source[start - 2 : start + 20].strip()}…'", line)


def _tag(source: str, start: int, line: int) -> tuple[Tag, int]:
    """The tag opening at ``start`` (at ``{{``) and the index just after it."""
    if source.startswith("{{{{", start):
        raise syntax_error("raw blocks ({{{{raw}}}}) are not supported", line)
    triple = source.startswith("{{{", start)
    i = start + (3 if triple else 2)
    strip_left = source.startswith("~", i)
    i += strip_left
    if not triple and source.startswith("!", i):
        long_form = source.startswith("!--", i)
        found = re.compile(r"--~?\}\}" if long_form else r"~?\}\}").search(source, i)
        if found is None:
            raise syntax_error("unclosed comment", line)
        end = found.end()
        tag = Tag(
            "!", "", line, source.count("\n", start, end), strip_left, found.group().startswith(("~", "--~"))
        )
        return tag, end
    close = _closing(source, i, "}}}" if triple else "}}", line)
    end = close + (3 if triple else 2)
    content = source[i:close]
    strip_right = content.endswith("~")
    content = content.removesuffix("~")
    kind = "{{{" if triple else "{{"
    stripped = content.strip()
    if not triple and stripped[:1] in ("#", "^", "/", "&", ">"):
        kind, content = stripped[0], stripped[1:]
        if kind == "^" and not content.strip():
            kind = "else"
        elif kind == ">" or content.startswith((">", "*")):
            raise syntax_error("partials and decorators are not supported", line)
    elif not triple and (stripped == "else" or stripped.startswith(("else ", "else\n", "else\t"))):
        kind, content = "else", stripped[4:]
    return Tag(kind, content, line, source.count("\n", start, end), strip_left, strip_right), end


def scan(source: str) -> list[str | Tag]:
    """Split the source into text and tags; ``\\{{`` keeps a mustache as text."""
    items: list[str | Tag] = []
    text: list[str] = []
    i = 0
    line = 1
    while True:
        found = source.find("{{", i)
        if found < 0:
            text.append(source[i:])
            break
        backslashes = 0
        if found >= 1 and source[found - 1] == "\\":
            backslashes = 2 if found >= 2 and source[found - 2] == "\\" else 1
        if backslashes == 1:  # \{{x}} is the text {{x}}
            end = source.find("}}", found)
            end = len(source) if end < 0 else end + 2
            text.append(source[i : found - 1] + source[found:end])
            line += source.count("\n", i, end)
            i = end
            continue
        text.append(source[i : found - 1] if backslashes == 2 else source[i:found])
        line += source.count("\n", i, found)
        items.append("".join(text))
        text = []
        tag, i = _tag(source, found, line)
        line += tag.newlines
        items.append(tag)
    items.append("".join(text))
    return items


def strip_standalone(items: list[str | Tag]) -> list[str | Tag]:
    """Drop the indentation and line break around block tags and comments alone on their line."""
    texts = [item if isinstance(item, str) else None for item in items]
    result = list(items)
    for index, item in enumerate(items):
        if not isinstance(item, Tag) or item.kind not in _STANDALONE_KINDS:
            continue
        before = texts[index - 1] if index > 0 else ""
        after = texts[index + 1] if index + 1 < len(items) else ""
        if before is None or after is None:
            continue
        head = before.rpartition("\n")
        starts_line = (head[1] or index <= 1) and not head[2].strip(" \t")
        tail = re.match(r"[ \t]*(\r?\n|$)", after)
        if starts_line and tail and (tail.group(1) or index + 2 >= len(items)):
            previous, following = result[index - 1], result[index + 1]
            assert isinstance(previous, str) and isinstance(following, str)
            result[index - 1] = previous[: len(previous) - len(head[2])]
            result[index + 1] = following[tail.end() :]
    return result


def _lex(content: str, line: int) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while content[pos:].strip():
        match = _EXPR_TOKEN.match(content, pos)
        if match is None or match.lastgroup is None:
            raise syntax_error(f"cannot read {content[pos:].strip()[:30]!r}", line)
        tokens.append((match.lastgroup, match.group(match.lastgroup)))
        pos = match.end()
    return tokens


class Parser:
    """Reads one tag's expression: a head, positional params, ``key=value`` pairs, ``as |block params|``."""

    def __init__(self, content: str, line: int) -> None:
        self.tokens = _lex(content, line)
        self.pos = 0
        self.line = line

    def _next(self) -> tuple[str, str]:
        if self.pos >= len(self.tokens):
            raise syntax_error("incomplete expression", self.line)
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def _peek(self) -> str | None:
        return self.tokens[self.pos][0] if self.pos < len(self.tokens) else None

    def expression(self) -> Expr:
        kind, value = self._next()
        if kind == "string":
            text = value[1:-1].replace("\\" + value[0], value[0])
            return Constant(json.dumps(text, ensure_ascii=False))
        if kind == "number":
            return Constant(value)
        if kind == "path":
            if value in _LITERALS:
                return Constant(_LITERALS[value])
            data = value.startswith("@")
            return Path(data, _split_path(value[data:]))
        if kind == "open":
            head = self.expression()
            params, pairs = self.arguments(closing=True)
            return Call(helper_name(head, self.line), params, pairs)
        raise syntax_error(f"unexpected {value!r}", self.line)

    def arguments(self, closing: bool = False) -> tuple[list[Expr], list[tuple[str, Expr]]]:
        params: list[Expr] = []
        pairs: list[tuple[str, Expr]] = []
        while (kind := self._peek()) not in (None, "params"):
            if kind == "close":
                if not closing:
                    raise syntax_error("unexpected ')'", self.line)
                self.pos += 1
                return params, pairs
            if kind == "key":
                key = self._next()[1]
                if not key.isidentifier():
                    raise syntax_error(f"{key!r} cannot be an argument name", self.line)
                pairs.append((key, self.expression()))
            elif pairs:
                raise syntax_error("positional arguments must come before key=value ones", self.line)
            else:
                params.append(self.expression())
        if closing:
            raise syntax_error("missing ')'", self.line)
        return params, pairs

    def block_params(self) -> list[str]:
        if self._peek() != "params":
            return []
        self.pos += 1
        names: list[str] = []
        while (token := self._next())[0] == "path" and token[1].isidentifier():
            names.append(token[1])
        if token[0] != "pipe" or not names or self._peek() is not None:
            raise syntax_error("block parameters are written 'as |name other|'", self.line)
        return names


def _split_path(text: str) -> list[str]:
    """``../a.[b c]/d`` → ``["..", "a", "b c", "d"]``."""
    parts: list[str] = []
    pos = 0
    while pos < len(text):
        match = _SEGMENTS.match(text, pos)
        if match is None:
            break
        segment = match.group()
        parts.append(segment[1:-1] if segment.startswith("[") else segment)
        pos = match.end() + (pos < len(text) and text[match.end() : match.end() + 1] in (".", "/"))
    return parts


def helper_name(head: Expr, line: int) -> str:
    if not isinstance(head, Path) or head.data or len(head.parts) != 1 or head.parts[0] not in HELPERS:
        shown = ".".join(head.parts) if isinstance(head, Path) else "this expression"
        raise syntax_error(f"unknown helper {shown!r}", line)
    return head.parts[0]
