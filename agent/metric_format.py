"""How a metric value reads to a person, by the metric's governed format, in zh or en."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

_UNITS = {
    "days": {"zh": " 天", "en": " days"},
    "times_per_year": {"zh": " 次/年", "en": " times/year"},
}


def format_value(value: Any, fmt: str, language: str) -> str:
    """``0.2915`` -> ``29.15%``; money -> ``¥3,682,324.42``; days -> ``62.0 天``."""
    if value is None:
        return "—"
    if isinstance(value, dt.date):
        return value.isoformat()
    if not isinstance(value, int | float | Decimal):
        return str(value)
    number = float(value)
    if fmt == "percent":
        return f"{number * 100:.2f}%"
    if fmt == "cny":
        return f"¥{number:,.2f}"
    if fmt == "count":
        return f"{number:,.0f}"
    if fmt in _UNITS:
        return f"{number:,.1f}{_UNITS[fmt][language]}"
    return f"{number:,.2f}"


def format_growth(value: Any) -> str:
    """Growth (current / previous - 1) as a signed percentage."""
    if value is None:
        return "—"
    return f"{float(value) * 100:+.1f}%"


def format_period(start: dt.date, end: dt.date, language: str) -> str:
    if start == end:
        return start.isoformat()
    return f"{start} 至 {end}" if language == "zh" else f"{start} to {end}"
