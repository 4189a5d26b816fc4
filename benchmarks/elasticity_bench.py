"""Speed and recovery of the price-elasticity tool at case scale, against a naive per-SKU loop.

In one run, on the same read-only database:

- the tool for every category (``ElasticityTool`` with default arguments: SQL panel, count-model fit,
  pricing and text), first run and best of ``--repeat``, with the panel read and the fit timed apart;
- a naive baseline: one bulk read of SKU x week sales, then one statsmodels OLS per SKU
  (log units on log price and month-of-year dummies, HC1), summarised per category by the median
  SKU slope (inverse-variance pooling is dominated by SKUs whose few distinct prices give a
  near-zero standard error). It ignores zero-sale weeks, stockouts and promotion calendars, as a
  quick analysis would;
- each category's estimate against ``truth_elasticity`` (target: within 0.3 at case scale).

    python benchmarks/elasticity_bench.py --db case.duckdb
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
import warnings

import numpy as np
import pandas as pd
import statsmodels.api as sm

from engines import connect
from semantic_layer.query import Period, Principal
from semantic_layer.semantic_model import load_model
from semantic_layer.tables import CONTRACT_TABLES
from tools.base import ToolContext
from tools.elasticity import Arguments, ElasticityTool, data, model

TODAY = dt.date(2026, 1, 1)
TARGET = 0.3
TARGET_SECONDS = 5.0

NAIVE_SQL = """
SELECT s.sku_id, k.category, DATE_TRUNC('week', s.order_date) AS week,
  SUM(s.quantity) AS units, SUM(s.revenue) / SUM(s.quantity) AS price
FROM fact_sales s JOIN dim_sku k ON k.sku_id = s.sku_id
WHERE s.order_date < DATE '{today}'
GROUP BY s.sku_id, k.category, DATE_TRUNC('week', s.order_date)
"""


def naive(context: ToolContext) -> tuple[pd.DataFrame, int]:
    """Per-category median of one statsmodels fit per SKU, and the number of fits."""
    result = context.engine.execute(NAIVE_SQL.format(today=TODAY.isoformat()), row_limit=5_000_000, timeout_s=600)
    frame = pd.DataFrame(result.rows, columns=result.columns)
    frame["units"] = frame["units"].astype(float)
    frame["price"] = frame["price"].astype(float)
    frame["month"] = pd.to_datetime(frame["week"]).dt.month
    estimates = []
    for (sku, category), sku_rows in frame.groupby(["sku_id", "category"]):
        if len(sku_rows) < 20 or sku_rows["price"].nunique() < 2:
            continue
        months = pd.get_dummies(sku_rows["month"], prefix="m", drop_first=True, dtype=float)
        design = sm.add_constant(pd.concat([np.log(sku_rows["price"]).rename("log_price"), months], axis=1))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = sm.OLS(np.log(sku_rows["units"]), design).fit(cov_type="HC1")
        se = float(fit.bse["log_price"])
        if np.isfinite(se) and se > 0:
            estimates.append((sku, category, float(fit.params["log_price"]), se))
    per_sku = pd.DataFrame(estimates, columns=["sku_id", "category", "elasticity", "se"])
    pooled = per_sku.groupby("category")["elasticity"].median().rename("naive").to_frame()
    return pooled, len(per_sku)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True, help="a demo database, case scale for the README figures (opened read-only)")
    ap.add_argument("--repeat", type=int, default=3, help="tool runs to time (the first is reported too)")
    args = ap.parse_args()

    engine = connect(args.db, allowed_tables=set(CONTRACT_TABLES))  # the demo's answer key is no model relation
    context = ToolContext(engine, load_model(), Principal(), TODAY, "zh")
    lines = engine.execute("SELECT COUNT(*) FROM fact_sales").rows[0][0]
    n_skus = engine.execute("SELECT COUNT(*) FROM dim_sku").rows[0][0]
    truth = dict(engine.execute("SELECT category, elasticity FROM truth_elasticity").rows)

    runs, output = [], None
    for _ in range(max(args.repeat, 1)):
        start = time.perf_counter()
        output = ElasticityTool().run(Arguments.model_validate({}), context)
        runs.append(time.perf_counter() - start)
    assert output is not None
    period = Period(start=output.period[0], end=output.period[1]) if output.period else None
    assert period is not None
    start = time.perf_counter()
    cells, _ = data.panel(context, period)
    panel_s = time.perf_counter() - start
    cells["category"] = cells["sku_id"].map(data.skus(context, period)["category"])
    start = time.perf_counter()
    fit = model.fit(cells)
    fit_s = time.perf_counter() - start

    start = time.perf_counter()
    pooled, n_fits = naive(context)
    naive_s = time.perf_counter() - start

    rows = pd.DataFrame(output.rows, columns=output.columns).set_index("category")
    rows["truth"] = pd.Series(truth)
    rows = rows.join(pooled)
    rows["error"] = rows["elasticity"] - rows["truth"]
    rows["naive_error"] = rows["naive"] - rows["truth"]

    print(f"# Price elasticity benchmark: {args.db}\n")
    print(f"{n_skus:,} SKUs, {lines:,} order lines; period {period.start} to {period.end}; {len(cells):,} panel cells, "
          f"{fit.iterations} IRLS iterations.\n")  # fmt: skip
    print("| step | seconds |\n|---|---|")
    print(f"| tool, every category, first run | {runs[0]:.2f} |")
    print(f"| tool, every category, best of {len(runs)} (median {statistics.median(runs):.2f}) | {min(runs):.2f} |")
    print(f"| panel SQL + transfer alone (one more run) | {panel_s:.2f} |")
    print(f"| model fit alone, all categories (one more run) | {fit_s:.2f} |")
    print(f"| naive loop: bulk read + {n_fits:,} statsmodels OLS fits, one per SKU | {naive_s:.2f} |")
    print(f"\nTool vs naive loop: {naive_s / min(runs):.1f}x faster; target under {TARGET_SECONDS:.0f} s: "
          f"{'met' if min(runs) < TARGET_SECONDS else 'NOT met'} (best run).\n")  # fmt: skip
    print("| category | truth | tool | 95% CI | SKUs | tool error | naive median | naive error |")
    print("|---|---|---|---|---|---|---|---|")
    for category, r in rows.sort_values("truth").iterrows():
        print(
            f"| {category} | {r['truth']:.2f} | {r['elasticity']:.3f} | [{r['ci_low']:.2f}, {r['ci_high']:.2f}] | "
            f"{int(r['n_skus'])} | {r['error']:+.3f} | {r['naive']:.3f} | {r['naive_error']:+.3f} |"
        )
    worst = rows["error"].abs().max()
    covered = ((rows["ci_low"] <= rows["truth"]) & (rows["truth"] <= rows["ci_high"])).sum()
    print(f"\nMax abs error: tool {worst:.3f} (target {TARGET}: {'met' if worst <= TARGET else 'NOT met'}), "
          f"naive {rows['naive_error'].abs().max():.3f}. Truth inside the tool's 95% CI: {covered} of {len(rows)}.")  # fmt: skip
    engine.close()


if __name__ == "__main__":
    main()
