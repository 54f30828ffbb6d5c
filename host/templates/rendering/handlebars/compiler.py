"""Compiling the syntax tree into Python closures, deciding as handlebars.js does what each name means.

A mustache or block is a *helper call* when it has arguments (or names one of Handlebars' own helpers),
*ambiguous* when it is a lone name (a helper if one has that name, else a value of the context: so
``{{first}}`` calls the ``first`` helper even where the context has a ``first`` key, as in Mia), and a
*value* otherwise (``{{this.first}}``, ``{{a.b}}``, ``{{@index}}``, a block parameter). A helper name
Tidings does not know, or refuses, is an error when the template is compiled, naming the helper.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from host.errors import RenderError
from host.templates.rendering import budget
from host.templates.rendering.handlebars import js
from host.templates.rendering.handlebars.helpers.builtin import block_helper_missing
from host.templates.rendering.handlebars.js import UNDEFINED
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
    SubExpression,
)
from host.templates.rendering.handlebars.parser import scoped, simple
from host.templates.rendering.handlebars.runtime import (
    Env,
    Helper,
    Options,
    escape_html,
    lookup_property,
    make_program,
    noop,
    output_text,
)

__all__ = ["Compiler"]

#: names handlebars.js always compiles as helper calls, even alone (``{{each}}``)
_KNOWN = frozenset({"helperMissing", "blockHelperMissing", "each", "if", "unless", "with", "log", "lookup"})
Getter = Callable[[Env], Any]
Render = Callable[[Env], str]


def _resolve(value: Any, parts: list[str]) -> Any:
    for part in parts:
        if value is None or value is UNDEFINED:
            return value
        value = lookup_property(value, part)
    return js.plain(value)


def _parent(frame: Any) -> Any:
    return frame.get("_parent", UNDEFINED) if isinstance(frame, Mapping) else UNDEFINED


class Compiler:
    """Turns one template's syntax tree into a render function; the helpers are those of the registry."""

    def __init__(self, helpers: Mapping[str, Helper], refused: Mapping[str, str], *, html: bool) -> None:
        self.helpers = helpers
        self.refused = refused
        self.html = html
        self.scopes: list[list[str] | None] = []

    # --- programs and statements ---

    def program(self, program: Program) -> Render:
        self.scopes.append(program.block_params)
        pieces: list[str | Render] = []
        for statement in program.body:
            piece = self.statement(statement)
            if piece is None:
                continue
            if isinstance(piece, str) and pieces and isinstance(pieces[-1], str):
                pieces[-1] += piece
            else:
                pieces.append(piece)
        self.scopes.pop()
        constant = sum(len(piece) for piece in pieces if isinstance(piece, str))
        work = max(len(pieces), 1)
        if all(isinstance(piece, str) for piece in pieces):
            text = "".join(piece for piece in pieces if isinstance(piece, str))

            def render_text(env: Env) -> str:
                budget.tick()
                budget.charge(constant)
                return text

            return render_text

        def render(env: Env) -> str:
            budget.tick(work)
            if constant:
                budget.charge(constant)
            return "".join([piece if piece.__class__ is str else piece(env) for piece in pieces])  # type: ignore[operator]

        return render

    def statement(self, node: Statement) -> str | Render | None:
        if isinstance(node, Content):
            return node.value or None
        if isinstance(node, Comment):
            return None
        if isinstance(node, Mustache):
            return self.mustache(node)
        return self.block(node)

    def mustache(self, node: Mustache) -> Render:
        value = self.value(node.path, node.params, node.hash, node.line)
        printer = escape_html if self.html and node.escaped else output_text

        def render(env: Env) -> str:
            text = printer(value(env))
            budget.charge(len(text))
            return text

        return render

    def block(self, node: Block) -> Render:
        program = self.program(node.program) if node.program is not None else None
        inverse = self.program(node.inverse) if node.inverse is not None else None
        path = node.path
        assert isinstance(path, PathExpression)
        kind = self.classify(path, node.params, node.hash, subexpression=False)
        if kind == "helper" or (kind == "ambiguous" and self.is_helper(path)):
            invoke = self.call(path, node.params, node.hash, node.line)
        else:
            invoke = self.missing_block(path, node.line)

        def render(env: Env) -> str:
            fn = make_program(program, env) if program is not None else noop
            other = make_program(inverse, env) if inverse is not None else noop
            return output_text(invoke(env, fn, other))

        return render

    # --- names ---

    def block_param(self, name: str) -> tuple[int, int] | None:
        for level, names in enumerate(reversed(self.scopes)):
            if names and name in names:
                return level, names.index(name)
        return None

    def classify(
        self, path: PathExpression, params: list[Expression], hashed: Hash | None, *, subexpression: bool
    ) -> str:
        is_simple = simple(path)
        is_block_param = is_simple and self.block_param(path.parts[0]) is not None
        is_helper = not is_block_param and (subexpression or bool(params) or hashed is not None)
        is_eligible = not is_block_param and (is_helper or is_simple)
        if is_eligible and not is_helper and path.parts[0] in _KNOWN:
            is_helper = True
        if is_helper:
            return "helper"
        return "ambiguous" if is_eligible else "simple"

    def is_helper(self, path: PathExpression) -> bool:
        name = path.parts[0]
        if name in self.refused:
            raise RenderError(self.refused[name], line=path.line)
        return name in self.helpers

    def helper(self, path: PathExpression) -> Helper:
        if not simple(path):
            raise RenderError(f"unknown helper {path.original!r}", line=path.line)
        name = path.parts[0]
        if name in self.refused:
            raise RenderError(self.refused[name], line=path.line)
        if name not in self.helpers:
            raise RenderError(f"unknown helper {name!r}", line=path.line)
        return self.helpers[name]

    # --- expressions ---

    def value(
        self,
        path: PathExpression | Literal | SubExpression,
        params: list[Expression],
        hashed: Hash | None,
        line: int,
    ) -> Getter:
        assert isinstance(path, PathExpression)
        kind = self.classify(path, params, hashed, subexpression=False)
        if kind == "helper" or (kind == "ambiguous" and self.is_helper(path)):
            invoke = self.call(path, params, hashed, line)
            return lambda env: invoke(env, None, None)
        return self.path(path)

    def expression(self, node: Expression) -> Getter:
        if isinstance(node, Literal):
            constant = node.value
            return lambda env: constant
        if isinstance(node, PathExpression):
            return self.path(node)
        path = node.path
        assert isinstance(path, PathExpression)
        if self.classify(path, node.params, node.hash, subexpression=True) == "simple":
            return self.path(path)  # (blockParam) reads the block parameter
        invoke = self.call(path, node.params, node.hash, node.line)
        return lambda env: invoke(env, None, None)

    def path(self, path: PathExpression) -> Getter:
        parts = path.parts
        if path.data:
            return self.data_path(path.depth, parts)
        found = None if (path.depth or scoped(path) or not parts) else self.block_param(parts[0])
        if found is not None:
            return self.block_param_path(path, *found)
        depth = path.depth
        if depth == 0:
            return lambda env: _resolve(env.this, parts)

        def get(env: Env) -> Any:
            depths = env.depths
            return _resolve(depths[depth] if depth < len(depths) else UNDEFINED, parts)

        return get

    @staticmethod
    def data_path(depth: int, parts: list[str]) -> Getter:
        def get(env: Env) -> Any:
            frame = env.data
            for _ in range(depth):
                if not js.to_boolean(frame):
                    break
                frame = _parent(frame)
            return _resolve(frame, parts)

        return get

    @staticmethod
    def block_param_path(path: PathExpression, level: int, index: int) -> Getter:
        rest = path.parts[1:]
        name, line = path.parts[0], path.line

        def get(env: Env) -> Any:
            frame = env.params[level] if level < len(env.params) else None
            if frame is None:  # the helper passed no block parameters: a TypeError in handlebars.js
                raise RenderError(f"block parameter {name!r} has no value (its helper gives none)", line=line)
            return _resolve(js.plain(frame[index]) if index < len(frame) else UNDEFINED, rest)

        return get

    # --- calls ---

    def call(
        self, path: PathExpression, params: list[Expression], hashed: Hash | None, line: int
    ) -> Callable[[Env, Any, Any], Any]:
        helper = self.helper(path)
        return self.invoker(helper, path.original, params, hashed, line)

    def missing_block(self, path: PathExpression, line: int) -> Callable[[Env, Any, Any], Any]:
        value = self.path(path)
        invoke = self.invoker(block_helper_missing, path.original, [], None, line)
        return lambda env, fn, inverse: invoke(env, fn, inverse, value(env))

    def invoker(
        self, helper: Helper, name: str, params: list[Expression], hashed: Hash | None, line: int
    ) -> Callable[..., Any]:
        getters = [self.expression(param) for param in params]
        # handlebars.js assigns the hash from its last pair to its first: that is the order of its keys
        pairs = [(key, self.expression(value)) for key, value in reversed(hashed.pairs if hashed else [])]

        def invoke(env: Env, fn: Any, inverse: Any, *leading: Any) -> Any:
            args = [get(env) for get in getters]
            if leading:
                args[:0] = leading
            options = Options(
                name=name, hash={key: get(env) for key, get in pairs} if pairs else {}, data=env.data
            )
            if fn is not None:
                options["fn"] = fn
                options["inverse"] = inverse
            args.append(options)
            budget.tick()
            try:
                result = helper(env.this, args)
            except RenderError as exc:
                if exc.line is not None:
                    raise
                raise RenderError(f"{name}: {exc.reason}", line=line) from exc
            except RecursionError:
                raise RenderError("the template nests too deeply", line=line) from None
            except (ArithmeticError, LookupError, TypeError, ValueError) as exc:  # a JavaScript TypeError
                raise RenderError(f"{name}: {exc}", line=line) from exc
            if fn is None and not isinstance(result, bool | int | float | type(None)):
                try:
                    budget.ensure_small(result, f"the result of {name}")
                except RenderError as exc:
                    raise RenderError(exc.reason, line=line) from None
            return result

        return invoke
