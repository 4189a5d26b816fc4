"""Calendar arithmetic on whole days: time buckets (weeks start on Monday, as ``date_trunc``
does on every engine the compiler targets) and moving a day by whole buckets.

Pure functions, shared by :class:`semantic_layer.query.Period` (which comparison period a
question means) and the compiler (which snapshot days a point-in-time measure reads), so the
two can never disagree on where a month or a week ends.
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from semantic_layer.query import Period

_DAY = dt.timedelta(days=1)

#: Months per bucket for the month-based grains.
_MONTHS = {"month": 1, "quarter": 3, "year": 12}


def bucket_start(day: dt.date, grain: str) -> dt.date:
    """The first day of the ``grain`` bucket holding ``day``."""
    if grain == "day":
        return day
    if grain == "week":
        return day - dt.timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    if grain == "quarter":
        return dt.date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    if grain == "year":
        return dt.date(day.year, 1, 1)
    raise ValueError(f"unknown grain '{grain}'")


def shift_bucket(day: dt.date, grain: str, count: int) -> dt.date:
    """``day`` moved by ``count`` buckets; a day past the end of a shorter month is clipped to it."""
    if grain == "day":
        return day + dt.timedelta(days=count)
    if grain == "week":
        return day + dt.timedelta(days=7 * count)
    months = day.year * 12 + day.month - 1 + _MONTHS[grain] * count
    year, month = divmod(months, 12)
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def bucket_end(day: dt.date, grain: str) -> dt.date:
    """The last day of the ``grain`` bucket holding ``day``."""
    return shift_bucket(bucket_start(day, grain), grain, 1) - dt.timedelta(days=1)


def bucket_ends(start: dt.date, end: dt.date, grain: str | None) -> list[dt.date]:
    """The last day inside [start, end] of each bucket (just ``end`` without a grain)."""
    if grain is None:
        return [end]
    ends = []
    day = start
    while day <= end:
        last = min(bucket_end(day, grain), end)
        ends.append(last)
        day = last + dt.timedelta(days=1)
    return ends


def is_whole_bucket(start: dt.date, end: dt.date, grain: str) -> bool:
    """True when [start, end] is exactly one calendar ``grain`` bucket."""
    return bucket_start(start, grain) == start and bucket_end(start, grain) == end


def one_series(current: Period, previous: Period, grain: str) -> bool:
    """Whether one series over [previous.start, current.end] holds, for every bucket of either
    period, exactly the days that period has in it (so both can be read from it at once)."""
    if previous.start > current.start or previous.end > current.end or previous.end < current.start - _DAY:
        return False
    day = previous.start
    while day <= current.end:
        last = min(bucket_end(day, grain), current.end)
        for part in (current, previous):
            inside = (max(day, part.start), min(last, part.end))
            if inside[0] <= inside[1] and inside != (day, last):
                return False
        day = last + _DAY
    return True
