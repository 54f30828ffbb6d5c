"""Reading Handlebars tokens into the syntax tree, following handlebars.js 4.7's grammar.

Partials, partial blocks, decorators and inline partials are refused (a message template has no partials
to call); everything else of the 4.x language is read, with the line of each node for error messages.
The expressions inside the tags are read by :mod:`host.templates.rendering.handlebars.expressions`.
"""

from __future__ import annotations

from dataclasses import dataclass

from host.errors import RenderError
from host.templates.rendering.handlebars.expressions import (
    MAX_NESTING,
    ExpressionParser,
    as_path,
    scoped,
    simple,
)
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

__all__ = ["MAX_NESTING", "parse", "scoped", "simple"]


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


class _Parser(ExpressionParser):
    """The statements: text, comments, mustaches, blocks with their inverse chains, raw blocks."""

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
            as_path(head), params, pairs, escaped, _strip(opening.text, closing.text), opening.line
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
            as_path(opened.path),
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
            as_path(head), params, pairs, Program(contents, token.line), None, Strip(), Strip(), Strip(),
            token.line, raw=True,
        )  # fmt: skip

    # --- expressions ---


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
