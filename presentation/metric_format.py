"""How a number, a period and a time bucket read to a person, by the metric's governed format, in zh or en.

Business users judge magnitudes, so money (and, in Chinese, counts) is shown in the units people
say out loud, never with more precision than they read. Every number an answer states goes
through :func:`format_value`, so the text, the table and the tests agree on one written form
(``tests/test_answer_text.py`` checks each number of a text against these forms of the cells).

=============== =============================================== =========================================
format          zh                                              en
=============== =============================================== =========================================
cny             ¥8,532.10 below 1万; ¥368.23万; ¥1.25亿          ¥8,532.10 below 10K; ¥125.4K; ¥3.68M; ¥1.25B
count           8,532 below 1万; 1.23万; 1.25亿                  8,532; 123,456 (thousands separators)
percent         29.15%                                          29.15%
days            62.0 天                                          62.0 days
times_per_year  4.35 次/年                                       4.35 times/year
ratio           2.35                                            2.35
growth          +3.2% (signed: current / previous - 1)          +3.2%
=============== =============================================== =========================================

The unit is chosen after rounding (¥99,999,999 reads ¥1.00亿, not ¥10000.00万). A missing value
(None, NaN, infinity: e.g. a ratio over a zero denominator) reads ``—``.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any

MISSING = "—"
#: Large-number units, largest first: (divisor, suffix, decimals, smallest scaled value shown in the unit).
_ZH_UNITS = ((1e8, "亿", 2, 1.0), (1e4, "万", 2, 1.0))
_EN_MONEY_UNITS = ((1e9, "B", 2, 1.0), (1e6, "M", 2, 1.0), (1e3, "K", 1, 10.0))
_UNITS = {
    "days": ({"zh": " 天", "en": " days"}, 1),
    "times_per_year": ({"zh": " 次/年", "en": " times/year"}, 2),
}
_MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
              "October", "November", "December")  # fmt: skip


def is_missing(value: Any) -> bool:
    """None, NaN or infinity: a value the answer must not state as a number."""
    return value is None or (isinstance(value, float | Decimal) and not math.isfinite(value))


def format_value(value: Any, fmt: str | None, language: str) -> str:
    """A cell as a person reads it: ``fmt`` is a metric format (see the module table), ``"growth"``
    or None (dates as ISO, other values as text)."""
    if is_missing(value):
        return MISSING
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return str(value)
    number = float(value)
    if fmt == "growth":
        return f"{number * 100:+,.1f}%"
    if fmt == "percent":
        return _signed(number, f"{abs(number) * 100:,.2f}%")
    if fmt == "cny":
        units = _ZH_UNITS if language == "zh" else _EN_MONEY_UNITS
        return _signed(number, "¥" + _scaled(abs(number), units, 2))
    if fmt == "count":
        return _signed(number, _scaled(abs(number), _ZH_UNITS if language == "zh" else (), 0))
    if fmt in _UNITS:
        words, decimals = _UNITS[fmt]
        return _signed(number, f"{abs(number):,.{decimals}f}{words[language]}")
    return _signed(number, f"{abs(number):,.2f}")


def unit_words(fmt: str, language: str) -> tuple[str, int] | None:
    """The words after a number of ``fmt`` (" 天", " days") and its decimals; None for formats without words.
    Spreadsheets write the same words into their number formats."""
    if fmt not in _UNITS:
        return None
    words, decimals = _UNITS[fmt]
    return words[language], decimals


def format_growth(value: Any) -> str:
    """Growth (current / previous - 1) as a signed percentage with one decimal: ``+3.2%``."""
    return format_value(value, "growth", "en")


def _scaled(number: float, units: tuple[tuple[float, str, int, float], ...], decimals: int) -> str:
    for divisor, suffix, places, smallest in units:
        scaled = round(number / divisor, places)
        if scaled >= smallest:
            return f"{scaled:,.{places}f}{suffix}"
    return f"{number:,.{decimals}f}"


def _signed(number: float, magnitude: str) -> str:
    """A minus sign only when the shown digits are not all zero (no ``-¥0.00``)."""
    return "-" + magnitude if number < 0 and any(c in "123456789" for c in magnitude) else magnitude


def format_period(start: dt.date, end: dt.date, language: str) -> str:
    """A whole month, quarter or year by its name ("2025年12月", "Q3 2025", "2025"); else both ends."""
    if start == end:
        return _day(start, language)
    if start.day == 1 and end == _last_day(start, 12) and start.month == 1:
        return f"{start.year}年" if language == "zh" else str(start.year)
    if start.day == 1 and start.month % 3 == 1 and end == _last_day(start, 3):
        quarter = (start.month - 1) // 3 + 1
        return f"{start.year}年Q{quarter}" if language == "zh" else f"Q{quarter} {start.year}"
    if start.day == 1 and end == _last_day(start, 1):
        return _month(start, language)
    if language == "zh":
        return f"{start.isoformat()} 至 {end.isoformat()}"
    return f"{_day(start, language)} to {_day(end, language)}"


def format_bucket(day: dt.date, grain: str, language: str) -> str:
    """A time bucket of a series by its first day: "2025年3月", "Q1 2025", "week of 3 Mar 2025"."""
    if grain == "year":
        return f"{day.year}年" if language == "zh" else str(day.year)
    if grain == "quarter":
        quarter = (day.month - 1) // 3 + 1
        return f"{day.year}年Q{quarter}" if language == "zh" else f"Q{quarter} {day.year}"
    if grain == "month":
        return _month(day, language)
    if grain == "week":
        return f"{_day(day, language)}当周" if language == "zh" else f"week of {_day(day, language)}"
    return _day(day, language)


def _day(day: dt.date, language: str) -> str:
    if language == "zh":
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{day.day} {_MONTHS_EN[day.month - 1][:3]} {day.year}"


def _month(day: dt.date, language: str) -> str:
    return f"{day.year}年{day.month}月" if language == "zh" else f"{_MONTHS_EN[day.month - 1]} {day.year}"


def _last_day(start: dt.date, months: int) -> dt.date:
    """The last day of the ``months`` calendar months beginning with ``start``'s month."""
    index = start.month - 1 + months
    first_after = dt.date(start.year + index // 12, index % 12 + 1, 1)
    return first_after - dt.timedelta(days=1)
