"""Splitting Handlebars source into tokens, rule for rule as handlebars.js 4.7's lexer does.

The lexer has states (text, inside a mustache, after ``\\`` an escaped mustache, inside a long comment,
inside a raw block); in each state the first rule whose pattern matches wins. ``\\s`` and ``\\b`` are
JavaScript's (their whitespace, ASCII word characters).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from host.errors import RenderError
from host.templates.rendering.handlebars.js_text import SPACE

__all__ = ["Token", "tokenize"]

_S = f"[{SPACE}]"
_ID = rf"[^{SPACE}!\"#%-,\.\/;->@\[-\^`\{{-~]+"
_LINE_BREAKS = re.compile(r"\r\n?|\n")


@dataclass(slots=True)
class Token:
    """One token: its kind (as handlebars.js names it), its text and the line it starts on."""

    kind: str
    text: str
    line: int


# (pattern, kind); a kind in lower case names an action of _Lexer.act rather than a token
_MUSTACHE_RULES: list[tuple[str, str]] = [
    (r"\(", "OPEN_SEXPR"),
    (r"\)", "CLOSE_SEXPR"),
    (r"\{\{\{\{", "OPEN_RAW_BLOCK"),
    (r"\}\}\}\}", "close_raw_block"),
    (r"\{\{(~)?>", "OPEN_PARTIAL"),
    (r"\{\{(~)?#>", "OPEN_PARTIAL_BLOCK"),
    (r"\{\{(~)?#\*?", "OPEN_BLOCK"),
    (r"\{\{(~)?\/", "OPEN_ENDBLOCK"),
    (rf"\{{\{{(~)?\^{_S}*(~)?\}}\}}", "inverse"),
    (rf"\{{\{{(~)?{_S}*else{_S}*(~)?\}}\}}", "inverse"),
    (r"\{\{(~)?\^", "OPEN_INVERSE"),
    (rf"\{{\{{(~)?{_S}*else(?![A-Za-z0-9_])", "OPEN_INVERSE_CHAIN"),
    (r"\{\{(~)?\{", "OPEN_UNESCAPED"),
    (r"\{\{(~)?&", "OPEN"),
    (r"\{\{(~)?!--", "long_comment"),
    (r"\{\{(~)?![\s\S]*?\}\}", "comment"),
    (r"\{\{(~)?\*?", "OPEN"),
    (r"=", "EQUALS"),
    (r"\.\.", "ID"),
    (rf"\.(?=([=~}}{SPACE}\/.)|]))", "ID"),
    (r"[\/.]", "SEP"),
    (rf"{_S}+", "space"),
    (r"\}(~)?\}\}", "close_unescaped"),
    (r"(~)?\}\}", "close"),
    (r'"(\\["]|[^"])*"', "double_quoted"),
    (r"'(\\[']|[^'])*'", "single_quoted"),
    (r"@", "DATA"),
    (rf"true(?=([~}}{SPACE})]))", "BOOLEAN"),
    (rf"false(?=([~}}{SPACE})]))", "BOOLEAN"),
    (rf"undefined(?=([~}}{SPACE})]))", "UNDEFINED"),
    (rf"null(?=([~}}{SPACE})]))", "NULL"),
    (rf"-?[0-9]+(?:\.[0-9]+)?(?=([~}}{SPACE})]))", "NUMBER"),
    (rf"as{_S}+\|", "OPEN_BLOCK_PARAMS"),
    (r"\|", "CLOSE_BLOCK_PARAMS"),
    (rf"({_ID}(?=([=~}}{SPACE}\/.)|])))", "ID"),
    (r"\[(\\\]|[^\]])*\]", "literal_id"),
    (r".", "INVALID"),
]
_RULES: dict[str, list[tuple[re.Pattern[str], str]]] = {
    "INITIAL": [(re.compile(r"[^\x00]*?(?=(\{\{))"), "text"), (re.compile(r"[^\x00]+"), "CONTENT")],
    "mu": [(re.compile(pattern), kind) for pattern, kind in _MUSTACHE_RULES],
    "emu": [(re.compile(r"[^\x00]{2,}?(?=(\{\{|\\\{\{|\\\\\{\{|\Z))"), "escaped_text")],
    "com": [(re.compile(r"[\s\S]*?--(~)?\}\}"), "end_comment")],
    "raw": [
        (re.compile(r"\{\{\{\{(?=[^/])"), "raw_open"),
        (re.compile(rf"\{{\{{\{{\{{\/{_ID}(?=[=}}{SPACE}\/.])\}}\}}\}}\}}"), "raw_close"),
        (re.compile(r"[^\x00]+?(?=(\{\{\{\{))"), "CONTENT"),
    ],
}


class _Lexer:
    def __init__(self, source: str) -> None:
        self.source = source
        self.pos = 0
        self.line = 1
        self.states = ["INITIAL"]
        self.tokens: list[Token] = []

    def emit(self, kind: str, text: str, line: int) -> None:
        self.tokens.append(Token(kind, text, line))

    def act(self, kind: str, text: str, line: int) -> None:
        state = self.states
        if kind == "text":  # text before a mustache, unless a backslash escapes it
            if text.endswith("\\\\"):
                text = text[:-1]
                state.append("mu")
            elif text.endswith("\\"):
                text = text[:-1]
                state.append("emu")
            else:
                state.append("mu")
            if text:
                self.emit("CONTENT", text, line)
        elif kind == "escaped_text":
            state.pop()
            self.emit("CONTENT", text, line)
        elif kind == "raw_open":
            state.append("raw")
            self.emit("CONTENT", text, line)
        elif kind == "raw_close":
            state.pop()
            if state[-1] == "raw":
                self.emit("CONTENT", text, line)
            else:
                self.emit("END_RAW_BLOCK", text[5:-4], line)
        elif kind == "close_raw_block":
            state.pop()
            state.append("raw")
            self.emit("CLOSE_RAW_BLOCK", text, line)
        elif kind == "inverse":
            state.pop()
            self.emit("INVERSE", text, line)
        elif kind == "long_comment":
            self.pos -= len(text)  # read again from the start, as a comment
            self.line = line
            state.pop()
            state.append("com")
        elif kind in ("comment", "end_comment"):
            state.pop()
            self.emit("COMMENT", text, line)
        elif kind == "close_unescaped":
            state.pop()
            self.emit("CLOSE_UNESCAPED", text, line)
        elif kind == "close":
            state.pop()
            self.emit("CLOSE", text, line)
        elif kind == "double_quoted":
            self.emit("STRING", text[1:-1].replace('\\"', '"'), line)
        elif kind == "single_quoted":
            self.emit("STRING", text[1:-1].replace("\\'", "'"), line)
        elif kind == "literal_id":
            self.emit("ID", re.sub(r"\\([\\\]])", r"\1", text), line)
        elif kind == "INVALID":
            if "}}" not in self.source[self.pos :]:
                raise RenderError("a mustache is never closed with }}", line=line)
            raise RenderError(f"unexpected character {text!r} inside a mustache", line=line)
        elif kind != "space":
            self.emit(kind, text, line)

    def run(self) -> list[Token]:
        end = len(self.source)
        while self.pos < end:
            state = self.states[-1]
            for pattern, kind in _RULES[state]:
                found = pattern.match(self.source, self.pos)
                if found is not None and (found.end() > self.pos or kind == "text"):
                    break
            else:
                if state == "com":
                    raise RenderError("a {{!-- comment is never closed with --}}", line=self.line)
                if state == "raw":
                    raise RenderError("a raw block {{{{…}}}} is never closed", line=self.line)
                if state == "INITIAL" and self.source[self.pos] == "\x00":
                    raise RenderError("templates cannot contain NUL characters", line=self.line)
                raise RenderError("a mustache is never closed with }}", line=self.line)
            text = found.group()
            line = self.line
            self.pos = found.end()
            self.line += len(_LINE_BREAKS.findall(text))
            self.act(kind, text, line)
        if self.states[-1] in ("mu", "com"):
            raise RenderError("the template ends inside a mustache", line=self.line)
        self.emit("EOF", "", self.line)
        return self.tokens


def tokenize(source: str) -> list[Token]:
    """The tokens of ``source``; RenderError (with its line) for text that cannot be a token."""
    return _Lexer(source).run()
