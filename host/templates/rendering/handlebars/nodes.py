"""The Handlebars syntax tree, shaped as handlebars.js' own AST (Program, statements, expressions)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "Block",
    "Comment",
    "Content",
    "Expression",
    "Hash",
    "Literal",
    "Mustache",
    "PathExpression",
    "Program",
    "Statement",
    "Strip",
    "SubExpression",
]


@dataclass(slots=True)
class Strip:
    """Whitespace control flags of a tag: ``{{~`` strips before it, ``~}}`` after it."""

    open: bool = False
    close: bool = False


@dataclass(slots=True)
class PathExpression:
    """``a.b``, ``../a``, ``this``, ``@index``: ``depth`` counts the ``../``, ``parts`` the rest."""

    data: bool
    depth: int
    parts: list[str]
    original: str
    line: int


@dataclass(slots=True)
class Literal:
    """A string, number, boolean, ``undefined`` or ``null`` written in the template."""

    value: Any
    original: str
    line: int


@dataclass(slots=True)
class Hash:
    """The ``key=value`` arguments of a call, in order."""

    pairs: list[tuple[str, Expression]]


@dataclass(slots=True)
class SubExpression:
    """``(helper params… key=value…)``."""

    path: PathExpression | Literal
    params: list[Expression]
    hash: Hash | None
    line: int


Expression = PathExpression | Literal | SubExpression


@dataclass(slots=True)
class Content:
    """Literal text; ``value`` is what remains after whitespace control, ``original`` what was written."""

    original: str
    value: str
    line: int
    left_stripped: bool = False
    right_stripped: bool = False


@dataclass(slots=True)
class Comment:
    """``{{! … }}`` or ``{{!-- … --}}``: prints nothing."""

    strip: Strip
    line: int


@dataclass(slots=True)
class Mustache:
    """``{{expression}}`` (escaped in HTML bodies) or ``{{{expression}}}`` / ``{{& expression}}``."""

    path: PathExpression | Literal | SubExpression
    params: list[Expression]
    hash: Hash | None
    escaped: bool
    strip: Strip
    line: int


@dataclass(slots=True)
class Program:
    """A sequence of statements: the template, or the body of a block."""

    body: list[Statement]
    line: int
    block_params: list[str] | None = None
    chained: bool = False


@dataclass(slots=True)
class Block:
    """``{{#helper …}}program{{else}}inverse{{/helper}}`` (``{{^x}}`` swaps the two)."""

    path: PathExpression | Literal | SubExpression
    params: list[Expression]
    hash: Hash | None
    program: Program | None
    inverse: Program | None
    open_strip: Strip
    inverse_strip: Strip | None
    close_strip: Strip | None
    line: int
    raw: bool = False


Statement = Content | Comment | Mustache | Block
