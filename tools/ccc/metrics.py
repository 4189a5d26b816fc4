"""The governed numbers behind the cash conversion cycle, each from one MetricQuery.

DIO, DSO, DPO and CCC (and the balances and inventory values they are built from) are never
recomputed here: each is a column of a MetricQuery compiled by the semantic layer with the
asker's policy, so the tool says exactly what "2025年的现金转换周期" says as a plain question.
A trend is one query at the grain (not one per bucket), and the comparison with the previous
period is the compiler's own ``compare="pop"``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandas as pd

from semantic_layer.compiler import compile_query
from semantic_layer.engine import EngineError
from semantic_layer.query import MetricQuery, Period
from tools.base import ToolContext
from tools.ccc.arguments import TrendGrain

PARTS = ("dio", "dso", "dpo", "ccc")
#: The period totals: the parts, the balances the aging is set against, and COGS for estimates.
TOTALS = (*PARTS, "avg_ar_balance", "avg_ap_balance", "cogs")
ROW_LIMIT = 100_000
TIMEOUT_S = 60.0


@dataclass
class MetricRun:
    """One governed query's result as a frame (metric columns as floats, NaN where undefined)."""

    frame: pd.DataFrame
    sql: str


def run(query: MetricQuery, context: ToolContext) -> MetricRun:
    """Compile ``query`` for the asker (the compiler applies the role's policy) and run it."""
    compiled = compile_query(query, context.model, context.principal, dialect=context.engine.dialect)
    result = context.engine.execute(compiled.ast, row_limit=ROW_LIMIT, timeout_s=TIMEOUT_S)
    if result.truncated:
        raise EngineError(f"more than {ROW_LIMIT:,} rows for {', '.join(query.metrics)}; narrow the period")
    frame = pd.DataFrame(result.rows, columns=compiled.columns)
    keys = ([query.grain] if query.grain else []) + list(query.dimensions)
    for column in frame.columns:
        if column not in keys:
            frame[column] = pd.to_numeric(frame[column].astype(object), errors="coerce").astype(float)
    return MetricRun(frame, compiled.sql)


def trend(context: ToolContext, period: Period, grain: TrendGrain) -> MetricRun:
    """DIO, DSO, DPO and CCC per bucket of ``period`` (buckets cut at the period's ends)."""
    return run(_query(metrics=list(PARTS), grain=grain, period=period), context)


def totals(context: ToolContext, period: Period, compare: bool) -> MetricRun:
    """The whole period in one row; with ``compare``, also the equal-length period before it."""
    return run(_query(metrics=list(TOTALS), period=period, compare="pop" if compare else None), context)


def category_dio(context: ToolContext, period: Period) -> MetricRun:
    """DIO per category, this period and the equal-length one before (``dio_previous``, ``dio_growth``)."""
    return run(_query(metrics=["dio"], dimensions=["category"], period=period, compare="pop"), context)


def sku_inventory(context: ToolContext, period: Period, categories: list[str]) -> MetricRun:
    """DIO and average inventory value per SKU (with its category) of ``categories``, vs the previous period."""
    query = _query(
        metrics=["dio", "avg_inventory_value"],
        dimensions=["category", "sku"],
        filters=[{"dimension": "category", "members": categories}],
        period=period,
        compare="pop",
    )
    return run(query, context)


def _query(**fields: Any) -> MetricQuery:
    """A MetricQuery validated like a planner's (the fields left out take their defaults)."""
    return MetricQuery.model_validate(fields)


def previous_period(period: Period) -> Period:
    """The contract's 环比 of ``period``: the previous calendar month/quarter/year, else the equal-length one."""
    return period.previous("pop")


def comparable(period: Period, data_start: dt.date) -> bool:
    """Whether the previous period lies wholly inside the data: balances carried in from before the
    data starts are incomplete, so a comparison reaching there would mislead."""
    return previous_period(period).start >= data_start
