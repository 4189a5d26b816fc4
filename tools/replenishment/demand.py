"""What the warehouse says about demand, stock and supply, read in a few aggregate SQL statements.

Demand is what customers wanted, not what was sold: on a day a SKU-warehouse ends with
``on_hand_qty = 0`` the sales it recorded are only what the stock could serve, so that day is
*censored* and left out of every demand statistic (it is neither a zero nor a low day). The
statistics are taken on the in-stock days only.

Seasonality, the weekly rhythm and promotions are one multiplicative daily index per category
and warehouse, estimated in SQL with a ratio estimator over in-stock days::

    index(c, w, d) = warehouse index(w, d) * category ratio(c, w, d)
    warehouse index(w, d) = sum of in-stock sales / sum of the same pairs' plain in-stock means

The warehouse part keeps one-day spikes (11.11) and dips; the category ratio (summer, winter,
gifting categories) is pooled over a centred week because a single category-day is noisy. Each
pair's rate is then the recency-weighted mean of its *deseasonalised* in-stock demand
``qty / index``, so a rate learned in November does not carry 11.11 into January.

Everything is aggregated in SQL (tens of thousands of rows come back for millions read); the rest
is vectorised in pandas by the callers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from semantic_layer.engine import Engine
from semantic_layer.semantic_model import SemanticModel
from tools.reads import read_frame
from tools.replenishment import policy

#: Half-life (days) of the weights of the demand rate: eight weeks follows a product's life
#: cycle (launch ramp, decline) while still averaging a couple of hundred days of noise.
SHORT_HALF_LIFE = 56
#: Half-life for intermittent demand: a few sales a quarter cannot support an eight-week estimate.
LONG_HALF_LIFE = 182
#: A category-day index below this is treated as this (a day with almost no sales in stock
#: would otherwise blow up ``qty / index``).
INDEX_FLOOR = 0.2
#: Purchase orders placed this recently are left out of the lead-time sample: the slow ones
#: among them have not arrived yet, and keeping only the fast ones would bias lead times down.
LEAD_TIME_SETTLE_DAYS = 60
#: Distinct purchase-order quantities needed before their GCD is taken as the order multiple.
MIN_DISTINCT_QUANTITIES = 3
MAX_ROWS = 1_000_000
TIMEOUT_S = 60.0


@dataclass
class History:
    """One year of demand history ending ``as_of``, aggregated for the policy maths."""

    as_of: dt.date
    start: dt.date
    pairs: pd.DataFrame  # one row per active SKU x warehouse on as_of (see PAIR_SQL)
    index: pd.DataFrame  # category, warehouse_id, day, num, den, idx
    channel_units: pd.DataFrame  # warehouse_id, channel, units
    promotions: pd.DataFrame  # channel (None = all), start_date, end_date
    promo_calendar_end: dt.date | None  # the last day the promotion calendar covers
    lead_times: pd.DataFrame  # supplier_id, quoted, quoted_sd, n, observed, observed_sd
    order_multiple: pd.Series  # by sku_id: GCD of its purchase-order quantities
    sql: str  # the main statement (the answer shows the last SQL that ran)


def year_start(as_of: dt.date) -> dt.date:
    """The first day of the year ending ``as_of`` (2024-12-31 -> 2024-01-01, leap years included)."""
    try:
        earlier = as_of.replace(year=as_of.year - 1)
    except ValueError:  # 29 February
        earlier = as_of.replace(year=as_of.year - 1, day=28)
    return earlier + dt.timedelta(days=1)


def latest_snapshot(engine: Engine, model: SemanticModel, on_or_before: dt.date) -> dt.date | None:
    """The last inventory snapshot date not after ``on_or_before`` (None when there is none)."""
    sql = f"SELECT MAX(snapshot_date) AS day FROM fact_inventory_daily WHERE snapshot_date <= DATE '{on_or_before}'"
    value = _frame(engine, model, sql)[0].iloc[0]["day"]
    return _as_date(value) if not pd.isna(value) else None


def load_history(engine: Engine, model: SemanticModel, as_of: dt.date) -> History:
    """Read the year ending ``as_of``: per-pair censored demand statistics, the daily index,
    channel mix, promotion calendar, supplier lead times and order multiples."""
    start = year_start(as_of)
    index_sql = _CTES.format(start=start, as_of=as_of, floor=INDEX_FLOOR) + _INDEX_SELECT
    pair_sql = _CTES.format(start=start, as_of=as_of, floor=INDEX_FLOOR) + _PAIR_SELECT.format(
        start=start, as_of=as_of, short=SHORT_HALF_LIFE, long=LONG_HALF_LIFE, slow=policy.SLOW_MOVER_DAYS
    )
    index = _frame(engine, model, index_sql)[0]
    index["day"] = pd.to_datetime(index["day"])
    pairs, ran = _frame(engine, model, pair_sql)
    for column in ("last_sale", "first_day"):
        pairs[column] = pd.to_datetime(pairs[column])
    channel_units = _frame(engine, model, _CHANNEL_SQL.format(start=start, as_of=as_of))[0]
    promotions = _frame(engine, model, _PROMO_SQL.format(start=start))[0]
    calendar_end = _frame(engine, model, "SELECT MAX(end_date) AS last_day FROM dim_promotion")[0].iloc[0]["last_day"]
    lead_times = _frame(engine, model, _LEAD_SQL.format(as_of=as_of, start=start, settle=LEAD_TIME_SETTLE_DAYS))[0]
    quantities = _frame(engine, model, _MULTIPLE_SQL.format(as_of=as_of))[0]
    return History(
        as_of=as_of,
        start=start,
        pairs=pairs,
        index=index,
        channel_units=channel_units,
        promotions=promotions,
        promo_calendar_end=_as_date(calendar_end) if not pd.isna(calendar_end) else None,
        lead_times=lead_times,
        order_multiple=order_multiples(quantities),
        sql=ran,
    )


def order_multiples(quantities: pd.DataFrame) -> pd.Series:
    """Per SKU, the greatest common divisor of its distinct purchase-order quantities: the case
    pack the supplier ships in. Two quantities that are k1 and k2 packs share a larger divisor
    about 40% of the time (24 and 48 from a pack of 12), three about 17%, so fewer than
    ``MIN_DISTINCT_QUANTITIES`` distinct quantities say nothing reliable about the pack (one may be
    a minimum order or a habit) and the multiple is 1."""
    if quantities.empty:
        return pd.Series(dtype="int64", name="order_multiple")
    frame = quantities.drop_duplicates().sort_values(["sku_id", "quantity"], kind="stable")
    sku = frame["sku_id"].to_numpy()
    qty = frame["quantity"].to_numpy(dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, sku[1:] != sku[:-1]])
    distinct = np.diff(np.r_[starts, len(sku)])
    gcd = np.where(distinct >= MIN_DISTINCT_QUANTITIES, np.gcd.reduceat(qty, starts), 1)
    return pd.Series(np.maximum(gcd, 1), index=sku[starts], name="order_multiple")


def demand_statistics(pairs: pd.DataFrame) -> pd.DataFrame:
    """Per pair: deseasonalised rate and daily standard deviation (censored days excluded),
    average demand interval (ADI) and squared CV of demand sizes (Syntetos-Boylan), weekly CV.

    Smooth pairs use the eight-week weights; intermittent ones (ADI > 1.32) the half-year
    weights, because their rate is a few sales averaged over many empty days. A pair with no
    in-stock day at all falls back to its raw mean over the year (a lower bound) and is flagged.
    """
    out = pd.DataFrame(index=pairs.index)
    in_stock = pairs["days_in_stock"].to_numpy(dtype=float)
    demand_days = pairs["demand_days"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        adi = np.where(demand_days > 0, in_stock / demand_days, np.inf)
        size_mean = pairs["size_sum"].to_numpy(dtype=float) / demand_days
        size_var = pairs["size_sq"].to_numpy(dtype=float) / demand_days - size_mean**2
        cv2 = np.where(demand_days > 1, np.maximum(size_var, 0.0) / size_mean**2, 0.0)
        intermittent = adi > policy.ADI_CUTOFF
        rate, sd = _weighted(pairs, "s")
        rate_l, sd_l = _weighted(pairs, "l")
    rate = np.where(intermittent, rate_l, rate)
    sd = np.where(intermittent, sd_l, sd)
    censored = in_stock < 1
    raw = pairs["units_year"].to_numpy(dtype=float) / np.maximum(pairs["days_active"].to_numpy(dtype=float), 1.0)
    out["rate"] = np.where(censored | ~np.isfinite(rate), raw, rate)
    out["demand_sd"] = np.where(censored | ~np.isfinite(sd), np.sqrt(raw), sd)
    out["adi"] = adi
    out["cv2"] = cv2
    out["intermittent"] = intermittent
    out["censored_share"] = 1.0 - in_stock / np.maximum(pairs["days_active"].to_numpy(dtype=float), 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["weekly_cv"] = np.where(out["rate"] > 0, out["demand_sd"] / (out["rate"] * np.sqrt(7.0)), np.inf)
    return out


def _weighted(pairs: pd.DataFrame, suffix: str) -> tuple[np.ndarray, np.ndarray]:
    sw = pairs[f"sw_{suffix}"].to_numpy(dtype=float)
    mean = pairs[f"swy_{suffix}"].to_numpy(dtype=float) / sw
    var = pairs[f"swyy_{suffix}"].to_numpy(dtype=float) / sw - mean**2
    return mean, np.sqrt(np.maximum(var, 0.0))


def _frame(engine: Engine, model: SemanticModel, sql: str) -> tuple[pd.DataFrame, str]:
    return read_frame(engine, model, sql, row_limit=MAX_ROWS, timeout_s=TIMEOUT_S, what="replenishment")


def _as_date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


# A pair-day is in stock when its end-of-day on-hand is positive; sales reach a warehouse
# through the stores it serves (dim_store.warehouse_id). Quantities are DOUBLE from the start: MySQL
# keeps only four decimals of an integer average or quotient, which moves the statistics.
_CTES = """
WITH sales AS (
  SELECT f.sku_id, st.warehouse_id, f.order_date AS day, CAST(SUM(f.quantity) AS DOUBLE) AS qty
  FROM fact_sales f JOIN dim_store st ON st.store_id = f.store_id
  WHERE f.order_date BETWEEN DATE '{start}' AND DATE '{as_of}'
  GROUP BY f.sku_id, st.warehouse_id, f.order_date),
daily AS MATERIALIZED (
  SELECT i.sku_id, i.warehouse_id, k.category, i.snapshot_date AS day, i.on_hand_qty > 0 AS in_stock,
         COALESCE(s.qty, 0) AS qty
  FROM fact_inventory_daily i JOIN dim_sku k ON k.sku_id = i.sku_id
  LEFT JOIN sales s ON s.sku_id = i.sku_id AND s.warehouse_id = i.warehouse_id AND s.day = i.snapshot_date
  WHERE i.snapshot_date BETWEEN DATE '{start}' AND DATE '{as_of}'),
plain AS (
  SELECT sku_id, warehouse_id, AVG(CASE WHEN in_stock THEN qty END) AS rate
  FROM daily GROUP BY sku_id, warehouse_id),
cw AS (
  SELECT d.category, d.warehouse_id, d.day,
         SUM(CASE WHEN d.in_stock THEN d.qty ELSE 0 END) AS num,
         SUM(CASE WHEN d.in_stock THEN p.rate ELSE 0 END) AS den
  FROM daily d JOIN plain p ON p.sku_id = d.sku_id AND p.warehouse_id = d.warehouse_id
  GROUP BY d.category, d.warehouse_id, d.day),
wh AS (SELECT warehouse_id, day, SUM(num) AS num, SUM(den) AS den FROM cw GROUP BY warehouse_id, day),
idx AS MATERIALIZED (
  SELECT cw.category, cw.warehouse_id, cw.day, cw.num, cw.den,
    GREATEST(COALESCE(wh.num / NULLIF(wh.den, 0), 1)
      * COALESCE((SUM(cw.num) OVER win / NULLIF(SUM(cw.den) OVER win, 0))
                 / NULLIF(SUM(wh.num) OVER win / NULLIF(SUM(wh.den) OVER win, 0), 0), 1), {floor}) AS idx
  FROM cw JOIN wh ON wh.warehouse_id = cw.warehouse_id AND wh.day = cw.day)
""".replace(  # the centred week, spelt out: sqlglot's MySQL writer has no named windows
    "OVER win",
    # NULLS FIRST (no day is NULL): MySQL has no NULLS LAST, which sqlglot would add for DuckDB's default
    "OVER (PARTITION BY cw.category, cw.warehouse_id ORDER BY cw.day NULLS FIRST ROWS BETWEEN 3 PRECEDING AND 3 FOLLOWING)",
)

_INDEX_SELECT = """
SELECT category, warehouse_id, day, num, den, idx FROM idx ORDER BY category, warehouse_id, day
"""

# y = deseasonalised demand; w_s / w_l = recency weights with the short / long half-life.
_PAIR_SELECT = """,
y AS (
  SELECT d.sku_id, d.warehouse_id, d.day, d.in_stock, d.qty, d.qty / x.idx AS y,
         POWER(0.5, DATE_DIFF('day', d.day, DATE '{as_of}') / CAST({short} AS DOUBLE)) AS w_s,
         POWER(0.5, DATE_DIFF('day', d.day, DATE '{as_of}') / CAST({long} AS DOUBLE)) AS w_l
  FROM daily d JOIN idx x ON x.category = d.category AND x.warehouse_id = d.warehouse_id AND x.day = d.day),
stats AS (
  SELECT sku_id, warehouse_id, COUNT(*) AS days_active,
    SUM(CASE WHEN in_stock THEN 1 ELSE 0 END) AS days_in_stock,
    SUM(CASE WHEN in_stock THEN w_s ELSE 0 END) AS sw_s, SUM(CASE WHEN in_stock THEN w_s * y ELSE 0 END) AS swy_s,
    SUM(CASE WHEN in_stock THEN w_s * y * y ELSE 0 END) AS swyy_s,
    SUM(CASE WHEN in_stock THEN w_l ELSE 0 END) AS sw_l, SUM(CASE WHEN in_stock THEN w_l * y ELSE 0 END) AS swy_l,
    SUM(CASE WHEN in_stock THEN w_l * y * y ELSE 0 END) AS swyy_l,
    SUM(CASE WHEN in_stock AND qty > 0 THEN 1 ELSE 0 END) AS demand_days,
    SUM(CASE WHEN in_stock AND qty > 0 THEN y ELSE 0 END) AS size_sum,
    SUM(CASE WHEN in_stock AND qty > 0 THEN y * y ELSE 0 END) AS size_sq,
    SUM(qty) AS units_year,
    SUM(CASE WHEN day > DATE '{as_of}' - INTERVAL {slow} DAY THEN qty ELSE 0 END) AS units_90d,
    MAX(CASE WHEN qty > 0 THEN day END) AS last_sale, MIN(day) AS first_day
  FROM y GROUP BY sku_id, warehouse_id),
revenue AS (
  SELECT sku_id, SUM(revenue) AS revenue FROM fact_sales
  WHERE order_date BETWEEN DATE '{start}' AND DATE '{as_of}' GROUP BY sku_id)
SELECT i.sku_id, k.sku_name, k.sku_name_en, k.category, k.category_en, k.brand, k.supplier_id,
       p.supplier_name, CAST(k.unit_cost AS DOUBLE) AS unit_cost, i.warehouse_id, w.warehouse_name,
       i.on_hand_qty, i.in_transit_qty, COALESCE(CAST(r.revenue AS DOUBLE), 0) AS sku_revenue,
       s.days_active, s.days_in_stock, s.sw_s, s.swy_s, s.swyy_s, s.sw_l, s.swy_l, s.swyy_l, s.demand_days,
       s.size_sum, s.size_sq, s.units_year, s.units_90d, s.last_sale, s.first_day
FROM fact_inventory_daily i
JOIN stats s ON s.sku_id = i.sku_id AND s.warehouse_id = i.warehouse_id
JOIN dim_sku k ON k.sku_id = i.sku_id
JOIN dim_warehouse w ON w.warehouse_id = i.warehouse_id
LEFT JOIN dim_supplier p ON p.supplier_id = k.supplier_id
LEFT JOIN revenue r ON r.sku_id = i.sku_id
WHERE i.snapshot_date = DATE '{as_of}'
ORDER BY i.sku_id, i.warehouse_id
"""

_CHANNEL_SQL = """
SELECT st.warehouse_id, st.channel, SUM(f.quantity) AS units
FROM fact_sales f JOIN dim_store st ON st.store_id = f.store_id
WHERE f.order_date BETWEEN DATE '{start}' AND DATE '{as_of}'
GROUP BY st.warehouse_id, st.channel ORDER BY st.warehouse_id, st.channel
"""

_PROMO_SQL = """
SELECT channel, start_date, end_date FROM dim_promotion WHERE end_date >= DATE '{start}'
ORDER BY start_date, channel
"""

# Observed lead times of orders that had time to arrive; quoted figures for suppliers without any.
_LEAD_SQL = """
SELECT s.supplier_id, s.lead_time_days AS quoted, s.lead_time_std_days AS quoted_sd,
       COUNT(po.po_id) AS n, AVG(CAST(DATE_DIFF('day', po.order_date, po.received_date) AS DOUBLE)) AS observed,
       STDDEV_SAMP(CAST(DATE_DIFF('day', po.order_date, po.received_date) AS DOUBLE)) AS observed_sd
FROM dim_supplier s LEFT JOIN fact_purchase_order po
  ON po.supplier_id = s.supplier_id AND po.received_date IS NOT NULL AND po.received_date <= DATE '{as_of}'
 AND po.order_date BETWEEN DATE '{start}' AND DATE '{as_of}' - INTERVAL {settle} DAY
GROUP BY s.supplier_id, s.lead_time_days, s.lead_time_std_days ORDER BY s.supplier_id
"""

_MULTIPLE_SQL = """
SELECT sku_id, quantity FROM fact_purchase_order
WHERE order_date <= DATE '{as_of}' AND quantity > 0 GROUP BY sku_id, quantity ORDER BY sku_id, quantity
"""
