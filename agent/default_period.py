"""The period a question means when it names none: the embedded planner's reading, and the one a
verified question's plan moves with when the data's reference date moves on (agent/verified.py)."""

from __future__ import annotations

import datetime as dt

from semantic_layer.query import Period


def last_day(today: dt.date) -> Period:
    """A snapshot with no period named: the last day with data, the day before today."""
    yesterday = today - dt.timedelta(days=1)
    return Period(start=yesterday, end=yesterday)


def default_period(today: dt.date, grain: str | None) -> Period:
    """No time named: the last full month; a trend without a period: the last 12 full months."""
    month_start = today.replace(day=1)
    yesterday = today - dt.timedelta(days=1)
    if grain == "day":
        return Period(start=today - dt.timedelta(days=30), end=yesterday)
    if grain == "year":
        return Period(start=dt.date(today.year - 2, 1, 1), end=dt.date(today.year - 1, 12, 31))
    if grain in ("week", "month", "quarter"):
        return Period(start=month_start.replace(year=month_start.year - 1), end=month_start - dt.timedelta(days=1))
    last_month_end = month_start - dt.timedelta(days=1)
    return Period(start=last_month_end.replace(day=1), end=last_month_end)
