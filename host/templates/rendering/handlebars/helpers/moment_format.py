"""Moment.js' ``format()`` in its default English locale, for handlebars-helpers' ``date``/``moment`` helpers.

Every moment.js token is read (``YYYY MM Do dddd HH:mm:ss.SSS Z``, weeks ``w``/``W``, quarters ``Q``, eras
``N``/``y``, the long formats ``L LL LLL LLLL LT LTS`` and their short ``l`` forms), ``[text]`` and ``\\X``
escapes included. The moment is an aware datetime in the zone it is shown in.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

__all__ = ["INVALID_DATE", "format_moment"]

INVALID_DATE = "Invalid date"
_TOKENS = re.compile(
    r"(\[[^\[]*\])|(\\e)|(\\)?(eHHmm|[Hh]mm(ss)?|Mo|MM?M?M?|Do|DDDo|DD?D?D?|ddd?d?|do?|w[o|w]?|W[o|W]?|Qo?"
    r"|N{1,5}|YYYYYY|YYYYY|YYYY|YY|y{2,4}|yo?|gg(ggg?)?|GG(GGG?)?|e|E|a|A|hh?|HH?|kk?|mm?|ss?|S{1,9}|x|X|zz?"
    r"|ZZ?|.)",
    re.DOTALL,
)
_LONG_TOKENS = re.compile(r"(\[[^\[]*\])|(\\)?(LTS|LT|LL?L?L?|l{1,4})")
_LONG_FORMATS = {
    "LTS": "h:mm:ss A",
    "LT": "h:mm A",
    "L": "MM/DD/YYYY",
    "LL": "MMMM D, YYYY",
    "LLL": "MMMM D, YYYY h:mm A",
    "LLLL": "dddd, MMMM D, YYYY h:mm A",
    "l": "M/D/YYYY",
    "ll": "MMM D, YYYY",
    "lll": "MMM D, YYYY h:mm A",
    "llll": "ddd, MMM D, YYYY h:mm A",
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_WEEKDAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")


def _zero_fill(number: int, length: int, force_sign: bool = False) -> str:
    digits = str(abs(number))
    sign = ("+" if force_sign else "") if number >= 0 else "-"
    return sign + "0" * max(0, length - len(digits)) + digits


def _ordinal(number: int) -> str:
    last = number % 10 if number >= 0 else -(abs(number) % 10)
    tens = math.trunc((number % 100 if number >= 0 else -(abs(number) % 100)) / 10)
    suffix = "th" if tens == 1 else {1: "st", 2: "nd", 3: "rd"}.get(last, "th")
    return f"{number}{suffix}"


def _day(moment: datetime) -> int:
    """0 for Sunday, as JavaScript's ``getDay``."""
    return (moment.weekday() + 1) % 7


def _first_week_offset(year: int, dow: int, doy: int) -> int:
    first_week_day = 7 + dow - doy
    local_weekday = (7 + (date(year, 1, first_week_day).weekday() + 1) % 7 - dow) % 7
    return -local_weekday + first_week_day - 1


def _weeks_in_year(year: int, dow: int, doy: int) -> int:
    days = 366 if (year % 4 == 0 and year % 100 != 0) or year % 400 == 0 else 365
    return (days - _first_week_offset(year, dow, doy) + _first_week_offset(year + 1, dow, doy)) // 7


def _week_of_year(moment: datetime, dow: int, doy: int) -> tuple[int, int]:
    year = moment.year
    week = (moment.timetuple().tm_yday - _first_week_offset(year, dow, doy) - 1) // 7 + 1
    if week < 1:
        return week + _weeks_in_year(year - 1, dow, doy), year - 1
    if week > _weeks_in_year(year, dow, doy):
        return week - _weeks_in_year(year, dow, doy), year + 1
    return week, year


def _offset(moment: datetime, separator: str) -> str:
    offset = moment.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}{separator}{rest:02d}"


def _milliseconds(moment: datetime) -> int:
    return moment.microsecond // 1000


def _epoch_ms(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(milliseconds=1)


_Token = Callable[[datetime], str]


def _tokens() -> dict[str, _Token]:
    hour12: Callable[[datetime], int] = lambda m: m.hour % 12 or 12  # noqa: E731
    table: dict[str, _Token] = {
        "M": lambda m: str(m.month),
        "MM": lambda m: _zero_fill(m.month, 2),
        "Mo": lambda m: _ordinal(m.month),
        "MMM": lambda m: _MONTHS[m.month - 1][:3],
        "MMMM": lambda m: _MONTHS[m.month - 1],
        "Q": lambda m: str((m.month + 2) // 3),
        "Qo": lambda m: _ordinal((m.month + 2) // 3),
        "D": lambda m: str(m.day),
        "DD": lambda m: _zero_fill(m.day, 2),
        "Do": lambda m: _ordinal(m.day),
        "DDD": lambda m: str(m.timetuple().tm_yday),
        "DDDD": lambda m: _zero_fill(m.timetuple().tm_yday, 3),
        "DDDo": lambda m: _ordinal(m.timetuple().tm_yday),
        "d": lambda m: str(_day(m)),
        "do": lambda m: _ordinal(_day(m)),
        "dd": lambda m: _WEEKDAYS[_day(m)][:2],
        "ddd": lambda m: _WEEKDAYS[_day(m)][:3],
        "dddd": lambda m: _WEEKDAYS[_day(m)],
        "e": lambda m: str(_day(m)),
        "E": lambda m: str(_day(m) or 7),
        "eHHmm": lambda m: f"{_day(m)}{m.hour:02d}{m.minute:02d}",
        "w": lambda m: str(_week_of_year(m, 0, 6)[0]),
        "ww": lambda m: _zero_fill(_week_of_year(m, 0, 6)[0], 2),
        "wo": lambda m: _ordinal(_week_of_year(m, 0, 6)[0]),
        "W": lambda m: str(_week_of_year(m, 1, 4)[0]),
        "WW": lambda m: _zero_fill(_week_of_year(m, 1, 4)[0], 2),
        "Wo": lambda m: _ordinal(_week_of_year(m, 1, 4)[0]),
        "Y": lambda m: _zero_fill(m.year, 4) if m.year <= 9999 else f"+{m.year}",
        "YY": lambda m: _zero_fill(m.year % 100, 2),
        "YYYY": lambda m: _zero_fill(m.year, 4),
        "YYYYY": lambda m: _zero_fill(m.year, 5),
        "YYYYYY": lambda m: _zero_fill(m.year, 6, True),
        "y": lambda m: str(m.year),
        "yo": lambda m: _ordinal(m.year),
        "yy": lambda m: _zero_fill(m.year, 2),
        "yyy": lambda m: _zero_fill(m.year, 3),
        "yyyy": lambda m: _zero_fill(m.year, 4),
        "N": lambda m: "AD",
        "NN": lambda m: "AD",
        "NNN": lambda m: "AD",
        "NNNN": lambda m: "Anno Domini",
        "NNNNN": lambda m: "AD",
        "gg": lambda m: _zero_fill(_week_of_year(m, 0, 6)[1] % 100, 2),
        "gggg": lambda m: _zero_fill(_week_of_year(m, 0, 6)[1], 4),
        "ggggg": lambda m: _zero_fill(_week_of_year(m, 0, 6)[1], 5),
        "GG": lambda m: _zero_fill(_week_of_year(m, 1, 4)[1] % 100, 2),
        "GGGG": lambda m: _zero_fill(_week_of_year(m, 1, 4)[1], 4),
        "GGGGG": lambda m: _zero_fill(_week_of_year(m, 1, 4)[1], 5),
        "a": lambda m: "pm" if m.hour > 11 else "am",
        "A": lambda m: "PM" if m.hour > 11 else "AM",
        "H": lambda m: str(m.hour),
        "HH": lambda m: _zero_fill(m.hour, 2),
        "h": lambda m: str(hour12(m)),
        "hh": lambda m: _zero_fill(hour12(m), 2),
        "k": lambda m: str(m.hour or 24),
        "kk": lambda m: _zero_fill(m.hour or 24, 2),
        "hmm": lambda m: f"{hour12(m)}{m.minute:02d}",
        "hmmss": lambda m: f"{hour12(m)}{m.minute:02d}{m.second:02d}",
        "Hmm": lambda m: f"{m.hour}{m.minute:02d}",
        "Hmmss": lambda m: f"{m.hour}{m.minute:02d}{m.second:02d}",
        "m": lambda m: str(m.minute),
        "mm": lambda m: _zero_fill(m.minute, 2),
        "s": lambda m: str(m.second),
        "ss": lambda m: _zero_fill(m.second, 2),
        "S": lambda m: str(_milliseconds(m) // 100),
        "SS": lambda m: _zero_fill(_milliseconds(m) // 10, 2),
        "SSS": lambda m: _zero_fill(_milliseconds(m), 3),
        "z": lambda m: "",
        "zz": lambda m: "",
        "Z": lambda m: _offset(m, ":"),
        "ZZ": lambda m: _offset(m, ""),
        "X": lambda m: str(math.floor(_epoch_ms(m) / 1000)),
        "x": lambda m: str(_epoch_ms(m)),
    }
    for digits in range(4, 10):  # SSSS… : the milliseconds times a power of ten
        table["S" * digits] = _fraction(digits)
    return table


def _fraction(digits: int) -> _Token:
    return lambda moment: _zero_fill(_milliseconds(moment) * 10 ** (digits - 3), digits)


_TABLE = _tokens()


def _literal(token: str) -> str:
    if re.search(r"\[[\s\S]", token):
        return re.sub(r"^\[|\]$", "", token)
    return token.replace("\\", "")


def _expand(pattern: str) -> str:
    for _ in range(6):
        if not _LONG_TOKENS.search(pattern):
            break
        pattern = _LONG_TOKENS.sub(lambda found: _LONG_FORMATS.get(found.group(), found.group()), pattern)
    return pattern


def format_moment(moment: datetime | None, pattern: str) -> str:
    """``moment.format(pattern)``; ``Invalid date`` for an invalid moment (None)."""
    if moment is None:
        return INVALID_DATE
    out: list[str] = []
    for found in _TOKENS.finditer(_expand(pattern)):
        token = found.group()
        function = _TABLE.get(token)
        out.append(function(moment) if function is not None else _literal(token))
    return "".join(out)
