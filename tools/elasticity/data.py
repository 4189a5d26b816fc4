"""The reads behind the elasticity estimate: one aggregated panel of sales cells, SKU attributes,
and the governed metrics the recommendation quotes.

The panel is built in SQL, because SQL does joins and aggregation over millions of order lines
and inventory snapshots well; Python then only fits the model. A *cell* is one SKU in one
channel group (a channel served from one warehouse) in one calendar month under one promotion
state of that channel (no promotion, or the promotion the channel runs). Within a cell the shelf
price is essentially constant, so a cell's expected units are ``rate x in-stock days x price^e``.

What the SQL decides, and why:

- **Stockouts are excluded**: a cell counts only the days its serving warehouse ended with stock
  (``on_hand_qty > 0``), and only the units sold on those days. On a stockout day sales measure
  the shelf, not demand.
- **Prices for cells without sales**: a cell with sales gets its realised price (revenue / units).
  A cell without sales still carries information (demand was low at that price), so its price is
  reconstructed: the SKU's regular (non-promotion) price that month, carried forward from the
  last month with regular-price sales, times ``1 - discount_pct`` when the SKU took part in the
  promotion (it has order lines with that promo_id).
- **Promotion cells only where participation is knowable**: a SKU that joined a promotion but
  sold nothing during it cannot be told apart from one that did not join. Counting such SKUs as
  non-participants would overstate the elasticity, so a SKU's promotion cells are kept only when
  its regular-price sales rate predicts at least ``MIN_PROMO_EXPECTED_UNITS`` units over the
  promotion; that selection depends on the SKU's usual volume, not on its promotion sales.
- **In-stock days without a row per SKU, channel and day**: a cell's days are the SKU's in-stock
  days inside the promotion's days on that channel, or, for the no-promotion cell, the month's
  in-stock days less those; only promotion days are joined day by day.
- **Engine-portable plans**: the per-SKU regular rate and a promotion's expected units are
  window sums over the cells rather than joins to aggregated CTEs, whose row counts PostgreSQL
  misestimates (it then nests loops over them and the read times out; tests check both engines).
- **Thin SKU-channel pairs are dropped** (fewer than ``MIN_PAIR_UNITS`` units in the period): they
  carry almost no information on the price response, and selecting on a fixed-effect group's total
  hardly moves the estimate (for Poisson not at all: its likelihood given the total does not
  involve it).
- **One type per column of a union** (day counts are BIGINT on both sides): ClickHouse would
  otherwise make a Variant of its unsigned and signed counts, which it cannot sum.
- **Overlapping promotions** on one channel and day (the demo has none) count as one state with
  the deepest discount, under the highest promo_id.

The SQL is the model's ``elasticity.*`` reads (reads.yaml): one SELECT each over the model's
entities, bound with this module's values; the semantic layer checks it against the model, narrows
it to the asker's rows and makes it the warehouse's (tools/reads.py).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from semantic_layer.compiler import compile_query
from semantic_layer.query import Filter, MetricQuery, Period
from tools.base import ToolContext

MIN_PAIR_UNITS = 8
MIN_PROMO_EXPECTED_UNITS = 3.0
PANEL_ROW_LIMIT = 5_000_000
ROW_LIMIT = 100_000
TIMEOUT_S = 120.0

PANEL_COLUMNS = ["sku_id", "channel_group", "month_index", "promo_id", "days", "units", "price"]


def _frame(context: ToolContext, read: str, row_limit: int = ROW_LIMIT, **params: object) -> tuple[pd.DataFrame, str]:
    """Run one of the model's reads for the asker (tools/reads.py); the frame and the SQL that ran."""
    return context.reader.frame(
        read, row_limit=row_limit, timeout_s=TIMEOUT_S, what="the elasticity estimate", **params
    )


def sales_span(context: ToolContext, before: dt.date) -> tuple[dt.date, dt.date] | None:
    """The first and last order days before ``before`` (None without sales)."""
    row = _frame(context, "elasticity.sales_span", before=before)[0].iloc[0]
    if pd.isna(row["first_day"]):
        return None
    return pd.Timestamp(row["first_day"]).date(), pd.Timestamp(row["last_day"]).date()


def panel(context: ToolContext, period: Period) -> tuple[pd.DataFrame, str]:
    """The estimation cells of every category over ``period`` (see the module docstring): SKU,
    channel group (``channel@warehouse``), month (year * 12 + month - 1), promotion (None: none),
    in-stock days, units sold on them, and the price."""
    frame, text = _frame(
        context, "elasticity.panel", PANEL_ROW_LIMIT, low=period.start, high=period.end,
        min_pair_units=MIN_PAIR_UNITS, min_promo_expected=MIN_PROMO_EXPECTED_UNITS,
    )  # fmt: skip
    frame = frame.astype({"month_index": "int64", "days": "float64", "units": "float64", "price": "float64"})
    return frame[PANEL_COLUMNS], text


def skus(context: ToolContext, period: Period) -> pd.DataFrame:
    """Every SKU's names, category, current unit cost and list price, and the lowest and highest
    unit price it sold at in ``period`` (NaN when it did not sell)."""
    frame, _ = _frame(context, "elasticity.skus", low=period.start, high=period.end)
    return frame.set_index("sku_id")


def promotions(context: ToolContext, period: Period) -> pd.DataFrame:
    """Name, channel, dates and depth of the promotions starting in ``period`` (display attributes)."""
    frame, _ = _frame(context, "elasticity.promotions", low=period.start, high=period.end)
    return frame.set_index("promo_id")


def governed(
    context: ToolContext,
    metrics: list[str],
    dimension: str,
    period: Period,
    filters: list[Filter] | None = None,
) -> tuple[pd.DataFrame, str]:
    """Governed metrics by one dimension, compiled for the asker (so their policy applies) and run."""
    query = MetricQuery.model_validate(
        {"metrics": metrics, "dimensions": [dimension], "period": period, "filters": filters or []}
    )
    compiled = compile_query(query, context.model, context.principal, dialect=context.engine.dialect)
    result = context.engine.execute(compiled.ast, row_limit=ROW_LIMIT, timeout_s=TIMEOUT_S)
    if result.truncated:
        raise ValueError(f"a governed read for the elasticity estimate hit its row limit of {ROW_LIMIT:,}")
    frame = pd.DataFrame(result.rows, columns=compiled.columns)
    for metric in metrics:
        frame[metric] = pd.to_numeric(frame[metric], errors="coerce").astype("float64")
    return frame.set_index(dimension), compiled.sql
