"""The Jinja2 environment Jinja message templates run in: immutable sandbox, bounded work, bounded output.

On top of :class:`~jinja2.sandbox.ImmutableSandboxedEnvironment` (no ``_``-prefixed or internal attributes,
no mutation of lists and dicts, ``str.format`` sandboxed), this environment

- raises on any unsafe attribute instead of rendering it empty, so an attempt shows up as an error;
- charges every lookup, call, loop iteration and intercepted operator to the render's budget
  (:mod:`host.templates.rendering.budget`), and checks the size of what calls, filters and operators build
  (:mod:`host.templates.rendering.guards`);
- rewrites the parsed template before compiling it: each ``for`` iterates through a counting wrapper that
  also charges the loop body's literal text, macro bodies charge theirs on each call, ``~`` and list or
  dict literals are size-checked, and ``extends``/``include``/``import`` (there is no loader) and ``self``
  are refused;
- offers only the template functions of :mod:`host.templates.rendering.functions` as globals (no ``lipsum``,
  ``cycler``, ``joiner``, ``namespace`` or ``dict``);
- prints undefined values and ``None`` as nothing, datetimes as ISO 8601, and, with autoescaping on,
  escapes each interpolated value then turns its newlines (``\\r\\n``, ``\\n\\r``, ``\\r``, ``\\n``) into
  ``<br/>``. Values marked safe (``|safe``, macros) are printed as they are.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from functools import update_wrapper
from typing import Any

from jinja2 import ChainableUndefined, Undefined, nodes, pass_eval_context
from jinja2.exceptions import SecurityError, TemplateSyntaxError
from jinja2.nodes import EvalContext
from jinja2.runtime import Context, markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer
from markupsafe import Markup, escape

from host.errors import RenderError
from host.templates.rendering import budget, guards

__all__ = ["TemplateSandbox"]

_NEWLINES = re.compile(r"\r\n|\n\r|\r|\n")
_FORBIDDEN = (nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)


def iso_datetime(moment: datetime) -> str:
    """JavaScript's ``toISOString`` shape for aware datetimes in UTC, ``isoformat`` for the rest."""
    if moment.utcoffset() is not None and moment.utcoffset().total_seconds() == 0:  # type: ignore[union-attr]
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.isoformat()


def _printable(value: Any) -> str:
    if isinstance(value, datetime):
        return iso_datetime(value)
    budget.ensure_small(value, "printed value")
    return str(value)


def _make_finalize() -> Callable[..., Any]:
    @pass_eval_context
    def finalize(eval_ctx: EvalContext, value: Any) -> str:
        if value is None or isinstance(value, Undefined):
            return ""
        if isinstance(value, Markup):
            text: str = value
        elif eval_ctx.autoescape:
            if hasattr(value, "__html__"):
                text = Markup(value.__html__())  # noqa: S704 - the object vouches for its own HTML
            else:
                escaped = str(escape(_printable(value)))
                text = Markup(_NEWLINES.sub("<br/>", escaped))  # noqa: S704 - escaped just above
        else:
            text = _printable(value)
        budget.charge(len(text))
        return text

    return finalize


@pass_eval_context
def _concat(eval_ctx: EvalContext, *parts: Any) -> str:
    """The ``~`` operator, refused when the joined text would be too large."""
    limit = budget.max_value()
    total = 0
    for part in parts:
        total += budget.weigh(part, limit)
        if total > limit:
            raise RenderError(f"joined text would be too large (at most {limit} characters)")
    return str(markup_join(parts) if eval_ctx.autoescape else str_join(parts))


def _charge(characters: int) -> str:
    budget.charge(characters)
    return ""


def _same(value: Any) -> Any:
    return value


def _env_call(name: str, *args: nodes.Node, lineno: int) -> nodes.Call:
    return nodes.Call(
        nodes.EnvironmentAttribute(name, lineno=lineno), list(args), [], None, None, lineno=lineno
    )


def _literal_size(items: Iterable[nodes.Node]) -> int:
    """Characters of template text in ``items``, leaving out nested loop and macro bodies (they charge)."""
    total = 0
    for item in items:
        if isinstance(item, nodes.TemplateData):
            total += len(item.data)
        elif isinstance(item, nodes.For):
            total += _literal_size(item.else_)
        elif not isinstance(item, nodes.Macro | nodes.CallBlock):
            total += _literal_size(item.iter_child_nodes())
    return total


class _Hardener(NodeTransformer):
    """Rewrites a parsed template so loops, macros, ``~`` and literals are charged and size-checked."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        weight = _literal_size(node.body)
        self.generic_visit(node)
        per_item = 0 if node.recursive else weight
        node.iter = _env_call("tidings_iterate", node.iter, nodes.Const(per_item), lineno=node.lineno)
        if node.recursive:  # inner levels are called through loop(), not through the iterator above
            node.body.insert(0, self._charge(weight, node.lineno))
        return node

    def visit_Macro(self, node: nodes.Macro) -> nodes.Node:
        return self._charge_body(node)

    def visit_CallBlock(self, node: nodes.CallBlock) -> nodes.Node:
        return self._charge_body(node)

    def _charge_body(self, node: nodes.Macro | nodes.CallBlock) -> nodes.Node:
        weight = _literal_size(node.body)
        self.generic_visit(node)
        node.body.insert(0, self._charge(weight, node.lineno))
        return node

    @staticmethod
    def _charge(weight: int, lineno: int) -> nodes.Output:
        return nodes.Output([_env_call("tidings_charge", nodes.Const(weight), lineno=lineno)], lineno=lineno)

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _env_call("tidings_concat", *node.nodes, lineno=node.lineno)

    def visit_List(self, node: nodes.List) -> nodes.Node:
        return self._checked(node)

    def visit_Tuple(self, node: nodes.Tuple) -> nodes.Node:
        if node.ctx != "load":
            return node
        return self._checked(node)

    def visit_Dict(self, node: nodes.Dict) -> nodes.Node:
        return self._checked(node)

    def _checked(self, node: nodes.List | nodes.Tuple | nodes.Dict) -> nodes.Node:
        self.generic_visit(node)
        return _env_call("tidings_checked", node, lineno=node.lineno)


class TemplateSandbox(ImmutableSandboxedEnvironment):
    """One configuration of the message-template environment: HTML bodies or text."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(
        self,
        *,
        html: bool,
        functions: Mapping[str, Callable[..., Any]],
    ) -> None:
        super().__init__(
            autoescape=html,
            undefined=ChainableUndefined,
            finalize=_make_finalize(),
            keep_trailing_newline=True,
            extensions=["jinja2.ext.loopcontrols"],
            cache_size=0,
        )
        self.globals.clear()
        self.globals.update(functions)
        self.filters = guards.bounded_filters(self.filters)
        self.tidings_iterate = budget.counted
        self.tidings_charge = _charge
        self.tidings_concat = _concat
        self.tidings_checked = _same

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        for node in tree.find_all(_FORBIDDEN):
            what = type(node).__name__.lower().replace("fromimport", "import")
            raise TemplateSyntaxError(f"'{what}' is not available in message templates", node.lineno)
        for variable in tree.find_all(nodes.Name):
            if variable.name == "self" and variable.ctx == "load":  # the template's own reference object
                raise TemplateSyntaxError("'self' is not available in message templates", variable.lineno)
        hardened = _Hardener().visit(tree)
        hardened.set_environment(self)
        return hardened  # type: ignore[no-any-return]

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        raise SecurityError(f"access to attribute {attribute!r} of a {type(obj).__name__!r} is not allowed")

    def getattr(self, obj: Any, attribute: str) -> Any:
        budget.tick()
        if isinstance(obj, Mapping):
            try:
                return obj[attribute]
            except (KeyError, TypeError):
                pass
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        budget.tick()
        if isinstance(obj, Mapping):
            try:
                return obj[argument]
            except (KeyError, TypeError):
                return self.undefined(obj=obj, name=argument)
        if isinstance(argument, str) and isinstance(obj, Sequence) and not isinstance(obj, str):
            if argument == "length":
                return len(obj)
            if argument.isascii() and argument.isdigit():
                argument = int(argument)
        return super().getitem(obj, argument)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        budget.tick()
        args = guards.guard_call(__obj, args, kwargs)
        result = super().call(__context, __obj, *args, **kwargs)
        # dict.get hands back a value already in the render: there is nothing to measure
        owner = getattr(__obj, "__self__", None)
        if getattr(__obj, "__name__", None) == "get" and isinstance(owner, Mapping):
            return result
        return budget.ensure_small(result, "the result")

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        return guards.bounded_binop(operator, left, right)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """``str.format``/``format_map`` through the bounded formatters (rendering.guards)."""
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        owner: str = value.__self__
        formatter: guards.BoundedFormatter
        if isinstance(owner, Markup):
            formatter = guards.BoundedEscapeFormatter(self, escape=owner.escape)
        else:
            formatter = guards.BoundedFormatter(self)
        is_format_map = value.__name__ == "format_map"

        def bounded_format(*args: Any, **kwargs: Any) -> str:
            if is_format_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                kwargs, args = args[0], ()
            return type(owner)(formatter.vformat(owner, args, kwargs))

        return update_wrapper(bounded_format, value)
