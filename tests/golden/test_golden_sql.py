"""The compiled SQL of representative queries, per dialect, is pinned in reviewable files.

DuckDB, PostgreSQL, MySQL (MariaDB), ClickHouse (chdb) and Spark are the engines the tests execute
(tests/test_cross_engine.py); StarRocks and Doris (the MySQL family's rewrites, semantic_layer/
dialects.py), Snowflake, BigQuery and Trino are compiled only, kept to show (and review)
that the model is portable. A change in any of them shows up as a file diff.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlglot

from semantic_layer.compiler import compile_attributes, compile_query
from semantic_layer.query import AttributeQuery, MetricQuery, Period, Principal

GOLDEN = Path(__file__).parent / "sql"
DIALECTS = ["duckdb", "postgres", "mysql", "clickhouse", "starrocks", "doris", "snowflake", "bigquery", "trino", "spark"]
Q1 = Period(start=dt.date(2025, 1, 1), end=dt.date(2025, 3, 31))
YEAR = Period(start=dt.date(2025, 1, 1), end=dt.date(2025, 12, 31))

CASES: dict[str, tuple[MetricQuery, Principal]] = {
    "gmv_total": (MetricQuery(metrics=["gmv"], period=Q1), Principal()),
    "gross_margin_by_month_category": (
        MetricQuery(metrics=["gross_margin", "gmv"], grain="month", dimensions=["category"], period=Q1),
        Principal(),
    ),
    "gmv_by_channel_tmall_jd_yoy": (
        MetricQuery(
            metrics=["gmv"],
            dimensions=["channel"],
            filters=[{"dimension": "channel", "members": ["tmall", "jd"]}],
            period=Q1,
            compare="yoy",
        ),
        Principal(),
    ),
    "dio_by_category_top5": (
        MetricQuery(metrics=["dio"], dimensions=["category"], period=Q1, order_by={"field": "dio"}, limit=5),
        Principal(role="finance"),
    ),
    "ccc_by_month_pop": (MetricQuery(metrics=["ccc"], grain="month", period=Q1, compare="pop"), Principal()),
    "conversion_rate_by_channel": (
        MetricQuery(metrics=["conversion_rate"], dimensions=["channel"], period=Q1),
        Principal(),
    ),
    "slow_moving_share_by_category": (
        MetricQuery(metrics=["slow_moving_share"], dimensions=["category"], period=YEAR),
        Principal(),
    ),
    "promo_roi_by_promotion": (MetricQuery(metrics=["promo_roi"], dimensions=["promotion"], period=YEAR), Principal()),
    "ar_over_60_share_by_quarter": (
        MetricQuery(metrics=["ar_over_60_share", "dso"], grain="quarter", period=YEAR),
        Principal(),
    ),
    "stock_on_hand_by_category_month": (
        MetricQuery(
            metrics=["on_hand_units", "inventory_value_end", "in_transit_units"],
            grain="month",
            dimensions=["category"],
            period=Q1,
        ),
        Principal(),
    ),
    "ar_balance_by_customer": (MetricQuery(metrics=["ar_balance"], dimensions=["customer"], period=Q1), Principal()),
    "gmv_share_by_category_top5": (
        MetricQuery(
            metrics=["gmv"], dimensions=["category"], period=Q1, share=True, order_by={"field": "gmv"}, limit=5
        ),
        Principal(),
    ),
    "gmv_on_hand_by_month_pop": (
        MetricQuery(metrics=["gmv", "on_hand_units"], grain="month", period=Q1, compare="pop"),
        Principal(),
    ),
    "gmv_by_week_pop_partial_weeks": (
        MetricQuery(metrics=["gmv"], grain="week", dimensions=["channel"], period=Q1, compare="pop"),
        Principal(),
    ),
    "store_manager_gmv_by_week": (
        MetricQuery(metrics=["gmv", "orders", "conversion_rate"], grain="week", period=Q1),
        Principal(role="store_manager", store_id="tmall_flagship"),
    ),
}


#: Attribute listings (no metric): compiled by compile_attributes.
ATTRIBUTE_CASES: dict[str, tuple[AttributeQuery, Principal]] = {
    "supplier_longest_payment_terms": (
        AttributeQuery(
            dimension="supplier", attributes=["payment_terms_days"], order_by={"field": "payment_terms_days"}, limit=10
        ),
        Principal(),
    ),
    "distributor_customers": (
        AttributeQuery(
            dimension="customer",
            filters=[{"dimension": "customer_type", "members": ["distributor"]}],
            conditions=[{"attribute": "payment_terms_days", "op": ">=", "value": 45}],
        ),
        Principal(role="finance"),
    ),
}


def _sql(case: str, dialect: str) -> str:
    if case in ATTRIBUTE_CASES:
        listing, principal = ATTRIBUTE_CASES[case]
        return compile_attributes(listing, principal=principal, dialect=dialect).sql_for(dialect, pretty=True)
    query, principal = CASES[case]
    return compile_query(query, principal=principal, dialect=dialect).sql_for(dialect, pretty=True)


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("case", sorted([*CASES, *ATTRIBUTE_CASES]))
def test_golden_sql(case: str, dialect: str, update_golden: bool) -> None:
    sql = _sql(case, dialect) + "\n"
    path = GOLDEN / f"{case}.{dialect}.sql"
    if update_golden:
        path.write_text(sql, encoding="utf-8")
        return
    assert path.exists(), f"{path.name} missing: run pytest tests/golden --update-golden"
    assert sql == path.read_text(encoding="utf-8"), f"{path.name} changed: review, then --update-golden"


@pytest.mark.parametrize("case", sorted([*CASES, *ATTRIBUTE_CASES]))
@pytest.mark.parametrize("dialect", ["duckdb", "postgres"])
def test_golden_sql_is_one_select_that_parses(case: str, dialect: str) -> None:
    statements = sqlglot.parse((GOLDEN / f"{case}.{dialect}.sql").read_text(encoding="utf-8"), read=dialect)
    assert len(statements) == 1 and isinstance(statements[0], sqlglot.exp.Select)


def test_store_manager_golden_sql_pins_the_store_everywhere() -> None:
    text = (GOLDEN / "store_manager_gmv_by_week.duckdb.sql").read_text(encoding="utf-8")
    assert text.count("IN ('tmall_flagship')") == 2  # the sales and the traffic side
