"""Share of total (占比): each row over the total of every row the same filters and period select,
before any ranking limit; refused for ratio metrics (DATA_CONTRACT.md, Additions 2026-12)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from semantic_layer.compiler import compile_query
from semantic_layer.errors import QueryError, ShareNotDefinedError
from semantic_layer.query import MetricQuery, Period
from tests.test_compiler_metrics import same

P = Period(start=dt.date(2025, 4, 1), end=dt.date(2025, 6, 30))
WHERE = {"start": P.start, "end": P.end}


@pytest.fixture(scope="module")
def con(demo_db: Path) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(str(demo_db), read_only=True)
    yield connection
    connection.close()


def shares(con, sql: str, params: dict | None = None) -> dict:
    """Hand-written: each key's value over the sum of every key's value."""
    values = dict(con.execute(sql, params if params is not None else WHERE).fetchall())
    total = sum(float(v) for v in values.values())
    return {k: float(v) / total for k, v in values.items()}


def test_share_of_gmv_by_channel_is_of_the_whole_even_when_a_limit_cuts_rows(con) -> None:
    want = shares(
        con,
        """SELECT st.channel, SUM(s.revenue) FROM fact_sales s JOIN dim_store st ON st.store_id = s.store_id
           WHERE s.order_date BETWEEN $start AND $end GROUP BY 1""",
    )
    query = MetricQuery(
        metrics=["gmv"], dimensions=["channel"], period=P, share=True, order_by={"field": "gmv"}, limit=2
    )
    compiled = compile_query(query)
    assert compiled.columns == ["channel", "gmv", "gmv_share"]
    rows = con.execute(compiled.sql).fetchall()
    assert len(rows) == 2 and sum(r[2] for r in rows) < 1
    assert all(same(share, want[channel]) for channel, _, share in rows)


def test_share_takes_the_filters_into_the_total(con) -> None:
    want = shares(
        con,
        """SELECT k.category, SUM(s.quantity) FROM fact_sales s JOIN dim_sku k ON k.sku_id = s.sku_id
           JOIN dim_store st ON st.store_id = s.store_id
           WHERE s.order_date BETWEEN $start AND $end AND st.channel IN ('tmall', 'jd') GROUP BY 1""",
    )
    query = MetricQuery(
        metrics=["units_sold"],
        dimensions=["category"],
        filters=[{"dimension": "channel", "members": ["tmall", "jd"]}],
        period=P,
        share=True,
    )
    got = {r[0]: r[2] for r in con.execute(compile_query(query).sql).fetchall()}
    assert set(got) == set(want) and all(same(got[k], want[k]) for k in want)


@pytest.mark.parametrize(
    ("metric", "dimension", "sql"),
    [
        ("on_hand_units", "warehouse",
         "SELECT warehouse_id, SUM(on_hand_qty) FROM fact_inventory_daily WHERE snapshot_date = $end GROUP BY 1"),
        ("ar_balance", "customer_type",
         """SELECT c.customer_type, SUM(r.amount) FROM fact_receivable r JOIN dim_customer c ON c.customer_id = r.customer_id
            WHERE r.invoice_date <= $end AND (r.paid_date IS NULL OR r.paid_date > $end) GROUP BY 1"""),
        ("marketing_spend", "channel",
         "SELECT channel, SUM(spend) FROM fact_marketing_daily WHERE date BETWEEN $start AND $end GROUP BY 1"),
        ("gross_profit", "brand",
         """SELECT k.brand, SUM(s.revenue - s.cogs) FROM fact_sales s JOIN dim_sku k ON k.sku_id = s.sku_id
            WHERE s.order_date BETWEEN $start AND $end GROUP BY 1"""),
    ],
)  # fmt: skip
def test_share_of_additive_metrics_matches_handwritten(con, metric: str, dimension: str, sql: str) -> None:
    params = {k: v for k, v in WHERE.items() if f"${k}" in sql}
    want = shares(con, sql, params)
    query = MetricQuery(metrics=[metric], dimensions=[dimension], period=P, share=True)
    got = {r[0]: r[2] for r in con.execute(compile_query(query).sql).fetchall()}
    assert len(want) > 1 and set(got) == set(want)
    assert all(same(got[k], want[k]) for k in want)


def test_share_with_a_comparison_and_a_grain(con) -> None:
    query = MetricQuery(metrics=["gmv"], grain="month", period=P, share=True, compare="yoy")
    compiled = compile_query(query)
    assert compiled.columns == ["month", "gmv", "gmv_previous", "gmv_growth", "gmv_share"]
    rows = con.execute(compiled.sql).fetchall()
    total = sum(r[1] for r in rows)
    assert len(rows) == 3 and all(same(r[4], float(r[1] / total)) for r in rows)


@pytest.mark.parametrize(
    "metric", ["gross_margin", "dio", "aov", "fulfillment_error_rate", "avg_inventory_value", "stockout_rate"]
)
def test_share_of_a_ratio_metric_is_refused_with_an_explanation(metric: str) -> None:
    with pytest.raises(ShareNotDefinedError) as caught:
        compile_query(MetricQuery(metrics=["gmv", metric], dimensions=["category"], period=P, share=True))
    assert caught.value.metric == metric and caught.value.kind == "share_not_defined"
    assert "占比" in str(caught.value) and "share of total" in str(caught.value) and "品类" in str(caught.value)
    assert isinstance(caught.value, QueryError)


def test_share_needs_a_breakdown() -> None:
    with pytest.raises(QueryError, match="needs a breakdown"):
        compile_query(MetricQuery(metrics=["gmv"], period=P, share=True))


def test_share_column_can_be_ordered_by(con) -> None:
    query = MetricQuery(
        metrics=["gmv"], dimensions=["sku"], period=P, share=True, order_by={"field": "gmv_share"}, limit=5
    )
    rows = con.execute(compile_query(query).sql).fetchall()
    assert [r[2] for r in rows] == sorted((r[2] for r in rows), reverse=True)
