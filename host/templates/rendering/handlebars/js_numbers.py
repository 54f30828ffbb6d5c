"""JavaScript's numbers in text: ``String(n)``, ``Number(s)``, ``toFixed``, ``toPrecision``, ``parseFloat``.

Every number is an IEEE double, as in JavaScript: integers beyond 2**53 print with the double's digits.
Rounding in ``toFixed``/``toPrecision``/``toExponential`` works on the double's exact value and takes the
larger candidate on a tie, as the ECMAScript specification says.
"""

from __future__ import annotations

import math
import re
from decimal import ROUND_HALF_UP, Context, Decimal

from host.errors import RenderError
from host.templates.rendering.handlebars.js_text import SPACE, trim

__all__ = [
    "EXACT",
    "math_round",
    "number_to_string",
    "parse_float",
    "parse_int",
    "string_to_number",
    "to_exponential",
    "to_fixed",
    "to_integer",
    "to_precision",
]

_DECIMAL = re.compile(r"[+-]?(?:Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)")
_PREFIXED = re.compile(r"0(?:[xX](?P<x>[0-9a-fA-F]+)|[oO](?P<o>[0-7]+)|[bB](?P<b>[01]+))")
_FLOAT_PREFIX = re.compile(r"[+-]?(?:Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)")
_INT_PREFIX = re.compile(r"([+-]?)([0-9]+)")
_LEADING_SPACE = re.compile(f"^[{SPACE}]*")
# a double's exact value has up to 767 significant digits: compute with room to spare
EXACT = Context(prec=1100, Emin=-2000, Emax=2000)


def _digits(value: float) -> tuple[str, int]:
    """The shortest round-trip digits of a positive finite double and its decimal point position ``n``."""
    _, digits, exponent = Decimal(repr(value)).as_tuple()
    text = "".join(map(str, digits)).lstrip("0") or "0"
    assert isinstance(exponent, int)
    stripped = text.rstrip("0")
    exponent += len(text) - len(stripped)
    return stripped, exponent + len(stripped)


def number_to_string(value: float | int) -> str:
    """``String(value)`` for a number: ``1`` for 1.0, ``1e+21``, ``1.5e-7``, ``NaN``, ``Infinity``."""
    if isinstance(value, int) and not isinstance(value, bool) and -(2**53) < value < 2**53:
        return str(value)
    number = float(value)
    if number != number:
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    if number == 0:
        return "0"
    if number < 0:
        return "-" + number_to_string(-number)
    digits, n = _digits(number)
    k = len(digits)
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * -n + digits
    exponent = n - 1
    sign = "+" if exponent >= 0 else "-"
    mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
    return f"{mantissa}e{sign}{abs(exponent)}"


def string_to_number(text: str) -> float | int:
    """``Number(text)``: decimal, ``0x``/``0o``/``0b`` and ``Infinity`` literals, spaces around; else NaN."""
    text = trim(text)
    if not text:
        return 0
    prefixed = _PREFIXED.fullmatch(text)
    if prefixed:
        base = {"x": 16, "o": 8, "b": 2}[next(k for k, v in prefixed.groupdict().items() if v)]
        return int(text[2:], base)
    if not _DECIMAL.fullmatch(text):
        return math.nan
    number = float(text.replace("Infinity", "inf"))
    return int(number) if number.is_integer() and abs(number) < 2**53 and "." not in text else number


def to_integer(value: float | int) -> float:
    """ToIntegerOrInfinity: NaN is 0, the rest truncated toward zero."""
    number = float(value)
    if number != number:
        return 0.0
    if math.isinf(number):
        return number
    return float(math.trunc(number))


def _digits_argument(value: float | int, method: str, low: int) -> int:
    digits = to_integer(value)
    if not low <= digits <= 100:
        raise RenderError(f"{method}() digits argument must be between {low} and 100")
    return int(digits)


def _quantized(value: float, places: int) -> Decimal:
    """The exact value of ``value`` rounded to ``places`` decimals, ties away from zero."""
    return Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP, context=EXACT)


def to_fixed(value: float | int, digits: float | int) -> str:
    """``value.toFixed(digits)``."""
    places = _digits_argument(digits, "toFixed", 0)
    number = float(value)
    if number != number:
        return "NaN"
    if abs(number) >= 1e21:
        return number_to_string(number)
    if number == 0:
        number = 0.0  # -0 prints as 0
    return f"{_quantized(number, places):f}"


def _significant(number: float, precision: int) -> tuple[str, int]:
    """``precision`` significant digits of a positive number and the exponent of the first one."""
    exact = Decimal(number)
    exponent = exact.adjusted()
    scaled = exact.scaleb(precision - 1 - exponent, context=EXACT).quantize(
        Decimal(1), rounding=ROUND_HALF_UP, context=EXACT
    )
    if scaled >= Decimal(10) ** precision:  # 9.99… rounded up to 10.0…: one more digit before the point
        scaled = Decimal(10) ** (precision - 1)
        exponent += 1
    return str(int(scaled)), exponent


def _special(number: float) -> str | None:
    if number != number:
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    return None


def to_precision(value: float | int, precision: float | int | None) -> str:
    """``value.toPrecision(precision)``."""
    number = float(value)
    if precision is None:
        return number_to_string(number)
    places = _digits_argument(precision, "toPrecision", 1)
    special = _special(number)
    if special is not None:
        return special
    sign = "-" if number < 0 else ""
    number = abs(number)
    if number == 0:
        digits, exponent = "0" * places, 0
    else:
        digits, exponent = _significant(number, places)
    if exponent < -6 or exponent >= places:
        mantissa = digits[0] + ("." + digits[1:] if places > 1 else "")
        return f"{sign}{mantissa}e{'+' if exponent >= 0 else '-'}{abs(exponent)}"
    if exponent == places - 1:
        return sign + digits
    if exponent >= 0:
        return sign + digits[: exponent + 1] + "." + digits[exponent + 1 :]
    return sign + "0." + "0" * (-exponent - 1) + digits


def to_exponential(value: float | int, digits: float | int | None) -> str:
    """``value.toExponential(digits)``; without ``digits``, as many as the number needs."""
    number = float(value)
    places = None if digits is None else to_integer(digits)
    special = _special(number)
    if special is not None:
        return special
    if places is not None and not 0 <= places <= 100:
        raise RenderError("toExponential() argument must be between 0 and 100")
    sign = "-" if number < 0 else ""
    number = abs(number)
    if number == 0:
        text, exponent = "0" * (int(places or 0) + 1), 0
    elif places is None:
        text, n = _digits(number)
        exponent = n - 1
    else:
        text, exponent = _significant(number, int(places) + 1)
    mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
    return f"{sign}{mantissa}e{'+' if exponent >= 0 else '-'}{abs(exponent)}"


def parse_float(text: str) -> float | int:
    """``parseFloat(text)``: the longest decimal literal at the start (after spaces), else NaN."""
    found = _FLOAT_PREFIX.match(_LEADING_SPACE.sub("", text, count=1))
    if found is None:
        return math.nan
    literal = found.group()
    number = float(literal.replace("Infinity", "inf"))
    return int(number) if number.is_integer() and abs(number) < 2**53 and "inf" not in literal else number


def parse_int(text: str) -> float | int:
    """``parseInt(text, 10)``: the digits at the start (after spaces and a sign), else NaN."""
    found = _INT_PREFIX.match(_LEADING_SPACE.sub("", text, count=1))
    if found is None:
        return math.nan
    number = int(found.group(2))
    if number >= 2**53:
        return float(found.group(1) + found.group(2))
    return -number if found.group(1) == "-" else number


def math_round(value: float | int) -> float | int:
    """``Math.round``: halves go toward +Infinity (-2.5 → -2)."""
    number = float(value)
    if number != number or math.isinf(number):
        return number
    if abs(number) >= 2**52:  # already an integer
        return number
    rounded = math.floor(number)
    if number - rounded >= 0.5:
        rounded += 1
    if rounded == 0 and number < 0:
        return -0.0
    return rounded
