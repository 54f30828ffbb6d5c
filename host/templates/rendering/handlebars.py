"""Translate a Handlebars message template into Jinja2 source for the same sandbox.

Supported (the subset Mia templates use):

- ``{{path}}`` escaped in HTML bodies, ``{{{path}}}`` and ``{{& path}}`` never escaped;
  paths ``a.b.c``, ``a/b``, ``this``, ``.``, ``this.a``, ``./a``, ``../a``, ``[any key]``, ``items.0``,
  ``items.length``, ``@root.a``, ``@index``, ``@key``, ``@first``, ``@last``;
- helpers with positional and ``key=value`` arguments, literals (strings, numbers, true, false, null,
  undefined) and ``(subexpressions)``: ``dateNow``, ``dateFormat``, ``formatNumber``, ``formatCurrency``,
  ``formatDate``, ``formatDateTime``, ``eq ne lt gt lte gte and or not`` and ``lookup``;
  ``{{dateNow}}`` (a helper name alone) calls it;
- blocks ``#if`` (with ``includeZero=true``), ``#unless``, ``#each`` (arrays and objects, ``as |item i|``),
  ``#with`` (``as |x|``), ``{{^x}}…{{/x}}``, ``{{else}}``/``{{^}}``, ``{{else if …}}``/``{{else unless …}}``;
- comments ``{{! … }}`` and ``{{!-- … --}}``, whitespace control ``{{~ … ~}}``, standalone block lines
  (a line holding only a block tag or a comment leaves no blank line), ``\\{{escaped}}``.

Limits: no partials (``{{> x}}``), decorators, inline partials, raw blocks (``{{{{raw}}}}``), custom
block helpers, mustache-style sections over a value (``{{#items}}``), ``@../index`` or ``log``; each of
these is refused when the template is compiled, with its line. Inside ``#each``/``#with`` a plain name is
looked up in the current item first and then outward up to the root (Handlebars' *compat* lookup), so
``{{user.name}}`` still works inside a loop. Values print as JavaScript would: ``true``/``false``,
``2`` for 2.0, ``a,b`` for a list, ``[object Object]`` for an object, nothing for null; datetimes as ISO
8601. Escaping uses Jinja's entities (``&#39;`` rather than ``&#x27;``; ``=`` and the backtick are left
as they are), which browsers read the same way. In HTML bodies, ``{{x}}`` also turns newlines into
``<br/>``; ``{{{x}}}`` prints the value untouched.

The generated source keeps the template's line numbers, so Jinja errors point at the Handlebars line.

A translation, not a Handlebars library: pybars3 compiles templates to Python that runs outside any
sandbox, and an embedded JavaScript engine running handlebars.js would sit beside the Jinja sandbox
with its own limits; translating keeps one sandbox, one render budget and one error shape for both
syntaxes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from host.templates.rendering.handlebars_syntax import (
    HELPERS,
    Call,
    Constant,
    Expr,
    Parser,
    Path,
    Tag,
    helper_name,
    scan,
    strip_standalone,
    syntax_error,
)

__all__ = ["translate"]

_RENAMED = {"and": "_hb_and", "or": "_hb_or", "not": "_hb_not"}
_JINJA_OPENERS = re.compile(r"\{(?=[{%#]|$)")


@dataclass
class _Frame:
    this: str
    key: str | None = None
    params: dict[str, str] = field(default_factory=dict)


@dataclass
class _Block:
    name: str
    line: int
    pushed: bool
    closed_else: bool = False


def _keys(parts: list[str]) -> str:
    return "".join(f"[{json.dumps(part, ensure_ascii=False)}]" for part in parts)


class _Translator:
    def __init__(self) -> None:
        self.out: list[str] = []
        self.frames: list[_Frame] = [_Frame("_hb_root")]
        self.blocks: list[_Block] = []
        self.counter = 0

    # --- expressions ---

    def expr(self, node: Expr, line: int) -> str:
        if isinstance(node, Constant):
            return node.source
        if isinstance(node, Call):
            return self.call(node.name, node.params, node.hash, line)
        return self.path(node, line)

    def call(self, name: str, params: list[Expr], pairs: list[tuple[str, Expr]], line: int) -> str:
        args = [self.expr(param, line) for param in params]
        if name == "lookup":
            if len(args) != 2 or pairs:
                raise syntax_error("lookup takes an object and a key", line)
            return f"({args[0]})[{args[1]}]"
        args += [f"{key}={self.expr(value, line)}" for key, value in pairs]
        return f"{_RENAMED.get(name, name)}({', '.join(args)})"

    def path(self, node: Path, line: int) -> str:
        parts = node.parts
        if node.data:
            return self.data_variable(parts, line)
        depth = 0
        while depth < len(parts) and parts[depth] == "..":
            depth += 1
        rest = parts[depth:]
        explicit = depth > 0
        if rest and rest[0] in ("this", "."):
            explicit, rest = True, rest[1:]
        if explicit or not rest:
            return self.frames[max(len(self.frames) - 1 - depth, 0)].this + _keys(rest)
        first = rest[0]
        for frame in reversed(self.frames):
            if first in frame.params:
                return frame.params[first] + _keys(rest[1:])
        if len(self.frames) == 1:
            return (first + _keys(rest[1:])) if first in ("user", "data") else "_hb_root" + _keys(rest)
        scopes = ", ".join(frame.this for frame in reversed(self.frames))
        return f"_hb_lookup({json.dumps(first, ensure_ascii=False)}, {scopes}){_keys(rest[1:])}"

    def data_variable(self, parts: list[str], line: int) -> str:
        name, rest = parts[0], parts[1:]
        if name == "root":
            return "_hb_root" + _keys(rest)
        keyed = [frame for frame in self.frames if frame.key is not None]
        if name in ("index", "first", "last"):
            return ("loop." + ("index0" if name == "index" else name)) if keyed else "none"
        if name == "key":
            return (keyed[-1].key or "none") if keyed else "none"
        raise syntax_error(f"unknown data variable '@{name}'", line)

    # --- tags ---

    @staticmethod
    def statement(tag: Tag, *bodies: str) -> str:
        pieces = []
        for index, body in enumerate(bodies):
            left = "{%-" if tag.strip_left and index == 0 else "{%"
            last = index == len(bodies) - 1
            right = "-%}" if tag.strip_right and last else "%}"
            pieces.append(f"{left} {body}{chr(10) * tag.newlines if last else ''} {right}")
        return "".join(pieces)

    def mustache(self, tag: Tag) -> str:
        parser = Parser(tag.content, tag.line)
        head = parser.expression()
        params, pairs = parser.arguments()
        if parser.block_params():
            raise syntax_error("block parameters belong to block helpers", tag.line)
        simple = isinstance(head, Path) and not head.data and len(head.parts) == 1
        if params or pairs or (simple and isinstance(head, Path) and head.parts[0] in HELPERS):
            expression = self.call(helper_name(head, tag.line), params, pairs, tag.line)
        else:
            expression = self.expr(head, tag.line)
        if tag.kind in ("{{{", "&"):
            expression = f"_hb_raw({expression})"
        left = "{{-" if tag.strip_left else "{{"
        right = "-}}" if tag.strip_right else "}}"
        return f"{left} {expression}{chr(10) * tag.newlines} {right}"

    def condition(self, name: str, tag: Tag, parser: Parser) -> str:
        params, pairs = parser.arguments()
        if len(params) != 1 or parser.block_params():
            raise syntax_error(f"#{name} takes exactly one value", tag.line)
        zero = dict(pairs).pop("includeZero", None)
        if any(key != "includeZero" for key, _ in pairs):
            raise syntax_error(f"#{name} only accepts includeZero=", tag.line)
        value = self.expr(params[0], tag.line)
        test = f"_hb_truthy({value}, {self.expr(zero, tag.line)})" if zero else f"_hb_truthy({value})"
        return test if name == "if" else f"not {test}"

    def open_block(self, tag: Tag) -> str:
        if tag.kind == "^":
            name = tag.content.strip()
            value = self.expr(Parser(tag.content, tag.line).expression(), tag.line)
            self.blocks.append(_Block(name, tag.line, pushed=False))
            return self.statement(tag, f"if not _hb_truthy({value})")
        parser = Parser(tag.content, tag.line)
        head = parser.expression()
        name = head.parts[0] if isinstance(head, Path) and len(head.parts) == 1 else "?"
        if name in ("if", "unless"):
            self.blocks.append(_Block(name, tag.line, pushed=False))
            return self.statement(tag, "if " + self.condition(name, tag, parser))
        if name not in ("each", "with"):
            raise syntax_error(f"unknown block helper '#{'.'.join(getattr(head, 'parts', ['?']))}'", tag.line)
        params, pairs = parser.arguments()
        names = parser.block_params()
        if len(params) != 1 or pairs or len(names) > (2 if name == "each" else 1):
            raise syntax_error(f"#{name} takes exactly one value", tag.line)
        value = self.expr(params[0], tag.line)
        self.counter += 1
        this, key = f"_hb_this_{self.counter}", f"_hb_key_{self.counter}"
        frame = _Frame(this, key if name == "each" else None, dict(zip(names, [this, key], strict=False)))
        self.frames.append(frame)
        self.blocks.append(_Block(name, tag.line, pushed=True))
        if name == "each":
            return self.statement(tag, f"for {key}, {this} in _hb_each({value})")
        return self.statement(tag, f"with {this} = {value}", f"if _hb_truthy({this}, true)")

    def else_tag(self, tag: Tag) -> str:
        if not self.blocks or self.blocks[-1].closed_else:
            raise syntax_error("{{else}} outside a block (or a second one)", tag.line)
        block = self.blocks[-1]
        chained = tag.content.strip()
        if not chained:
            block.closed_else = True
            if block.pushed:
                self.frames.pop()
                block.pushed = False
            return self.statement(tag, "else")
        parser = Parser(chained, tag.line)
        head = parser.expression()
        name = head.parts[0] if isinstance(head, Path) and len(head.parts) == 1 else "?"
        if block.name not in ("if", "unless") or name not in ("if", "unless"):
            raise syntax_error("only {{else if …}} and {{else unless …}} may follow #if or #unless", tag.line)
        return self.statement(tag, "elif " + self.condition(name, tag, parser))

    def close_block(self, tag: Tag) -> str:
        name = tag.content.strip()
        if not self.blocks:
            raise syntax_error(f"{{{{/{name}}}}} closes no block", tag.line)
        block = self.blocks.pop()
        if block.name != name:
            raise syntax_error(
                f"{{{{/{name}}}}} closes {{{{#{block.name}}}}} opened at line {block.line}", tag.line
            )
        if block.pushed:
            self.frames.pop()
        if block.name == "each":
            return self.statement(tag, "endfor")
        if block.name == "with":
            return self.statement(tag, "endif", "endwith")
        return self.statement(tag, "endif")

    def translate(self, items: list[str | Tag]) -> str:
        for item in items:
            if isinstance(item, str):
                self.out.append(_JINJA_OPENERS.sub("{{ '{' }}", item))
            elif item.kind == "!":
                self.out.append(("{#-" if item.strip_left else "{#") + "\n" * item.newlines)
                self.out.append("-#}" if item.strip_right else "#}")
            elif item.kind in ("{{", "{{{", "&"):
                self.out.append(self.mustache(item))
            elif item.kind in ("#", "^"):
                self.out.append(self.open_block(item))
            elif item.kind == "else":
                self.out.append(self.else_tag(item))
            else:
                self.out.append(self.close_block(item))
        if self.blocks:
            block = self.blocks[-1]
            raise syntax_error(f"{{{{#{block.name}}}}} is never closed", block.line)
        return "".join(self.out)


def translate(source: str) -> str:
    """Jinja2 source equivalent to the Handlebars ``source``; RenderError (with its line) if unsupported."""
    return _Translator().translate(strip_standalone(scan(source)))
