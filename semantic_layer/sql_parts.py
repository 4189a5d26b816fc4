"""Small sqlglot builders the compiler is made of (no SQL text is ever concatenated)."""

from __future__ import annotations

import datetime as dt

from sqlglot import exp

#: Stand-in for "never paid" so that an open balance is a pure range join (fast on DuckDB).
OPEN_END = dt.date(9999, 12, 31)


def col(table: str, name: str) -> exp.Column:
    return exp.column(name, table=table)


def date_lit(day: dt.date) -> exp.Expr:
    return exp.cast(exp.Literal.string(day.isoformat()), exp.DataType.build("DATE"))


def days_interval(days: int) -> exp.Interval:
    return exp.Interval(this=exp.Literal.string(str(days)), unit=exp.var("DAY"))


def shifted(day: exp.Expr, shift: exp.Interval | None) -> exp.Expr:
    """``day + shift``: dates of a comparison period moved onto the current period's buckets."""
    return day if shift is None else exp.Add(this=day, expression=shift.copy())


def bucket(day: exp.Expr, grain: str, shift: exp.Interval | None = None, later: exp.Interval | None = None) -> exp.Expr:
    """The first day of the ``grain`` bucket holding ``day`` (+ ``shift``), as a DATE; with
    ``later``, that bucket's first day moved on by ``later`` (the bucket one step later)."""
    moved = shifted(day, shift)
    start = moved if grain == "day" else exp.DateTrunc(unit=exp.Literal.string(grain.upper()), this=moved)
    if later is not None:
        start = exp.Add(this=start, expression=later.copy())
    elif grain == "day" and shift is None:
        return start
    return exp.cast(start, exp.DataType.build("DATE"))


def grain_interval(grain: str) -> exp.Interval:
    """One bucket of ``grain`` as an interval (a week is 7 days: every engine has DAY)."""
    count, unit = {"day": (1, "DAY"), "week": (7, "DAY"), "month": (1, "MONTH"), "quarter": (3, "MONTH")}.get(
        grain, (1, "YEAR")
    )
    return exp.Interval(this=exp.Literal.string(str(count)), unit=exp.var(unit))


def grouping_key(key: exp.Expr) -> exp.Expr:
    """What to GROUP BY for an output key: a bucket groups on its truncation and is cast to
    DATE (and moved by a bucket) once per group, not once per row (per-row work is measurable
    on big facts)."""
    if isinstance(key, exp.Cast):
        inner = key.this.this if isinstance(key.this, exp.Add) else key.this
        if isinstance(inner, exp.DateTrunc):
            return inner.copy()
    return key.copy()


def date_spine(start: dt.date, end: dt.date) -> exp.Select:
    """One row per calendar day of [start, end]: ``SELECT day FROM generate_series(...)``."""
    series = exp.Table(
        this=exp.GenerateSeries(start=date_lit(start), end=date_lit(end), step=days_interval(1)),
        alias=exp.TableAlias(this=exp.to_identifier("gs"), columns=[exp.to_identifier("d")]),
    )
    day = exp.alias_(exp.cast(col("gs", "d"), exp.DataType.build("DATE")), "day")
    return exp.select(day).from_(series)


def safe_divide(numerator: exp.Expr, denominator: exp.Expr) -> exp.Expr:
    """Floating-point division that is NULL (not an error) when the denominator is 0."""
    return exp.Div(
        this=exp.cast(numerator, exp.DataType.build("DOUBLE")),
        expression=exp.func("NULLIF", denominator, exp.Literal.number(0)),
    )


def same_keys(left: str, right: str, keys: list[str]) -> exp.Expr:
    """Null-safe equality of every key column of two relations (TRUE when there are none)."""
    if not keys:
        return exp.true()
    return exp.and_(*(exp.NullSafeEQ(this=col(left, k), expression=col(right, k)) for k in keys))


def member_filter(column: exp.Expr, members: list[str], exclude: bool) -> exp.Expr:
    """``column IN (...)``; with ``exclude`` rows with no value (NULL) are kept."""
    inside = exp.In(this=column.copy(), expressions=[exp.Literal.string(m) for m in members])
    if not exclude:
        return inside
    return exp.or_(exp.Is(this=column.copy(), expression=exp.null()), exp.not_(inside))


def one_of(column: exp.Expr, values: list[exp.Expr]) -> exp.Expr:
    """``column = v`` for one value, ``column IN (...)`` for several (both prune a date-sorted scan)."""
    if len(values) == 1:
        return exp.EQ(this=column.copy(), expression=values[0])
    return exp.In(this=column.copy(), expressions=values)
