"""Cash-conversion-cycle tool at case scale: the tool's way vs a naive loop, in the same run.

Rows (each the median of ``--repeat`` runs after a warm-up; compile + guard + execute included):

- CCC trend, 2025 by month: the tool's one governed query at grain=month vs a naive loop of one
  governed query per month and per metric (12 x 4 = 48 queries);
- DIO by category vs the previous period: the tool's one query with ``compare="pop"`` vs one
  query per category and per period (2 x categories);
- the whole tool run (overview for 2025 by month; AR aging), for scale.

The naive loops must return the same numbers (checked, to 1e-9 relative). Target: the trend
under 2 s.

    python benchmarks/ccc_bench.py --db case.duckdb [--repeat 5]

Prints a markdown table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from engines import connect
from semantic_layer.query import MetricQuery, Period, Principal
from semantic_layer.semantic_model import load_model
from tools.base import ToolContext
from tools.ccc import Arguments, CashCycleTool, metrics

YEAR = Period(start=dt.date(2025, 1, 1), end=dt.date(2025, 12, 31))
TODAY = dt.date(2026, 1, 1)
TARGET_S = 2.0


def months(period: Period) -> list[Period]:
    out, start = [], period.start
    while start <= period.end:
        following = dt.date(start.year + start.month // 12, start.month % 12 + 1, 1)
        out.append(Period(start=start, end=min(following - dt.timedelta(days=1), period.end)))
        start = following
    return out


def tool_trend(context: ToolContext) -> dict[tuple[dt.date, str], float]:
    frame = metrics.trend(context, YEAR, "month").frame
    return {(row["month"], m): row[m] for _, row in frame.iterrows() for m in metrics.PARTS}


def naive_trend(context: ToolContext) -> dict[tuple[dt.date, str], float]:
    out = {}
    for month in months(YEAR):
        for metric in metrics.PARTS:
            frame = metrics.run(MetricQuery.model_validate({"metrics": [metric], "period": month}), context).frame
            out[(month.start, metric)] = frame[metric].iloc[0]
    return out


def tool_category(context: ToolContext) -> dict[tuple[str, str], float]:
    frame = metrics.category_dio(context, YEAR).frame
    return {(row["category"], c): row[c] for _, row in frame.iterrows() for c in ("dio", "dio_previous")}


def naive_category(context: ToolContext) -> dict[tuple[str, str], float]:
    listed = context.engine.execute("SELECT DISTINCT category FROM dim_sku ORDER BY 1").rows
    out = {}
    for (category,) in listed:
        for column, period in (("dio", YEAR), ("dio_previous", YEAR.previous("pop"))):
            query = {
                "metrics": ["dio"],
                "period": period,
                "filters": [{"dimension": "category", "members": [category]}],
            }
            out[(category, column)] = metrics.run(MetricQuery.model_validate(query), context).frame["dio"].iloc[0]
    return out


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    result = fn()  # warm-up (and the result to compare)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(math.isclose(a[k], b[k], rel_tol=1e-9, abs_tol=1e-9) for k in a)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="a demo DuckDB file, case scale for the README figures (opened read-only)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    engine = connect(args.db)
    context = ToolContext(engine, load_model(), Principal(), TODAY, "zh")
    tool = CashCycleTool()
    (order_lines,) = engine.execute("SELECT COUNT(*) FROM fact_sales").rows[0]

    trend_s, trend = timed(lambda: tool_trend(context), args.repeat)
    naive_s, naive = timed(lambda: naive_trend(context), args.repeat)
    category_s, category = timed(lambda: tool_category(context), args.repeat)
    naive_category_s, naive_cat = timed(lambda: naive_category(context), args.repeat)
    overview_s, _ = timed(lambda: tool.run(Arguments(start=YEAR.start, end=YEAR.end), context), args.repeat)
    aging_s, _ = timed(lambda: tool.run(Arguments(focus="ar_aging"), context), args.repeat)
    engine.close()

    print(f"# CCC tool benchmark ({args.db}, {order_lines:,} order lines, median of {args.repeat})\n")
    print("| what | tool (s) | naive loop (s) | queries tool / naive | speed-up | same numbers |")
    print("|---|---:|---:|---:|---:|---|")
    print(f"| CCC trend 2025 by month | {trend_s:.3f} | {naive_s:.3f} | 1 / {12 * 4} | "
          f"{naive_s / trend_s:.1f}x | {same(trend, naive)} |")  # fmt: skip
    print(f"| DIO by category vs previous period | {category_s:.3f} | {naive_category_s:.3f} | "
          f"1 / {len(naive_cat)} | {naive_category_s / category_s:.1f}x | {same(category, naive_cat)} |")  # fmt: skip
    print(f"| whole tool run: overview 2025 by month | {overview_s:.3f} | | | | |")
    print(f"| whole tool run: AR aging (Q4 2025) | {aging_s:.3f} | | | | |")
    ok = trend_s < TARGET_S and same(trend, naive) and same(category, naive_cat)
    print(f"\nTarget: CCC trend under {TARGET_S:g} s, equal to the naive loop: {'met' if ok else 'NOT met'}.")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
