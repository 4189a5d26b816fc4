"""Independent, hand-written DuckDB SQL for every governed metric, straight from DATA_CONTRACT.md.

Deliberately written differently from the compiler (correlated subqueries for balances,
a daily ``range`` for averages, plain joins) so that the two agree only if both follow
the contract. ``$start`` and ``$end`` are the period's inclusive bounds.
"""

# ruff: noqa: E501  (SQL text and case tables read better unwrapped)
from __future__ import annotations

SALES = "SELECT {expr} FROM fact_sales WHERE order_date BETWEEN $start AND $end"
DAYS = "(CAST($end AS DATE) - CAST($start AS DATE) + 1)"
GMV = SALES.format(expr="SUM(revenue)")
COGS = SALES.format(expr="SUM(cogs)")
AVG_INV = (
    f"(SELECT SUM(inventory_value) FROM fact_inventory_daily WHERE snapshot_date BETWEEN $start AND $end) / {DAYS}"
)


def _avg_balance(table: str, doc_date: str) -> str:
    return f"""
    (SELECT AVG(balance) FROM (
        SELECT d.range AS day,
               (SELECT COALESCE(SUM(amount), 0) FROM {table} t
                 WHERE t.{doc_date} <= CAST(d.range AS DATE)
                   AND (t.paid_date IS NULL OR t.paid_date > CAST(d.range AS DATE))) AS balance
        FROM range(CAST($start AS DATE), CAST($end AS DATE) + INTERVAL 1 DAY, INTERVAL 1 DAY) AS d))"""


DIO = f"({AVG_INV}) / (({COGS}) / {DAYS})"
DSO = f"{_avg_balance('fact_receivable', 'invoice_date')} / (({GMV}) / {DAYS})"
DPO = f"{_avg_balance('fact_payable', 'bill_date')} / (({COGS}) / {DAYS})"

#: metric id -> a scalar query for the whole company over the period.
TOTALS: dict[str, str] = {
    "gmv": GMV,
    "units_sold": SALES.format(expr="SUM(quantity)"),
    "orders": SALES.format(expr="COUNT(DISTINCT order_id)"),
    "aov": SALES.format(expr="SUM(revenue) / COUNT(DISTINCT order_id)"),
    "cogs": COGS,
    "gross_profit": SALES.format(expr="SUM(revenue) - SUM(cogs)"),
    "gross_margin": SALES.format(expr="(SUM(revenue) - SUM(cogs)) / SUM(revenue)"),
    "avg_inventory_value": f"SELECT {AVG_INV}",
    "inventory_turnover": f"SELECT (({COGS}) / {DAYS} * 365) / ({AVG_INV})",
    "dio": f"SELECT {DIO}",
    "stockout_rate": """SELECT AVG(CASE WHEN on_hand_qty = 0 THEN 1.0 ELSE 0.0 END)
        FROM fact_inventory_daily WHERE snapshot_date BETWEEN $start AND $end""",
    "slow_moving_share": """
        WITH stocked AS (SELECT DISTINCT sku_id FROM fact_inventory_daily
                          WHERE snapshot_date = $end AND on_hand_qty > 0),
             sold AS (SELECT sku_id FROM fact_sales
                       WHERE order_date BETWEEN CAST($end AS DATE) - 89 AND $end
                       GROUP BY sku_id HAVING SUM(quantity) > 0)
        SELECT AVG(CASE WHEN sku_id IN (SELECT sku_id FROM sold) THEN 0.0 ELSE 1.0 END) FROM stocked""",
    "promo_roi": """
        SELECT (SELECT SUM(s.revenue - s.cogs) FROM fact_sales s JOIN dim_promotion p ON p.promo_id = s.promo_id
                 WHERE p.start_date BETWEEN $start AND $end)
             / (SELECT SUM(cost) FROM dim_promotion WHERE start_date BETWEEN $start AND $end)""",
    "dso": f"SELECT {DSO}",
    "dpo": f"SELECT {DPO}",
    "ccc": f"SELECT ({DIO}) + ({DSO}) - ({DPO})",
    "ar_over_60_share": """
        SELECT SUM(CASE WHEN CAST($end AS DATE) - invoice_date > 60 THEN amount ELSE 0 END) / SUM(amount)
        FROM fact_receivable WHERE invoice_date <= $end AND (paid_date IS NULL OR paid_date > $end)""",
    "conversion_rate": f"""SELECT ({SALES.format(expr="COUNT(DISTINCT order_id)")})
        / (SELECT SUM(visitors) FROM fact_traffic_daily WHERE date BETWEEN $start AND $end)""",
    "visitors": "SELECT SUM(visitors) FROM fact_traffic_daily WHERE date BETWEEN $start AND $end",
    "marketing_spend": "SELECT SUM(spend) FROM fact_marketing_daily WHERE date BETWEEN $start AND $end",
    "cpe": "SELECT SUM(spend) / SUM(engagements) FROM fact_marketing_daily WHERE date BETWEEN $start AND $end",
    "fulfillment_error_rate": """
        SELECT AVG(CASE WHEN has_error THEN 1.0 ELSE 0.0 END) FROM (
            SELECT order_id, BOOL_OR(fulfillment_error) AS has_error FROM fact_sales
            WHERE order_date BETWEEN $start AND $end GROUP BY order_id)""",
    "avg_ar_balance": f"SELECT {_avg_balance('fact_receivable', 'invoice_date')}",
    "avg_ap_balance": f"SELECT {_avg_balance('fact_payable', 'bill_date')}",
    # Point-in-time (Additions 2026-12): on the period's last day.
    "on_hand_units": "SELECT SUM(on_hand_qty) FROM fact_inventory_daily WHERE snapshot_date = $end",
    "inventory_value_end": "SELECT SUM(inventory_value) FROM fact_inventory_daily WHERE snapshot_date = $end",
    "in_transit_units": "SELECT SUM(in_transit_qty) FROM fact_inventory_daily WHERE snapshot_date = $end",
    "ar_balance": """SELECT SUM(amount) FROM fact_receivable
        WHERE invoice_date <= $end AND (paid_date IS NULL OR paid_date > $end)""",
    "ap_balance": """SELECT SUM(amount) FROM fact_payable
        WHERE bill_date <= $end AND (paid_date IS NULL OR paid_date > $end)""",
}

#: The last day inside the period of each month (the snapshot day of a point-in-time metric by month).
MONTH_ENDS = """SELECT CAST(MAX(d.range) AS DATE) AS day FROM range(CAST($start AS DATE), CAST($end AS DATE) + INTERVAL 1 DAY, INTERVAL 1 DAY) d
                GROUP BY date_trunc('month', d.range)"""

#: (metric, dimensions, grain) -> a grouped query returning the keys then the value.
BREAKDOWNS: dict[tuple[str, tuple[str, ...], str | None], str] = {
    ("gmv", ("channel",), None): """
        SELECT st.channel, SUM(s.revenue) FROM fact_sales s JOIN dim_store st ON st.store_id = s.store_id
        WHERE s.order_date BETWEEN $start AND $end GROUP BY 1""",
    ("gross_margin", ("category",), "month"): """
        SELECT CAST(date_trunc('month', s.order_date) AS DATE), k.category,
               (SUM(s.revenue) - SUM(s.cogs)) / SUM(s.revenue)
        FROM fact_sales s JOIN dim_sku k ON k.sku_id = s.sku_id
        WHERE s.order_date BETWEEN $start AND $end GROUP BY 1, 2""",
    ("orders", ("region", "channel_type"), None): """
        SELECT st.region, st.channel_type, COUNT(DISTINCT s.order_id)
        FROM fact_sales s JOIN dim_store st ON st.store_id = s.store_id
        WHERE s.order_date BETWEEN $start AND $end GROUP BY 1, 2""",
    ("units_sold", ("promotion",), None): """
        SELECT promo_id, SUM(quantity) FROM fact_sales WHERE order_date BETWEEN $start AND $end GROUP BY 1""",
    ("dio", ("category",), None): f"""
        WITH inv AS (SELECT k.category, SUM(i.inventory_value) / {DAYS} AS avg_inv
                       FROM fact_inventory_daily i JOIN dim_sku k ON k.sku_id = i.sku_id
                      WHERE i.snapshot_date BETWEEN $start AND $end GROUP BY 1),
             cg AS (SELECT k.category, SUM(s.cogs) AS cogs FROM fact_sales s JOIN dim_sku k ON k.sku_id = s.sku_id
                     WHERE s.order_date BETWEEN $start AND $end GROUP BY 1)
        SELECT inv.category, inv.avg_inv / (cg.cogs / {DAYS}) FROM inv JOIN cg ON cg.category = inv.category""",
    ("dio", (), "month"): """
        WITH m AS (SELECT CAST(date_trunc('month', d.range) AS DATE) AS month, COUNT(*) AS days
                     FROM range(CAST($start AS DATE), CAST($end AS DATE) + INTERVAL 1 DAY, INTERVAL 1 DAY) d
                    GROUP BY 1),
             inv AS (SELECT CAST(date_trunc('month', snapshot_date) AS DATE) AS month, SUM(inventory_value) AS v
                       FROM fact_inventory_daily WHERE snapshot_date BETWEEN $start AND $end GROUP BY 1),
             cg AS (SELECT CAST(date_trunc('month', order_date) AS DATE) AS month, SUM(cogs) AS c
                      FROM fact_sales WHERE order_date BETWEEN $start AND $end GROUP BY 1)
        SELECT m.month, (inv.v / m.days) / (cg.c / m.days) FROM m JOIN inv USING (month) JOIN cg USING (month)""",
    ("stockout_rate", ("warehouse",), None): """
        SELECT warehouse_id, AVG(CASE WHEN on_hand_qty = 0 THEN 1.0 ELSE 0.0 END) FROM fact_inventory_daily
        WHERE snapshot_date BETWEEN $start AND $end GROUP BY 1""",
    ("slow_moving_share", ("category",), None): """
        WITH stocked AS (SELECT DISTINCT i.sku_id, k.category FROM fact_inventory_daily i
                           JOIN dim_sku k ON k.sku_id = i.sku_id
                          WHERE i.snapshot_date = $end AND i.on_hand_qty > 0),
             sold AS (SELECT sku_id FROM fact_sales WHERE order_date BETWEEN CAST($end AS DATE) - 89 AND $end
                       GROUP BY sku_id HAVING SUM(quantity) > 0)
        SELECT category, AVG(CASE WHEN sku_id IN (SELECT sku_id FROM sold) THEN 0.0 ELSE 1.0 END)
        FROM stocked GROUP BY 1""",
    ("promo_roi", ("promotion",), None): """
        SELECT p.promo_id,
               (SELECT SUM(s.revenue - s.cogs) FROM fact_sales s WHERE s.promo_id = p.promo_id) / p.cost
        FROM dim_promotion p WHERE p.start_date BETWEEN $start AND $end""",
    ("conversion_rate", ("channel",), None): """
        WITH o AS (SELECT st.channel, COUNT(DISTINCT s.order_id) AS n FROM fact_sales s
                     JOIN dim_store st ON st.store_id = s.store_id
                    WHERE s.order_date BETWEEN $start AND $end GROUP BY 1),
             v AS (SELECT st.channel, SUM(t.visitors) AS n FROM fact_traffic_daily t
                     JOIN dim_store st ON st.store_id = t.store_id
                    WHERE t.date BETWEEN $start AND $end GROUP BY 1)
        SELECT v.channel, COALESCE(o.n, 0) / v.n FROM v LEFT JOIN o ON o.channel = v.channel""",
    ("cpe", ("channel",), "week"): """
        SELECT CAST(date_trunc('week', date) AS DATE), channel, SUM(spend) / SUM(engagements)
        FROM fact_marketing_daily WHERE date BETWEEN $start AND $end GROUP BY 1, 2""",
    ("ar_over_60_share", ("customer_type",), None): """
        SELECT c.customer_type,
               SUM(CASE WHEN CAST($end AS DATE) - r.invoice_date > 60 THEN r.amount ELSE 0 END) / SUM(r.amount)
        FROM fact_receivable r JOIN dim_customer c ON c.customer_id = r.customer_id
        WHERE r.invoice_date <= $end AND (r.paid_date IS NULL OR r.paid_date > $end) GROUP BY 1""",
    ("avg_ap_balance", ("supplier",), None): """
        SELECT * FROM (SELECT s.supplier_id, (SELECT COALESCE(SUM(b.amount), 0) FROM fact_payable b
               JOIN range(CAST($start AS DATE), CAST($end AS DATE) + INTERVAL 1 DAY, INTERVAL 1 DAY) d
                 ON b.bill_date <= CAST(d.range AS DATE) AND (b.paid_date IS NULL OR b.paid_date > CAST(d.range AS DATE))
              WHERE b.supplier_id = s.supplier_id) / (CAST($end AS DATE) - CAST($start AS DATE) + 1) AS v
        FROM dim_supplier s) WHERE v > 0""",
    ("on_hand_units", ("category",), "month"): f"""
        SELECT CAST(date_trunc('month', i.snapshot_date) AS DATE), k.category, SUM(i.on_hand_qty)
        FROM fact_inventory_daily i JOIN dim_sku k ON k.sku_id = i.sku_id
        WHERE i.snapshot_date IN ({MONTH_ENDS}) GROUP BY 1, 2""",
    ("inventory_value_end", ("warehouse",), None): """
        SELECT warehouse_id, SUM(inventory_value) FROM fact_inventory_daily WHERE snapshot_date = $end GROUP BY 1""",
    ("in_transit_units", ("brand",), None): """
        SELECT k.brand, SUM(i.in_transit_qty) FROM fact_inventory_daily i JOIN dim_sku k ON k.sku_id = i.sku_id
        WHERE i.snapshot_date = $end GROUP BY 1""",
    ("ar_balance", ("customer",), None): """
        SELECT customer_id, SUM(amount) FROM fact_receivable
        WHERE invoice_date <= $end AND (paid_date IS NULL OR paid_date > $end) GROUP BY 1""",
    ("ap_balance", (), "month"): f"""
        SELECT CAST(date_trunc('month', e.day) AS DATE), SUM(b.amount) FROM ({MONTH_ENDS}) e
        JOIN fact_payable b ON b.bill_date <= e.day AND (b.paid_date IS NULL OR b.paid_date > e.day) GROUP BY 1""",
    ("visitors", ("region",), "month"): """
        SELECT CAST(date_trunc('month', t.date) AS DATE), st.region, SUM(t.visitors)
        FROM fact_traffic_daily t JOIN dim_store st ON st.store_id = t.store_id
        WHERE t.date BETWEEN $start AND $end GROUP BY 1, 2""",
    ("fulfillment_error_rate", ("store",), "quarter"): """
        SELECT CAST(date_trunc('quarter', order_date) AS DATE), store_id,
               AVG(CASE WHEN has_error THEN 1.0 ELSE 0.0 END) FROM (
            SELECT order_id, store_id, MIN(order_date) AS order_date, BOOL_OR(fulfillment_error) AS has_error
            FROM fact_sales WHERE order_date BETWEEN $start AND $end GROUP BY order_id, store_id)
        GROUP BY 1, 2""",
}
