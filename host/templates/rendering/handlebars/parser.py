"""Reading Handlebars tokens into the syntax tree, following handlebars.js 4.7's grammar.

Partials, partial blocks, decorators and inline partials are refused (a message template has no partials
to call); everything else of the 4.x language is read, with the line of each node for error messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from host.errors import RenderError
from host.templates.rendering.handlebars.js import UNDEFINED
from host.templates.rendering.handlebars.js_numbers import string_to_number
from host.templates.rendering.handlebars.lexer import Token, tokenize
from host.templates.rendering.handlebars.nodes import (
    Block,
    Comment,
    Content,
    Expression,
    Hash,
    Literal,
    Mustache,
    PathExpression,
    Program,
    Statement,
    Strip,
    SubExpression,
)

__all__ = ["MAX_NESTING", "parse"]

#: blocks and subexpressions nested deeper than this are refused (each level costs interpreter stack)
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


def _literal_id(token: str) -> str:
    """``[foo bar]`` → ``foo bar`` (handlebars.js' ``yy.id``)."""
    return token[1:-1] if len(token) >= 2 and token.startswith("[") and token.endswith("]") else token


def _strip(open_text: str, close_text: str) -> Strip:
    return Strip(open=open_text[2:3] == "~", close=close_text[-3:-2] == "~")


@dataclass(slots=True)
class _Open:
    path: PathExpression | Literal | SubExpression
    params: list[Expression]
    hash: Hash | None
    block_params: list[str] | None
    strip: Strip
    line: int


@dataclass(slots=True)
class _Inverse:
    strip: Strip
    program: Program
    chain: bool


@dataclass(slots=True)
class _Close:
    original: str | None
    strip: Strip | None
    line: int = 0


def _original(path: PathExpression | Literal | SubExpression) -> str:
    return path.original if isinstance(path, PathExpression | Literal) else "(…)"


def _as_path(head: PathExpression | Literal | SubExpression) -> PathExpression | SubExpression:
    """A literal in a helper's place names a key: ``{{"foo bar"}}`` reads ``foo bar`` from the context."""
    if isinstance(head, Literal):
        return PathExpression(False, 0, [head.original], head.original, head.line)
    return head


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.nesting = 0

    # --- tokens ---

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

    def program(self) -> Program:
        body: list[Statement] = []
        line = self.peek().line
        while True:
            token = self.peek()
            if token.kind == "CONTENT":
                self.next()
                body.append(Content(token.text, token.text, token.line))
            elif token.kind == "COMMENT":
                self.next()
                body.append(Comment(_strip(token.text, token.text), token.line))
            elif token.kind in ("OPEN", "OPEN_UNESCAPED"):
                body.append(self.mustache())
            elif token.kind in ("OPEN_BLOCK", "OPEN_INVERSE"):
                body.append(self.block())
            elif token.kind == "OPEN_RAW_BLOCK":
                body.append(self.raw_block())
            elif token.kind in ("OPEN_PARTIAL", "OPEN_PARTIAL_BLOCK"):
                raise RenderError(
                    "partials ({{> name}}) are not available in message templates", line=token.line
                )
            else:
                return Program(body, line)

    def mustache(self) -> Mustache:
        opening = self.next()
        if "*" in opening.text:
            raise RenderError(
                "decorators ({{* …}}) are not available in message templates", line=opening.line
            )
        head, params, pairs = self.call()
        closing = self.expect("CLOSE" if opening.kind == "OPEN" else "CLOSE_UNESCAPED")
        flag = opening.text[3:4] or opening.text[2:3]
        escaped = flag not in ("{", "&")
        return Mustache(
            _as_path(head), params, pairs, escaped, _strip(opening.text, closing.text), opening.line
        )

    def opening(self, token: Token) -> _Open:
        if "*" in token.text:
            raise RenderError(
                "inline partials and decorators are not available in message templates", line=token.line
            )
        head, params, pairs = self.call()
        names = self.block_params()
        closing = self.expect("CLOSE")
        return _Open(head, params, pairs, names, _strip(token.text, closing.text), token.line)

    def block(self) -> Block:
        token = self.next()
        self.nest(token.line)
        opened = self.opening(token)
        program = self.program()
        inverse: _Inverse | None = None
        if token.kind == "OPEN_BLOCK" and self.peek().kind == "OPEN_INVERSE_CHAIN":
            inverse = self.inverse_chain()
        elif self.peek().kind == "INVERSE":
            inverse = self.inverse_and_program()
        closing = self.close_block(opened)
        self.nesting -= 1
        return self.prepare(opened, program, inverse, closing, inverted=token.kind == "OPEN_INVERSE")

    def inverse_and_program(self) -> _Inverse:
        token = self.next()
        return _Inverse(_strip(token.text, token.text), self.program(), chain=False)

    def inverse_chain(self) -> _Inverse:
        token = self.next()
        opened = self.opening(token)
        program = self.program()
        following: _Inverse | None = None
        if self.peek().kind == "OPEN_INVERSE_CHAIN":
            following = self.inverse_chain()
        elif self.peek().kind == "INVERSE":
            following = self.inverse_and_program()
        closing = _Close(None, following.strip if following else None)
        block = self.prepare(opened, program, following, closing, inverted=False)
        return _Inverse(opened.strip, Program([block], token.line, chained=True), chain=True)

    def close_block(self, opened: _Open) -> _Close:
        token = self.peek()
        if token.kind != "OPEN_ENDBLOCK":
            name = _original(opened.path)
            raise RenderError(f"{{{{#{name}}}}} is never closed", line=opened.line)
        self.next()
        path = self.helper_name()
        closing = self.expect("CLOSE")
        return _Close(_original(path), _strip(token.text, closing.text), token.line)

    @staticmethod
    def prepare(
        opened: _Open, program: Program, inverse: _Inverse | None, closing: _Close, *, inverted: bool
    ) -> Block:
        if closing.original is not None and closing.original != _original(opened.path):
            raise RenderError(
                f"{{{{/{closing.original}}}}} does not close {{{{#{_original(opened.path)}}}}} "
                f"(opened at line {opened.line})",
                line=closing.line,
            )
        program.block_params = opened.block_params
        other: Program | None = None
        inverse_strip: Strip | None = None
        if inverse is not None:
            if inverse.chain:
                chained = inverse.program.body[0]
                assert isinstance(chained, Block)
                chained.close_strip = closing.strip
            inverse_strip = inverse.strip
            other = inverse.program
        first: Program | None = program
        if inverted:
            first, other = other, program
        return Block(
            _as_path(opened.path),
            opened.params,
            opened.hash,
            first,
            other,
            opened.strip,
            inverse_strip,
            closing.strip,
            opened.line,
        )

    def raw_block(self) -> Block:
        token = self.next()
        head, params, pairs = self.call()
        self.expect("CLOSE_RAW_BLOCK")
        contents: list[Statement] = []
        while self.peek().kind == "CONTENT":
            text = self.next()
            contents.append(Content(text.text, text.text, text.line))
        if not contents:
            raise self.unexpected(self.peek(), "the raw block's content")
        closing = self.expect("END_RAW_BLOCK")
        if closing.text != _original(head):
            raise RenderError(
                f"{{{{{{{{/{closing.text}}}}}}}}} does not close {_original(head)}", line=token.line
            )
        return Block(
            _as_path(head), params, pairs, Program(contents, token.line), None, Strip(), Strip(), Strip(),
            token.line, raw=True,
        )  # fmt: skip

    # --- expressions ---

    def call(self) -> tuple[PathExpression | Literal | SubExpression, list[Expression], Hash | None]:
        head = self.helper_name()
        params: list[Expression] = []
        while self.peek().kind in _PARAM_STARTS and not self.at_hash():
            params.append(self.param())
        pairs: list[tuple[str, Expression]] = []
        while self.at_hash():
            key = _literal_id(self.next().text)
            self.next()
            pairs.append((key, self.param()))
        if self.peek().kind in _PARAM_STARTS:
            raise self.unexpected(self.peek(), "key=value (positional arguments come first)")
        return head, params, Hash(pairs) if pairs else None

    def block_params(self) -> list[str] | None:
        if self.peek().kind != "OPEN_BLOCK_PARAMS":
            return None
        self.next()
        names = [_literal_id(self.expect("ID").text)]
        while self.peek().kind == "ID":
            names.append(_literal_id(self.next().text))
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
        path = _as_path(head)
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
        segments = [(_literal_id(first.text), first.text, "")]
        while self.peek().kind == "SEP":
            separator = self.next().text
            token = self.expect("ID")
            segments.append((_literal_id(token.text), token.text, separator))
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


def parse(source: str) -> Program:
    """The syntax tree of ``source``; RenderError with the line for anything the grammar refuses."""
    parser = _Parser(tokenize(source))
    program = parser.program()
    token = parser.peek()
    if token.kind == "OPEN_ENDBLOCK":
        raise RenderError(f"{{{{/{parser.peek(1).text}}}}} closes no block", line=token.line)
    if token.kind in ("INVERSE", "OPEN_INVERSE_CHAIN"):
        raise RenderError("{{else}} outside a block", line=token.line)
    parser.expect("EOF")
    return program
