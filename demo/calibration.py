"""Where a demo build lands against the case's "before" state, with the contract's
definitions written out as plain SQL (independent of the semantic layer on purpose:
it is the yardstick the generator is tuned with and the tests check it by).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb

# The case's "before" figures (seed article) and the tolerance the issue allows.
CASE_TARGETS = {"stockout_rate": 0.12, "dio": 78.0, "gross_margin": 0.285, "ccc": 56.0}
CASE_TOLERANCE = 0.15


@dataclass(frozen=True)
class Figures:
    stockout_rate: float
    dio: float
    gross_margin: float
    dso: float
    dpo: float
    ccc: float
    top20_gmv_share: float
    slow_moving_share: float
    promo_roi: float
    ar_over_60_share: float
    conversion_rate: float
    cpe: float
    fulfillment_error_rate: float

    def case_gaps(self) -> dict[str, float]:
        """Relative distance of each calibrated figure from the case's target."""
        return {k: getattr(self, k) / v - 1 for k, v in CASE_TARGETS.items()}


_BALANCE = """
WITH days AS (SELECT CAST(d AS DATE) AS d FROM generate_series(CAST($start AS DATE), CAST($end AS DATE), INTERVAL 1 DAY) t(d))
SELECT AVG(bal) FROM (
  SELECT days.d, COALESCE(SUM(x.amount), 0) AS bal FROM days
  LEFT JOIN {table} x ON x.{doc_date} <= days.d AND (x.paid_date IS NULL OR x.paid_date > days.d)
  GROUP BY days.d)
"""


def measure(con: duckdb.DuckDBPyConnection, start: date, end: date) -> Figures:
    p = {"start": start, "end": end}
    n_days = (end - start).days + 1

    def one(sql: str) -> float:
        rows = con.execute(sql, {k: v for k, v in p.items() if f"${k}" in sql}).fetchall()
        return float(rows[0][0]) if rows and rows[0][0] is not None else float("nan")

    gmv = one("SELECT SUM(revenue) FROM fact_sales WHERE order_date BETWEEN $start AND $end")
    cogs = one("SELECT SUM(cogs) FROM fact_sales WHERE order_date BETWEEN $start AND $end")
    avg_inv = one("SELECT SUM(inventory_value) FROM fact_inventory_daily WHERE snapshot_date BETWEEN $start AND $end")
    avg_inv /= n_days
    dio = avg_inv / (cogs / n_days)
    dso = one(_BALANCE.format(table="fact_receivable", doc_date="invoice_date")) / (gmv / n_days)
    dpo = one(_BALANCE.format(table="fact_payable", doc_date="bill_date")) / (cogs / n_days)
    return Figures(
        stockout_rate=one(
            "SELECT AVG(CASE WHEN on_hand_qty = 0 THEN 1.0 ELSE 0.0 END) FROM fact_inventory_daily "
            "WHERE snapshot_date BETWEEN $start AND $end"
        ),
        dio=dio,
        gross_margin=(gmv - cogs) / gmv,
        dso=dso,
        dpo=dpo,
        ccc=dio + dso - dpo,
        top20_gmv_share=one(
            "SELECT SUM(g) FILTER (WHERE r <= 0.2) / SUM(g) FROM (SELECT SUM(revenue) AS g, "
            "PERCENT_RANK() OVER (ORDER BY SUM(revenue) DESC) AS r FROM fact_sales "
            "WHERE order_date BETWEEN $start AND $end GROUP BY sku_id)"
        ),
        slow_moving_share=one(
            "SELECT AVG(CASE WHEN s.sku_id IS NULL THEN 1.0 ELSE 0.0 END) FROM "
            "(SELECT DISTINCT sku_id FROM fact_inventory_daily WHERE snapshot_date = $end AND on_hand_qty > 0) i "
            "LEFT JOIN (SELECT DISTINCT sku_id FROM fact_sales WHERE quantity > 0 AND order_date "
            "BETWEEN CAST($end AS DATE) - INTERVAL 89 DAY AND $end) s ON s.sku_id = i.sku_id"
        ),
        promo_roi=one(
            "SELECT (SELECT SUM(revenue - cogs) FROM fact_sales f JOIN dim_promotion p USING (promo_id) "
            "WHERE p.start_date BETWEEN $start AND $end) / "
            "(SELECT SUM(cost) FROM dim_promotion WHERE start_date BETWEEN $start AND $end)"
        ),
        ar_over_60_share=one(
            "SELECT SUM(amount) FILTER (WHERE CAST($end AS DATE) - invoice_date > 60) / SUM(amount) "
            "FROM fact_receivable WHERE invoice_date <= $end AND (paid_date IS NULL OR paid_date > $end)"
        ),
        conversion_rate=one(
            "SELECT (SELECT COUNT(DISTINCT order_id) FROM fact_sales WHERE order_date BETWEEN $start AND $end) / "
            "(SELECT SUM(visitors) FROM fact_traffic_daily WHERE date BETWEEN $start AND $end)"
        ),
        cpe=one("SELECT SUM(spend) / SUM(engagements) FROM fact_marketing_daily WHERE date BETWEEN $start AND $end"),
        fulfillment_error_rate=one(
            "SELECT AVG(CASE WHEN e THEN 1.0 ELSE 0.0 END) FROM (SELECT order_id, BOOL_OR(fulfillment_error) AS e "
            "FROM fact_sales WHERE order_date BETWEEN $start AND $end GROUP BY order_id)"
        ),
    )
