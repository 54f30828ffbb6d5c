"""handlebars-helpers' math and number groups: ``add``, ``divide``, ``round``, ``toFixed``, ``bytes``, …

Arithmetic is on doubles, as in JavaScript: dividing by zero gives Infinity or NaN, ``%`` keeps the sign
of the dividend, ``round`` rounds halves up.
"""

from __future__ import annotations

import math
import random
import re
from typing import Any

from host.errors import RenderError
from host.templates.rendering.handlebars import js, js_numbers
from host.templates.rendering.handlebars.helpers.conventions import is_number, is_undefined, spread
from host.templates.rendering.handlebars.runtime import Helper, lookup_property

__all__ = ["MATH", "NUMBER", "js_divide", "js_remainder"]

_COMMAS = re.compile(r"([0-9])(?=([0-9][0-9][0-9])+(?![0-9]))")
_BYTES = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
_ABBREVIATIONS = ("k", "m", "b", "t", "q")


def _number(value: Any) -> float:
    return float(js.to_number(value))


def js_divide(a: float, b: float) -> float:
    """``a / b`` on doubles."""
    if b == 0:
        if a == 0 or a != a:
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def js_remainder(a: float, b: float) -> float:
    """``a % b`` on doubles (the sign of ``a``; NaN for a zero divisor)."""
    if b == 0 or a != a or b != b or math.isinf(a):
        return math.nan
    if math.isinf(b):
        return a
    return math.fmod(a, b)


def _pow10(exponent: float) -> float:
    try:
        return float(10.0**exponent)
    except OverflowError:
        return math.inf


def _checked(*names: str) -> Any:
    """A binary helper that throws the library's TypeError unless both arguments are numbers."""

    def decorate(operation: Any) -> Helper:
        def helper(this: Any, args: list[Any]) -> Any:
            a, b = spread(args, 2)
            if not is_number(a):
                raise RenderError(f"expected {names[0]} to be a number")
            if not is_number(b):
                raise RenderError(f"expected {names[1]} to be a number")
            return operation(_number(a), _number(b))

        return helper

    return decorate


def _unary(operation: Any) -> Helper:
    def helper(this: Any, args: list[Any]) -> Any:
        (value,) = spread(args, 1)
        if not is_number(value):
            raise RenderError("expected a number")
        return operation(_number(value))

    return helper


def _flatten(args: list[Any]) -> list[Any]:
    """``[].concat.apply([], arguments)``: array arguments spread one level."""
    flat: list[Any] = []
    for value in args:
        if js.is_array(value):
            flat.extend(value)
        else:
            flat.append(value)
    return flat


def _sum(values: list[Any]) -> float:
    total = 0.0
    for value in reversed(_flatten(values)):
        if is_number(value):
            total += _number(value)
    return total


def add(this: Any, args: list[Any]) -> Any:
    a, b = spread(args, 2)
    if is_number(a) and is_number(b):
        return _number(a) + _number(b)
    if isinstance(a, str) and isinstance(b, str):
        return a + b
    return ""


def avg(this: Any, args: list[Any]) -> Any:
    values = _flatten(args)[:-1]
    return js_divide(_sum(values), float(len(values)))


def random_helper(this: Any, args: list[Any]) -> Any:
    low, high = spread(args, 2)
    if not is_number(low):
        raise RenderError("expected minimum to be a number")
    if not is_number(high):
        raise RenderError("expected maximum to be a number")
    return _number(low) + math.floor(random.random() * (_number(high) - _number(low) + 1))


def remainder(this: Any, args: list[Any]) -> Any:
    a, b = spread(args, 2)
    return js_remainder(_number(a), _number(b))


def sum_helper(this: Any, args: list[Any]) -> Any:
    return _sum(args)


def _minus(a: float, b: float) -> float:
    return a - b


def _times(a: float, b: float) -> float:
    return a * b


_subtract = _checked("the first argument", "the second argument")(_minus)
_multiply = _checked("the first argument", "the second argument")(_times)

MATH: dict[str, Helper] = {
    "abs": _unary(abs),
    "add": add,
    "avg": avg,
    "ceil": _unary(lambda number: float(math.ceil(number)) if math.isfinite(number) else number),
    "divide": _checked("the first argument", "the second argument")(js_divide),
    "floor": _unary(lambda number: float(math.floor(number)) if math.isfinite(number) else number),
    "minus": _subtract,
    "modulo": _checked("the first argument", "the second argument")(js_remainder),
    "multiply": _multiply,
    "plus": _checked("the first argument", "the second argument")(lambda a, b: a + b),
    "random": random_helper,
    "remainder": remainder,
    "round": _unary(js_numbers.math_round),
    "subtract": _subtract,
    "sum": sum_helper,
    "times": _multiply,
}


def bytes_helper(this: Any, args: list[Any]) -> Any:
    number, precision = spread(args, 2)
    if js.is_nullish(number):
        return "0 B"
    if not is_number(number):
        if js.is_nullish(number):
            raise RenderError("cannot read properties of undefined (reading 'length')")
        number = lookup_property(number, "length")
        if not js.to_boolean(number):
            return "0 B"
    if not is_number(precision):
        precision = 2
    scale = _pow10(_number(precision))
    value = _number(number)
    index = len(_BYTES) - 1
    while True:
        going = index >= 0
        index -= 1
        if not going:
            return value
        size = _pow10(index * 3)
        if size <= value + 1:
            rounded = js_numbers.math_round(js_divide(value * scale, size))
            unit = _BYTES[index] if index >= 0 else "undefined"
            return js_numbers.number_to_string(js_divide(float(rounded), scale)) + " " + unit


def _to_string_method(value: Any) -> str:
    if js.is_nullish(value):
        raise RenderError(f"cannot read properties of {js.to_string(value)} (reading 'toString')")
    return js.to_string(value)


def add_commas(this: Any, args: list[Any]) -> Any:
    (number,) = spread(args, 1)
    return _COMMAS.sub(r"\1,", _to_string_method(number))


def phone_number(this: Any, args: list[Any]) -> Any:
    (number,) = spread(args, 1)
    text = _to_string_method(number)
    return f"({text[0:3]}) {text[3:6]}-{text[6:10]}"


def to_abbr(this: Any, args: list[Any]) -> Any:
    number, precision = spread(args, 2)
    if not is_number(number):
        number = 0
    if is_undefined(precision):
        precision = 2
    value = _number(number)
    scale = _pow10(_number(precision))
    index = len(_ABBREVIATIONS) - 1
    while index >= 0:
        size = _pow10((index + 1) * 3)
        if size <= value + 1:
            rounded = js_numbers.math_round(js_divide(value * scale, size))
            return js_numbers.number_to_string(js_divide(float(rounded), scale)) + _ABBREVIATIONS[index]
        index -= 1
    return value


def to_exponential(this: Any, args: list[Any]) -> Any:
    number, digits = spread(args, 2)
    if not is_number(number):
        number = 0
    if is_undefined(digits):
        digits = 0
    return js_numbers.to_exponential(_number(number), js.to_number(digits))


def to_fixed(this: Any, args: list[Any]) -> Any:
    number, digits = spread(args, 2)
    if not is_number(number):
        number = 0
    if not is_number(digits):
        digits = 0
    return js_numbers.to_fixed(_number(number), js.to_number(digits))


def to_precision(this: Any, args: list[Any]) -> Any:
    number, precision = spread(args, 2)
    if not is_number(number):
        number = 0
    if not is_number(precision):
        precision = 1
    return js_numbers.to_precision(_number(number), js.to_number(precision))


NUMBER: dict[str, Helper] = {
    "bytes": bytes_helper,
    "addCommas": add_commas,
    "phoneNumber": phone_number,
    "toAbbr": to_abbr,
    "toExponential": to_exponential,
    "toFixed": to_fixed,
    "toFloat": lambda this, args: js_numbers.parse_float(js.to_string(spread(args, 1)[0])),
    "toInt": lambda this, args: js_numbers.parse_int(js.to_string(spread(args, 1)[0])),
    "toPrecision": to_precision,
}
