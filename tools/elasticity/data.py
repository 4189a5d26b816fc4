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

Every statement is one SELECT over the model's entities in DuckDB's dialect, with literals built by
sqlglot; the semantic layer checks it against the model and makes it the warehouse's (tools/reads.py).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlglot import exp

from semantic_layer.compiler import compile_query
from semantic_layer.query import Filter, MetricQuery, Period
from tools.base import ToolContext
from tools.reads import read_frame

MIN_PAIR_UNITS = 8
MIN_PROMO_EXPECTED_UNITS = 3.0
PANEL_ROW_LIMIT = 5_000_000
ROW_LIMIT = 100_000
TIMEOUT_S = 120.0

PANEL_COLUMNS = ["sku_id", "channel_group", "month_index", "promo_id", "days", "units", "price"]

_PANEL_SQL = """
WITH
line AS (
  SELECT s.sku_id, st.channel, st.warehouse_id, s.order_date AS d, s.quantity, s.revenue, s.promo_id
  FROM fact_sales s JOIN dim_store st ON st.store_id = s.store_id
  WHERE s.order_date BETWEEN CAST({low} AS DATE) AND CAST({high} AS DATE)
),
pair AS (
  SELECT sku_id, channel, warehouse_id FROM line
  GROUP BY sku_id, channel, warehouse_id HAVING SUM(quantity) >= {min_pair_units}
),
joined AS (SELECT DISTINCT sku_id, promo_id FROM line WHERE promo_id IS NOT NULL),
calendar AS (
  SELECT st.channel, st.warehouse_id, d.d, MAX(p.promo_id) AS promo_id, MAX(p.discount_pct) AS discount_pct
  FROM (SELECT DISTINCT channel, warehouse_id FROM dim_store) st
  JOIN dim_promotion p ON p.channel = st.channel OR p.channel IS NULL
  JOIN (
    SELECT DISTINCT snapshot_date AS d FROM fact_inventory_daily
    WHERE snapshot_date BETWEEN CAST({low} AS DATE) AND CAST({high} AS DATE)
  ) d ON d.d BETWEEN p.start_date AND p.end_date
  GROUP BY st.channel, st.warehouse_id, d.d
),
out_of_stock AS (
  SELECT sku_id, warehouse_id, snapshot_date AS d FROM fact_inventory_daily
  WHERE on_hand_qty <= 0 AND snapshot_date BETWEEN CAST({low} AS DATE) AND CAST({high} AS DATE)
),
stock_month AS (
  SELECT sku_id, warehouse_id, DATE_TRUNC('month', snapshot_date) AS month, COUNT(*) AS days
  FROM fact_inventory_daily
  WHERE on_hand_qty > 0 AND snapshot_date BETWEEN CAST({low} AS DATE) AND CAST({high} AS DATE)
  GROUP BY sku_id, warehouse_id, DATE_TRUNC('month', snapshot_date)
),
stock_promo AS (
  SELECT i.sku_id, c.channel, i.warehouse_id, DATE_TRUNC('month', i.snapshot_date) AS month, c.promo_id,
    MAX(c.discount_pct) AS discount_pct, COUNT(*) AS days
  FROM fact_inventory_daily i JOIN calendar c ON c.warehouse_id = i.warehouse_id AND c.d = i.snapshot_date
  WHERE i.on_hand_qty > 0 AND i.snapshot_date BETWEEN CAST({low} AS DATE) AND CAST({high} AS DATE)
  GROUP BY i.sku_id, c.channel, i.warehouse_id, DATE_TRUNC('month', i.snapshot_date), c.promo_id
),
promo_days AS (
  SELECT sku_id, channel, warehouse_id, month, SUM(days) AS days FROM stock_promo
  GROUP BY sku_id, channel, warehouse_id, month
),
exposure AS (
  SELECT p.sku_id, p.channel, p.warehouse_id, s.month, s.promo_id, s.promo_id AS state, s.discount_pct,
    CAST(s.days AS BIGINT) AS days
  FROM stock_promo s
  JOIN pair p ON p.sku_id = s.sku_id AND p.channel = s.channel AND p.warehouse_id = s.warehouse_id
  UNION ALL
  SELECT p.sku_id, p.channel, p.warehouse_id, m.month, NULL, '', NULL, CAST(m.days - COALESCE(x.days, 0) AS BIGINT)
  FROM stock_month m
  JOIN pair p ON p.sku_id = m.sku_id AND p.warehouse_id = m.warehouse_id
  LEFT JOIN promo_days x
    ON x.sku_id = m.sku_id AND x.channel = p.channel AND x.warehouse_id = m.warehouse_id AND x.month = m.month
  WHERE m.days > COALESCE(x.days, 0)
),
sold AS (
  SELECT l.sku_id, l.channel, l.warehouse_id, DATE_TRUNC('month', l.d) AS month,
    COALESCE(c.promo_id, '') AS state, SUM(l.quantity) AS units, SUM(l.revenue) AS revenue
  FROM line l
  LEFT JOIN calendar c ON c.channel = l.channel AND c.warehouse_id = l.warehouse_id AND c.d = l.d
  WHERE NOT EXISTS (
    SELECT 1 FROM out_of_stock o WHERE o.sku_id = l.sku_id AND o.warehouse_id = l.warehouse_id AND o.d = l.d
  )
  GROUP BY l.sku_id, l.channel, l.warehouse_id, DATE_TRUNC('month', l.d), c.promo_id
),
regular AS (
  SELECT sku_id, DATE_TRUNC('month', d) AS month, CAST(SUM(revenue) AS DOUBLE) / SUM(quantity) AS price
  FROM line WHERE promo_id IS NULL GROUP BY sku_id, DATE_TRUNC('month', d)
),
sku_month AS (
  SELECT m.sku_id, m.month, r.price,
    COUNT(r.price) OVER (PARTITION BY m.sku_id ORDER BY m.month) AS run,
    FIRST_VALUE(r.price) OVER (
      PARTITION BY m.sku_id ORDER BY CASE WHEN r.price IS NULL THEN 1 ELSE 0 END, m.month
    ) AS first_price
  FROM (SELECT DISTINCT sku_id, month FROM exposure) m
  LEFT JOIN regular r ON r.sku_id = m.sku_id AND r.month = m.month
),
regular_filled AS (
  SELECT sku_id, month,
    COALESCE(MAX(price) OVER (PARTITION BY sku_id, run), first_price) AS price
  FROM sku_month
),
cell AS (
  SELECT e.sku_id, e.channel, e.warehouse_id, e.month, e.promo_id, e.days,
    COALESCE(s.units, 0) AS units,
    CASE WHEN s.units > 0 THEN CAST(s.revenue AS DOUBLE) / s.units
         WHEN j.promo_id IS NOT NULL THEN r.price * (1 - e.discount_pct)
         ELSE r.price END AS price
  FROM exposure e
  JOIN regular_filled r ON r.sku_id = e.sku_id AND r.month = e.month
  LEFT JOIN sold s ON s.sku_id = e.sku_id AND s.channel = e.channel AND s.warehouse_id = e.warehouse_id
    AND s.month = e.month AND s.state = e.state
  LEFT JOIN joined j ON j.sku_id = e.sku_id AND j.promo_id = e.promo_id
),
rated AS (
  SELECT c.sku_id, c.channel, c.warehouse_id, c.month, c.promo_id, c.days, c.units, c.price,
    CAST(SUM(CASE WHEN c.promo_id IS NULL THEN c.units ELSE 0 END)
      OVER (PARTITION BY c.sku_id, c.channel, c.warehouse_id) AS DOUBLE)
    / NULLIF(SUM(CASE WHEN c.promo_id IS NULL THEN c.days ELSE 0 END)
      OVER (PARTITION BY c.sku_id, c.channel, c.warehouse_id), 0) AS regular_rate
  FROM cell c
),
expected AS (
  SELECT r.*, SUM(r.days * r.regular_rate) OVER (PARTITION BY r.sku_id, r.promo_id) AS expected_units
  FROM rated r
)
SELECT c.sku_id, c.channel || '@' || c.warehouse_id AS channel_group,
  CAST(EXTRACT(YEAR FROM c.month) * 12 + EXTRACT(MONTH FROM c.month) - 1 AS INTEGER) AS month_index,
  c.promo_id, CAST(c.days AS INTEGER) AS days, CAST(c.units AS INTEGER) AS units, CAST(c.price AS DOUBLE) AS price
FROM expected c
WHERE c.price > 0 AND (c.promo_id IS NULL OR c.expected_units >= {min_promo_expected})
"""

_SKU_SQL = """
SELECT k.sku_id, k.sku_name, k.sku_name_en, k.category, k.category_en,
  CAST(k.unit_cost AS DOUBLE) AS unit_cost, CAST(k.list_price AS DOUBLE) AS list_price,
  CAST(p.price_low AS DOUBLE) AS price_low, CAST(p.price_high AS DOUBLE) AS price_high
FROM dim_sku k
LEFT JOIN (
  SELECT sku_id, MIN(unit_price) AS price_low, MAX(unit_price) AS price_high FROM fact_sales
  WHERE order_date BETWEEN CAST({low} AS DATE) AND CAST({high} AS DATE) GROUP BY sku_id
) p ON p.sku_id = k.sku_id
"""

_PROMOTION_SQL = """
SELECT promo_id, promo_name, channel, start_date, end_date, CAST(discount_pct AS DOUBLE) AS discount_pct
FROM dim_promotion WHERE start_date BETWEEN CAST({low} AS DATE) AND CAST({high} AS DATE)
"""


def _literal(day: dt.date) -> str:
    return exp.Literal.string(day.isoformat()).sql()


def _frame(context: ToolContext, sql: str, row_limit: int = ROW_LIMIT) -> tuple[pd.DataFrame, str]:
    """Run one SELECT through the model (tools/reads.py); the frame and the SQL that ran."""
    return read_frame(
        context.engine, context.model, sql, row_limit=row_limit, timeout_s=TIMEOUT_S, what="the elasticity estimate"
    )


def sales_span(context: ToolContext, before: dt.date) -> tuple[dt.date, dt.date] | None:
    """The first and last order days before ``before`` (None without sales)."""
    sql = f"SELECT MIN(order_date) AS first_day, MAX(order_date) AS last_day FROM fact_sales WHERE order_date < CAST({_literal(before)} AS DATE)"
    row = _frame(context, sql)[0].iloc[0]
    if pd.isna(row["first_day"]):
        return None
    return pd.Timestamp(row["first_day"]).date(), pd.Timestamp(row["last_day"]).date()


def panel(context: ToolContext, period: Period) -> tuple[pd.DataFrame, str]:
    """The estimation cells of every category over ``period`` (see the module docstring): SKU,
    channel group (``channel@warehouse``), month (year * 12 + month - 1), promotion (None: none),
    in-stock days, units sold on them, and the price."""
    sql = _PANEL_SQL.format(
        low=_literal(period.start),
        high=_literal(period.end),
        min_pair_units=MIN_PAIR_UNITS,
        min_promo_expected=MIN_PROMO_EXPECTED_UNITS,
    )
    frame, text = _frame(context, sql, PANEL_ROW_LIMIT)
    frame = frame.astype({"month_index": "int64", "days": "float64", "units": "float64", "price": "float64"})
    return frame[PANEL_COLUMNS], text


def skus(context: ToolContext, period: Period) -> pd.DataFrame:
    """Every SKU's names, category, current unit cost and list price, and the lowest and highest
    unit price it sold at in ``period`` (NaN when it did not sell)."""
    frame, _ = _frame(context, _SKU_SQL.format(low=_literal(period.start), high=_literal(period.end)))
    return frame.set_index("sku_id")


def promotions(context: ToolContext, period: Period) -> pd.DataFrame:
    """Name, channel, dates and depth of the promotions starting in ``period`` (display attributes)."""
    frame, _ = _frame(context, _PROMOTION_SQL.format(low=_literal(period.start), high=_literal(period.end)))
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
