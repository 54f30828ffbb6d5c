"""Reading the expressions inside Handlebars tags: names, paths, literals, arguments, subexpressions.

The token helpers and the expression grammar of handlebars.js 4.7, shared by the statement parser
(:mod:`host.templates.rendering.handlebars.parser`).
"""

from __future__ import annotations

import re

from host.errors import RenderError
from host.templates.rendering.handlebars.js import UNDEFINED
from host.templates.rendering.handlebars.js_numbers import string_to_number
from host.templates.rendering.handlebars.lexer import Token
from host.templates.rendering.handlebars.nodes import Expression, Hash, Literal, PathExpression, SubExpression

__all__ = ["MAX_NESTING", "ExpressionParser", "as_path", "literal_id", "scoped", "simple"]

MAX_NESTING = 40
_PARAM_STARTS = frozenset({"ID", "DATA", "STRING", "NUMBER", "BOOLEAN", "UNDEFINED", "NULL", "OPEN_SEXPR"})
_SHOWN = {
    "EOF": "the end of the template",
    "CLOSE": "}}",
    "CLOSE_UNESCAPED": "}}}",
    "CLOSE_SEXPR": "')'",
    "OPEN_ENDBLOCK": "a closing {{/…}}",
    "INVERSE": "{{else}}",
    "OPEN_INVERSE_CHAIN": "{{else …}}",
    "EQUALS": "'='",
    "SEP": "a path separator",
    "CLOSE_BLOCK_PARAMS": "'|'",
}


def literal_id(token: str) -> str:
    """``[foo bar]`` → ``foo bar`` (handlebars.js' ``yy.id``)."""
    return token[1:-1] if len(token) >= 2 and token.startswith("[") and token.endswith("]") else token


def as_path(head: PathExpression | Literal | SubExpression) -> PathExpression | SubExpression:
    """A literal in a helper's place names a key: ``{{"foo bar"}}`` reads ``foo bar`` from the context."""
    if isinstance(head, Literal):
        return PathExpression(False, 0, [head.original], head.original, head.line)
    return head


class ExpressionParser:
    """A cursor over the tokens, and the expressions of the grammar."""

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.nesting = 0

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]

    def next(self) -> Token:
        token = self.peek()
        self.pos += 1
        return token

    def expect(self, kind: str) -> Token:
        token = self.peek()
        if token.kind != kind:
            raise self.unexpected(token, _SHOWN.get(kind, kind.lower()))
        return self.next()

    @staticmethod
    def unexpected(token: Token, wanted: str) -> RenderError:
        found = _SHOWN.get(token.kind) or repr(token.text)
        return RenderError(f"expected {wanted} but found {found}", line=token.line)

    def nest(self, line: int) -> None:
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise RenderError(f"blocks and subexpressions are nested deeper than {MAX_NESTING}", line=line)

    # --- statements ---

    def call(self) -> tuple[PathExpression | Literal | SubExpression, list[Expression], Hash | None]:
        head = self.helper_name()
        params: list[Expression] = []
        while self.peek().kind in _PARAM_STARTS and not self.at_hash():
            params.append(self.param())
        pairs: list[tuple[str, Expression]] = []
        while self.at_hash():
            key = literal_id(self.next().text)
            self.next()
            pairs.append((key, self.param()))
        if self.peek().kind in _PARAM_STARTS:
            raise self.unexpected(self.peek(), "key=value (positional arguments come first)")
        return head, params, Hash(pairs) if pairs else None

    def block_params(self) -> list[str] | None:
        if self.peek().kind != "OPEN_BLOCK_PARAMS":
            return None
        self.next()
        names = [literal_id(self.expect("ID").text)]
        while self.peek().kind == "ID":
            names.append(literal_id(self.next().text))
        self.expect("CLOSE_BLOCK_PARAMS")
        return names

    def at_hash(self) -> bool:
        return self.peek().kind == "ID" and self.peek(1).kind == "EQUALS"

    def param(self) -> Expression:
        if self.peek().kind == "OPEN_SEXPR":
            return self.subexpression()
        return self.helper_name()

    def subexpression(self) -> SubExpression:
        token = self.next()
        self.nest(token.line)
        head, params, pairs = self.call()
        self.expect("CLOSE_SEXPR")
        self.nesting -= 1
        path = as_path(head)
        assert isinstance(path, PathExpression)
        return SubExpression(path, params, pairs, token.line)

    def helper_name(self) -> PathExpression | Literal:
        token = self.next()
        kind = token.kind
        if kind == "ID":
            return self.path(False, token)
        if kind == "DATA":
            return self.path(True, self.expect("ID"))
        if kind == "STRING":
            return Literal(token.text, token.text, token.line)
        if kind == "NUMBER":
            return Literal(string_to_number(token.text), token.text, token.line)
        if kind == "BOOLEAN":
            return Literal(token.text == "true", token.text, token.line)
        if kind in ("UNDEFINED", "NULL"):
            return Literal(UNDEFINED if kind == "UNDEFINED" else None, token.text, token.line)
        self.pos -= 1
        raise self.unexpected(token, "a name or a value")

    def path(self, data: bool, first: Token) -> PathExpression:
        segments = [(literal_id(first.text), first.text, "")]
        while self.peek().kind == "SEP":
            separator = self.next().text
            token = self.expect("ID")
            segments.append((literal_id(token.text), token.text, separator))
        original = "@" if data else ""
        parts: list[str] = []
        depth = 0
        for part, written, separator in segments:
            literal = written != part
            original += separator + part
            if not literal and part in ("..", ".", "this"):
                if parts:
                    raise RenderError(f"invalid path {original!r}", line=first.line)
                if part == "..":
                    depth += 1
            else:
                parts.append(part)
        return PathExpression(data, depth, parts, original, first.line)


_SCOPED = re.compile(r"^\.|this(?![A-Za-z0-9_])")


def scoped(path: PathExpression) -> bool:
    """``this.x``, ``./x``: never a helper, never a block parameter (handlebars.js' ``scopedId``)."""
    return _SCOPED.search(path.original) is not None


def simple(path: PathExpression) -> bool:
    """A lone name, the only kind of path that can call a helper by itself (``simpleId``)."""
    return len(path.parts) == 1 and not path.depth and not scoped(path)
