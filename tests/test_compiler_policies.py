"""Role policies and refusals are enforced by the compiler itself, whatever the plan says."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from semantic_layer.compiler import compile_query
from semantic_layer.errors import (
    PolicyDeniedError,
    QueryError,
    UnknownDimensionError,
    UnknownMetricError,
    UnsupportedCutError,
)
from semantic_layer.query import MetricQuery, Period, Principal
from semantic_layer.semantic_model import load_model

P = Period(start=dt.date(2025, 1, 1), end=dt.date(2025, 3, 31))
MANAGER = Principal(role="store_manager", store_id="st01")


def query(metrics: list[str], **kwargs) -> MetricQuery:
    return MetricQuery(metrics=metrics, period=P, **kwargs)


@pytest.fixture(scope="module")
def con(demo_db: Path) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(str(demo_db), read_only=True)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def store(con) -> str:
    """A store that has sales in P (codes come from the demo data)."""
    return con.execute("SELECT store_id FROM fact_sales GROUP BY 1 ORDER BY COUNT(*) DESC LIMIT 1").fetchone()[0]


def test_store_manager_sees_only_their_store(con, store: str) -> None:
    manager = Principal(role="store_manager", store_id=store)
    for metrics, dims in [(["gmv", "orders"], ["store"]), (["conversion_rate"], ["store"])]:
        mine = compile_query(query(metrics, dimensions=dims), principal=manager)
        rows = con.execute(mine.sql).fetchall()
        assert len(rows) == 1
        everyone = dict(
            (r[0], r[1:]) for r in con.execute(compile_query(query(metrics, dimensions=dims)).sql).fetchall()
        )
        assert len(everyone) > 1
        assert rows[0][1:] == everyone[rows[0][0]]
    total = con.execute(compile_query(query(["gmv"]), principal=manager).sql).fetchone()[0]
    ((_, by_channel),) = con.execute(
        compile_query(query(["gmv"], dimensions=["channel"]), principal=manager).sql
    ).fetchall()
    (own,) = con.execute(
        "SELECT SUM(revenue) FROM fact_sales WHERE store_id = ? AND order_date BETWEEN ? AND ?",
        [store, P.start, P.end],
    ).fetchone()
    assert total == own == by_channel


def test_store_manager_row_filter_reaches_the_comparison_period_too(con, store: str) -> None:
    manager = Principal(role="store_manager", store_id=store)
    compiled = compile_query(query(["gmv"], compare="yoy"), principal=manager)
    (_, previous, _) = con.execute(compiled.sql).fetchone()
    (own,) = con.execute(
        "SELECT SUM(revenue) FROM fact_sales WHERE store_id = ? AND order_date BETWEEN ? AND ?",
        [store, dt.date(2024, 1, 1), dt.date(2024, 3, 31)],
    ).fetchone()
    assert previous == own


@pytest.mark.parametrize(
    "metric", ["dso", "dpo", "ccc", "ar_over_60_share", "ar_balance", "dio", "marketing_spend", "promo_roi"]
)
def test_store_manager_denied_what_cannot_be_limited_to_their_store(metric: str) -> None:
    with pytest.raises(PolicyDeniedError):
        compile_query(query([metric]), principal=MANAGER)


def test_store_manager_cannot_ask_for_another_store() -> None:
    with pytest.raises(PolicyDeniedError, match="only read store 'st01'"):
        compile_query(query(["gmv"], filters=[{"dimension": "store", "members": ["st02"]}]), principal=MANAGER)


def test_store_manager_without_a_store_is_denied() -> None:
    with pytest.raises(PolicyDeniedError, match="store_id"):
        compile_query(query(["gmv"]), principal=Principal(role="store_manager"))


@pytest.mark.parametrize(
    "metric", ["ar_balance", "ap_balance", "dso", "dpo", "ccc", "ar_over_60_share", "dio", "stockout_rate"]
)
def test_marketing_never_sees_ar_ap_or_inventory(metric: str) -> None:
    with pytest.raises(PolicyDeniedError, match="marketing"):
        compile_query(query(["gmv", metric]), principal=Principal(role="marketing"))


@pytest.mark.parametrize("metric", ["gmv", "gross_margin", "promo_roi", "cpe", "conversion_rate"])
def test_marketing_reads_sales_marketing_and_traffic(metric: str) -> None:
    compile_query(query([metric]), principal=Principal(role="marketing"))


@pytest.mark.parametrize("role", ["admin", "finance"])
def test_admin_and_finance_read_everything(role: str) -> None:
    compile_query(query(list(load_model().metrics)), principal=Principal(role=role))


def test_unknown_role_is_refused() -> None:
    with pytest.raises(PolicyDeniedError, match="unknown role"):
        compile_query(query(["gmv"]), principal=Principal(role="intern"))


@pytest.mark.parametrize(
    ("metric", "dimension", "can"),
    [
        ("dio", "channel", "category"),
        ("inventory_turnover", "store", "brand"),
        ("ccc", "category", "date"),
        ("dso", "customer", "date"),
        ("dpo", "supplier", "date"),
        ("conversion_rate", "sku", "channel"),
        ("marketing_spend", "category", "channel"),
        ("promo_roi", "channel", "promotion"),
        ("slow_moving_share", "warehouse", "category"),
        ("ar_over_60_share", "channel", "customer"),
    ],
)
def test_fan_out_cuts_are_refused_naming_what_the_metric_can_take(metric: str, dimension: str, can: str) -> None:
    with pytest.raises(UnsupportedCutError) as caught:
        compile_query(query([metric], dimensions=[dimension]))
    assert f"cannot be broken down by {dimension}" in str(caught.value) and can in str(caught.value)
    assert caught.value.allowed == load_model().metric_dimensions(metric)
    with pytest.raises(UnsupportedCutError, match="cannot be filtered"):
        compile_query(query([metric], filters=[{"dimension": dimension, "members": ["x"]}]))


def test_unknown_metric_gets_suggestions() -> None:
    with pytest.raises(UnknownMetricError) as caught:
        compile_query(query(["gross_margn"]))
    assert "gross_margin" in caught.value.suggestions
    with pytest.raises(UnknownMetricError) as caught:
        compile_query(query(["毛利率"]))
    assert caught.value.suggestions[0] == "gross_margin"


def test_unknown_dimension_and_member_and_order_are_refused() -> None:
    with pytest.raises(UnknownDimensionError, match="did you mean category"):
        compile_query(query(["gmv"], dimensions=["品类"]))
    with pytest.raises(QueryError, match="unknown channel 'taobao'"):
        compile_query(query(["gmv"], filters=[{"dimension": "channel", "members": ["taobao"]}]))
    with pytest.raises(QueryError, match="cannot order by 'dio'"):
        compile_query(query(["gmv"], order_by={"field": "dio"}))


def test_grain_given_as_a_dimension_is_accepted() -> None:
    assert query(["gmv"], dimensions=["month", "channel"]).grain == "month"
    with pytest.raises(ValueError, match="at most one time grain"):
        query(["gmv"], dimensions=["month", "year"])


def test_period_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="before it starts"):
        Period(start=dt.date(2025, 2, 1), end=dt.date(2025, 1, 1))
