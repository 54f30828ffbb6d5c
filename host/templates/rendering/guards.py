"""Size checks for the operations that could build a huge value in one step.

The sandbox already keeps templates away from Python internals; these guards keep them away from the
memory and the CPU. An operation whose result could be much larger than its operands (``'a' * 10**9``,
``10 ** 10**8``, ``'%999999999d' % 1``, ``s.center(10**9)``, ``x|join(big)``, ``x|replace(...)``…) is
estimated *before* it runs and refused over :attr:`RenderLimits.max_value`; every other filter and call
result is measured after it, so chains of growing steps stop at the first step that goes over.
"""

from __future__ import annotations

import functools
import math
import operator
import re
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from jinja2 import Environment, pass_environment, pass_eval_context
from jinja2.filters import do_join, make_attrgetter
from jinja2.nodes import EvalContext
from jinja2.sandbox import SandboxedEscapeFormatter, SandboxedFormatter

from host.errors import RenderError
from host.templates.rendering import budget

__all__ = ["BoundedEscapeFormatter", "BoundedFormatter", "bounded_binop", "bounded_filters", "guard_call"]

_BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "*": operator.mul,
    "**": operator.pow,
    "%": operator.mod,
    "+": operator.add,
}
_PRINTF_SPEC = re.compile(rb"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")
_NUMBER = re.compile(r"\d+")
_DENIED_METHODS = frozenset({"translate", "maketrans", "expandtabs", "to_bytes"})
_SEQUENCES = (str, bytes, list, tuple)


def _too_large(what: str) -> RenderError:
    return RenderError(f"{what} would be too large (at most {budget.max_value()} characters)")


def _is_int(value: Any) -> bool:
    return isinstance(value, int)


def _check_size(size: int, what: str) -> None:
    if size > budget.max_value():
        raise _too_large(what)


def _printf_size(template: str | bytes, args: Any) -> int:
    """A generous estimate of ``template % args``: every conversion may print all of ``args``."""
    raw = template.encode("utf-8", "replace") if isinstance(template, str) else template
    limit = budget.max_value()
    widest = 0
    conversions = 0
    for match in _PRINTF_SPEC.finditer(raw):
        conversions += 1
        for number in match.groups():
            if number == b"*":
                values = args if isinstance(args, tuple) else (args,)
                widest = max([widest, *(abs(v) for v in values if _is_int(v))])
            elif number:
                widest = max(widest, int(number) if len(number) < 12 else limit + 1)
    return len(raw) + conversions * (widest + budget.weigh(args, limit))


def bounded_binop(name: str, left: Any, right: Any) -> Any:
    """Apply the intercepted operator ``name`` once its result is known to be of reasonable size."""
    budget.tick()
    state = budget.active_state()
    max_bits = (state.limits if state is not None else budget.RenderLimits()).max_int_bits
    limit = budget.max_value()
    if name == "*":
        if _is_int(left) and _is_int(right):
            if left.bit_length() + right.bit_length() > max_bits:
                raise RenderError(f"this product would have more than {max_bits} bits")
        elif (_is_int(right) and isinstance(left, _SEQUENCES)) or (
            _is_int(left) and isinstance(right, _SEQUENCES)
        ):
            sequence, times = (left, right) if _is_int(right) else (right, left)
            _check_size(budget.weigh(sequence, limit) * max(times, 0), "this repetition")
    elif name == "**":
        if (
            _is_int(left)
            and _is_int(right)
            and abs(left) > 1
            and right > 0
            and right * math.log2(abs(left)) > max_bits
        ):
            raise RenderError(f"this power would have more than {max_bits} bits")
    elif name == "%":
        if isinstance(left, str | bytes):
            _check_size(_printf_size(left, right), "this formatted string")
    elif name == "+" and isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
        _check_size(budget.weigh(left, limit) + budget.weigh(right, limit), "this sum")
    return _BINOPS[name](left, right)


def _check_width(width: Any, what: str) -> None:
    if _is_int(width) and width > budget.max_value():
        raise _too_large(what)


def guard_call(obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Refuse or pre-check the built-in methods that can grow a value unboundedly in one call."""
    name = getattr(obj, "__name__", None)
    owner = getattr(obj, "__self__", None)
    if name == "fromkeys":  # a classmethod: its __self__ is the dict type, not a dict
        raise RenderError("fromkeys() is not available in templates")
    if not isinstance(owner, str | bytes | int):
        return args
    if name in _DENIED_METHODS:
        raise RenderError(f"{type(owner).__name__}.{name}() is not available in templates")
    if not isinstance(owner, str | bytes):
        return args
    if name in ("center", "ljust", "rjust", "zfill"):
        _check_width(args[0] if args else kwargs.get("width"), f"{name}()")
    elif name == "replace" and len(args) >= 2:
        old, new = args[0], args[1]
        if isinstance(old, str | bytes) and isinstance(new, str | bytes):
            count = owner.count(old) if old else len(owner) + 1  # type: ignore[arg-type]
            _check_size(len(owner) + count * len(new), "replace()")
    elif name == "join" and args:
        items = list(args[0])
        joined = budget.weigh(items, budget.max_value()) + len(items) * len(owner)
        _check_size(joined, "join()")
        return (items, *args[1:])
    return args


def _check_format_spec(spec: str) -> None:
    for number in _NUMBER.findall(spec):
        if len(number) > 9 or int(number) > budget.max_value():
            raise _too_large("this formatted field")


class BoundedFormatter(SandboxedFormatter):
    """``str.format`` for templates: no wide fields, and a cap on the total result."""

    def __init__(self, env: Environment, **kwargs: Any) -> None:
        super().__init__(env, **kwargs)
        self._written = 0

    def format_field(self, value: Any, format_spec: str) -> Any:
        _check_format_spec(format_spec)
        budget.tick()
        text = super().format_field(value, format_spec)
        self._written += len(text)
        _check_size(self._written, "this formatted string")
        return text


class BoundedEscapeFormatter(BoundedFormatter, SandboxedEscapeFormatter):
    """``Markup.format`` for templates, with the limits of :class:`BoundedFormatter`."""


# --- filters -------------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    """``value`` as the filters will see it, refused first if printing it would be too large."""
    if isinstance(value, str):
        return value
    budget.ensure_small(value)
    return str(value)


def _soft_len(value: Any) -> int:
    return len(value) if isinstance(value, str) else budget.weigh(value, budget.max_value())


def _pre_center(value: Any, width: Any = 80) -> None:
    _check_width(width, "center")


def _pre_indent(value: Any, width: Any = 4, *args: Any, **kwargs: Any) -> None:
    text = _text(value)
    indent = len(width) if isinstance(width, str) else width if _is_int(width) else 0
    _check_size(len(text) + (text.count("\n") + 1) * indent, "indent")


def _pre_replace(value: Any, old: Any, new: Any, count: Any = None) -> None:
    text, old_text = _text(value), _text(old)
    times = text.count(old_text) if old_text else len(text) + 1
    if _is_int(count):
        times = min(times, max(count, 0))
    _check_size(len(text) + times * _soft_len(new), "replace")


def _pre_format(value: Any, *args: Any, **kwargs: Any) -> None:
    _check_size(_printf_size(_text(value), kwargs or args), "format")


def _pre_wordwrap(value: Any, width: Any = 79, break_long_words: Any = True, wrapstring: Any = None,
                  *args: Any, **kwargs: Any) -> None:  # fmt: skip
    text = _text(value)
    lines = len(text) // max(width if _is_int(width) else 1, 1) + text.count("\n") + 1
    _check_size(len(text) + lines * _soft_len(wrapstring or "\n"), "wordwrap")


def _pre_count(value: Any, count: Any = 1, *args: Any, **kwargs: Any) -> None:
    _check_width(count, "this filter")


_PRECHECKS: dict[str, Callable[..., None]] = {
    "center": _pre_center,
    "indent": _pre_indent,
    "replace": _pre_replace,
    "format": _pre_format,
    "wordwrap": _pre_wordwrap,
    "batch": _pre_count,
    "slice": _pre_count,
}


def _join(eval_ctx: EvalContext, value: Iterable[Any], d: Any = "", attribute: Any = None) -> str:
    """Jinja's ``join``, refused when the separator repeated between the items would be too large."""
    items = list(value)
    budget.tick(len(items))
    _check_size(_soft_len(items) + len(items) * _soft_len(d), "join")
    return str(do_join(eval_ctx, items, d, attribute))


def _sum_numbers(
    environment: Environment, iterable: Iterable[Any], attribute: str | int | None = None, start: Any = 0
) -> Any:
    """Jinja's ``sum`` for numbers only, so it cannot concatenate lists or strings."""
    values = map(make_attrgetter(environment, attribute), iterable) if attribute is not None else iterable
    total = start
    for value in values:
        budget.tick()
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            raise RenderError("sum only adds numbers")
        total = bounded_binop("+", total, value)
    return total


def _bounded(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    precheck = _PRECHECKS.get(name)
    # Filters marked pass_context/pass_eval_context/pass_environment get that object first.
    skip = 1 if getattr(function, "jinja_pass_arg", None) is not None else 0

    @functools.wraps(function)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        budget.tick()
        if precheck is not None:
            precheck(*args[skip:], **kwargs)
        return budget.ensure_small(function(*args, **kwargs), f"the result of |{name}")

    return bounded


def bounded_filters(filters: dict[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    """Jinja's filters, each measured after it runs and the amplifying ones checked before."""
    chosen = dict(filters)
    chosen["join"] = pass_eval_context(_join)
    chosen["sum"] = pass_environment(_sum_numbers)
    return {name: _bounded(name, function) for name, function in chosen.items()}
