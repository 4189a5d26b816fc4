"""Semantic-layer overhead: compiled SQL vs the SQL an analyst would write by hand, same process.

For sixteen representative questions (shares, per-bucket comparisons and
end-of-period snapshots among them), both SQL texts run on the same DuckDB connection,
interleaved, ``--repeat`` times each after a warm-up; the ratio is median(compiled) /
median(hand-written). Also reports the compiler's own time (p50 over many compilations).
Targets: median ratio <= 1.10, worst <= 1.5, compile p50 < 5 ms.

    python benchmarks/semantic_layer_bench.py --db chatbi.duckdb [--repeat 7]

Prints a markdown table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

import duckdb

from semantic_layer.compiler import compile_query
from semantic_layer.query import MetricQuery, Period
from semantic_layer.semantic_model import load_model

YEAR = Period(start=dt.date(2025, 1, 1), end=dt.date(2025, 12, 31))
Q4 = Period(start=dt.date(2025, 10, 1), end=dt.date(2025, 12, 31))
WEEKS = Period(start=dt.date(2025, 9, 29), end=dt.date(2025, 12, 28))  # 13 Monday-Sunday weeks
Y, Q = "DATE '2025-01-01' AND DATE '2025-12-31'", "DATE '2025-10-01' AND DATE '2025-12-31'"


def _avg_balance(table: str, opened: str) -> str:
    return f"""(SELECT SUM(t.amount) FROM range(DATE '2025-01-01', DATE '2026-01-01', INTERVAL 1 DAY) d(day)
        JOIN {table} t ON t.{opened} <= d.day AND (t.paid_date IS NULL OR t.paid_date > d.day)) / 365.0"""


CASES: list[tuple[str, MetricQuery, str]] = [
    (
        "gmv, 2025",
        MetricQuery(metrics=["gmv"], period=YEAR),
        f"SELECT SUM(revenue) FROM fact_sales WHERE order_date BETWEEN {Y}",
    ),
    (
        "gross margin by month",
        MetricQuery(metrics=["gross_margin"], grain="month", period=YEAR),
        f"""SELECT date_trunc('month', order_date) AS m, (SUM(revenue) - SUM(cogs)) / SUM(revenue)
            FROM fact_sales WHERE order_date BETWEEN {Y} GROUP BY 1 ORDER BY 1""",
    ),
    (
        "gmv + orders by channel, Q4",
        MetricQuery(metrics=["gmv", "orders"], dimensions=["channel"], period=Q4),
        f"""SELECT st.channel, SUM(s.revenue), COUNT(DISTINCT s.order_id) FROM fact_sales s
            JOIN dim_store st ON st.store_id = s.store_id WHERE s.order_date BETWEEN {Q} GROUP BY 1 ORDER BY 1""",
    ),
    (
        "top 20 SKUs by gmv",
        MetricQuery(metrics=["gmv"], dimensions=["sku"], period=YEAR, order_by={"field": "gmv"}, limit=20),
        f"""SELECT sku_id, SUM(revenue) AS gmv FROM fact_sales WHERE order_date BETWEEN {Y}
            GROUP BY 1 ORDER BY gmv DESC LIMIT 20""",
    ),
    (
        "dio by category",
        MetricQuery(metrics=["dio"], dimensions=["category"], period=YEAR),
        f"""WITH inv AS (SELECT k.category, SUM(i.inventory_value) / 365.0 AS v FROM fact_inventory_daily i
                           JOIN dim_sku k ON k.sku_id = i.sku_id WHERE i.snapshot_date BETWEEN {Y} GROUP BY 1),
                 c AS (SELECT k.category, SUM(s.cogs) / 365.0 AS v FROM fact_sales s
                         JOIN dim_sku k ON k.sku_id = s.sku_id WHERE s.order_date BETWEEN {Y} GROUP BY 1)
            SELECT inv.category, inv.v / c.v FROM inv JOIN c ON c.category = inv.category ORDER BY 1""",
    ),
    (
        "stockout rate by warehouse, month",
        MetricQuery(metrics=["stockout_rate"], grain="month", dimensions=["warehouse"], period=YEAR),
        f"""SELECT date_trunc('month', snapshot_date), warehouse_id, AVG(CASE WHEN on_hand_qty = 0 THEN 1.0 ELSE 0 END)
            FROM fact_inventory_daily WHERE snapshot_date BETWEEN {Y} GROUP BY 1, 2 ORDER BY 1, 2""",
    ),
    (
        "conversion rate by channel",
        MetricQuery(metrics=["conversion_rate"], dimensions=["channel"], period=YEAR),
        f"""WITH o AS (SELECT st.channel, COUNT(DISTINCT s.order_id) AS n FROM fact_sales s
                         JOIN dim_store st ON st.store_id = s.store_id WHERE s.order_date BETWEEN {Y} GROUP BY 1),
                 v AS (SELECT st.channel, SUM(t.visitors) AS n FROM fact_traffic_daily t
                         JOIN dim_store st ON st.store_id = t.store_id WHERE t.date BETWEEN {Y} GROUP BY 1)
            SELECT v.channel, o.n / v.n FROM v JOIN o ON o.channel = v.channel ORDER BY 1""",
    ),
    (
        "cash conversion cycle, 2025",
        MetricQuery(metrics=["ccc"], period=YEAR),
        f"""SELECT (SELECT SUM(inventory_value) / 365.0 FROM fact_inventory_daily WHERE snapshot_date BETWEEN {Y})
                     / (SELECT SUM(cogs) / 365.0 FROM fact_sales WHERE order_date BETWEEN {Y})
                 + {_avg_balance("fact_receivable", "invoice_date")}
                     / (SELECT SUM(revenue) / 365.0 FROM fact_sales WHERE order_date BETWEEN {Y})
                 - {_avg_balance("fact_payable", "bill_date")}
                     / (SELECT SUM(cogs) / 365.0 FROM fact_sales WHERE order_date BETWEEN {Y})""",
    ),
    (
        "gmv by category, yoy",
        MetricQuery(metrics=["gmv"], dimensions=["category"], period=YEAR, compare="yoy"),
        f"""WITH c AS (SELECT k.category, SUM(s.revenue) AS v FROM fact_sales s JOIN dim_sku k ON k.sku_id = s.sku_id
                        WHERE s.order_date BETWEEN {Y} GROUP BY 1),
                 p AS (SELECT k.category, SUM(s.revenue) AS v FROM fact_sales s JOIN dim_sku k ON k.sku_id = s.sku_id
                        WHERE s.order_date BETWEEN DATE '2024-01-01' AND DATE '2024-12-31' GROUP BY 1)
            SELECT c.category, c.v, p.v, c.v / p.v - 1 FROM c LEFT JOIN p ON p.category = c.category ORDER BY 1""",
    ),
    (
        "AR over 60 days by customer type",
        MetricQuery(metrics=["ar_over_60_share"], dimensions=["customer_type"], period=YEAR),
        """SELECT c.customer_type,
                  SUM(CASE WHEN DATE '2025-12-31' - r.invoice_date > 60 THEN r.amount ELSE 0 END) / SUM(r.amount)
           FROM fact_receivable r JOIN dim_customer c ON c.customer_id = r.customer_id
           WHERE r.invoice_date <= DATE '2025-12-31' AND (r.paid_date IS NULL OR r.paid_date > DATE '2025-12-31')
           GROUP BY 1 ORDER BY 1""",
    ),
    # Additions 2026-12: shares, per-bucket comparisons, end-of-period snapshots.
    (
        "gmv share by category, top 5",
        MetricQuery(
            metrics=["gmv"], dimensions=["category"], period=YEAR, share=True, order_by={"field": "gmv"}, limit=5
        ),
        f"""WITH c AS (SELECT k.category, SUM(s.revenue) AS v FROM fact_sales s JOIN dim_sku k ON k.sku_id = s.sku_id
                        WHERE s.order_date BETWEEN {Y} GROUP BY 1)
            SELECT category, v, v / SUM(v) OVER () FROM c ORDER BY v DESC LIMIT 5""",
    ),
    (
        "gmv by month vs the month before",
        MetricQuery(metrics=["gmv"], grain="month", period=YEAR, compare="pop"),
        """WITH m AS (SELECT date_trunc('month', order_date) AS m, SUM(revenue) AS v FROM fact_sales
                       WHERE order_date BETWEEN DATE '2024-12-01' AND DATE '2025-12-31' GROUP BY 1),
                 l AS (SELECT m, v, LAG(v) OVER (ORDER BY m) AS p FROM m)
            SELECT m, v, p, v / p - 1 FROM l WHERE m >= DATE '2025-01-01' ORDER BY m""",
    ),
    (
        "gmv by channel and week, 13 weeks, vs the week before",
        MetricQuery(metrics=["gmv"], grain="week", dimensions=["channel"], period=WEEKS, compare="pop"),
        """WITH w AS (SELECT date_trunc('week', s.order_date) AS w, st.channel, SUM(s.revenue) AS v FROM fact_sales s
                       JOIN dim_store st ON st.store_id = s.store_id
                       WHERE s.order_date BETWEEN DATE '2025-09-22' AND DATE '2025-12-28' GROUP BY 1, 2),
                 l AS (SELECT w, channel, v, LAG(v) OVER (PARTITION BY channel ORDER BY w) AS p FROM w)
            SELECT w, channel, v, p, v / p - 1 FROM l WHERE w >= DATE '2025-09-29' ORDER BY w, channel""",
    ),
    (
        "stock on hand by category, end of 2025",
        MetricQuery(metrics=["on_hand_units", "inventory_value_end"], dimensions=["category"], period=YEAR),
        """SELECT k.category, SUM(i.on_hand_qty), SUM(i.inventory_value) FROM fact_inventory_daily i
           JOIN dim_sku k ON k.sku_id = i.sku_id WHERE i.snapshot_date = DATE '2025-12-31' GROUP BY 1 ORDER BY 1""",
    ),
    (
        "stock on hand by warehouse, each month-end",
        MetricQuery(metrics=["on_hand_units"], grain="month", dimensions=["warehouse"], period=YEAR),
        """SELECT date_trunc('month', snapshot_date), warehouse_id, SUM(on_hand_qty) FROM fact_inventory_daily
           WHERE snapshot_date BETWEEN DATE '2025-01-01' AND DATE '2025-12-31'
             AND snapshot_date = last_day(snapshot_date) GROUP BY 1, 2 ORDER BY 1, 2""",
    ),
    (
        "AR balance by customer, end of 2025, with share",
        MetricQuery(metrics=["ar_balance"], dimensions=["customer"], period=YEAR, share=True),
        """WITH b AS (SELECT customer_id, SUM(amount) AS v FROM fact_receivable
                       WHERE invoice_date <= DATE '2025-12-31' AND (paid_date IS NULL OR paid_date > DATE '2025-12-31')
                       GROUP BY 1)
            SELECT customer_id, v, v / SUM(v) OVER () FROM b ORDER BY 1""",
    ),
]


def _time(con: duckdb.DuckDBPyConnection, sql: str) -> float:
    started = time.perf_counter()
    con.execute(sql).fetchall()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=Path("chatbi.duckdb"), help="DuckDB warehouse (case scale).")
    parser.add_argument("--repeat", type=int, default=7, help="Timed runs per query and side.")
    parser.add_argument("--compiles", type=int, default=50, help="Compilations per query for compile time.")
    args = parser.parse_args(argv)
    if not args.db.is_file():
        print(f"error: database not found: {args.db}", file=sys.stderr)
        return 2
    model = load_model()
    con = duckdb.connect(str(args.db), read_only=True)
    rows, ratios, compile_times = [], [], []
    for name, query, handwritten in CASES:
        for _ in range(args.compiles):
            started = time.perf_counter()
            compiled_sql = compile_query(query, model).sql
            compile_times.append(time.perf_counter() - started)
        _time(con, compiled_sql), _time(con, handwritten)  # warm-up
        compiled, hand = [], []
        for _ in range(args.repeat):
            compiled.append(_time(con, compiled_sql))
            hand.append(_time(con, handwritten))
        c_med, h_med = statistics.median(compiled), statistics.median(hand)
        ratios.append(c_med / h_med)
        rows.append(f"| {name} | {c_med * 1000:.1f} | {h_med * 1000:.1f} | {c_med / h_med:.2f} |")
    con.close()
    compile_p50 = statistics.median(compile_times) * 1000
    print(f"Semantic layer benchmark on `{args.db}` (DuckDB {duckdb.__version__}, {args.repeat} runs each)\n")
    print("| query | compiled SQL (ms) | hand-written SQL (ms) | ratio |")
    print("|---|---:|---:|---:|")
    print("\n".join(rows))
    median, worst = statistics.median(ratios), max(ratios)
    print(f"\nmedian ratio {median:.2f} (target <= 1.10), worst {worst:.2f} (target <= 1.5), "
          f"compile p50 {compile_p50:.2f} ms (target < 5 ms)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
