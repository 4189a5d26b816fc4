"""Every governed metric, compiled and run on the small demo, equals hand-written contract SQL."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from semantic_layer.compiler import compile_query
from semantic_layer.query import MetricQuery, Period
from semantic_layer.semantic_model import load_model
from tests.handwritten_sql import BREAKDOWNS, TOTALS

PERIODS = [
    Period(start=dt.date(2025, 1, 1), end=dt.date(2025, 3, 31)),
    Period(start=dt.date(2024, 2, 10), end=dt.date(2024, 2, 29)),  # partial month, leap day
    Period(start=dt.date(2024, 11, 1), end=dt.date(2025, 6, 30)),  # spans a year end
]


@pytest.fixture(scope="module")
def con(demo_db: Path) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(str(demo_db), read_only=True)
    yield connection
    connection.close()


def handwritten(con: duckdb.DuckDBPyConnection, sql: str, period: Period) -> list[tuple]:
    params = {k: v for k, v in {"start": period.start, "end": period.end}.items() if f"${k}" in sql}
    return con.execute(sql, params).fetchall()


def same(a: object, b: object) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, Decimal) and isinstance(b, Decimal):
        return a == b  # money stays exact
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)  # type: ignore[arg-type]


def test_every_contract_metric_has_a_handwritten_check() -> None:
    assert set(TOTALS) == set(load_model().metrics)


@pytest.mark.parametrize("period", PERIODS, ids=lambda p: f"{p.start}..{p.end}")
@pytest.mark.parametrize("metric", sorted(TOTALS))
def test_metric_total_matches_handwritten(con, metric: str, period: Period) -> None:
    compiled = compile_query(MetricQuery(metrics=[metric], period=period))
    got = con.execute(compiled.sql).fetchall()
    (want,) = handwritten(con, TOTALS[metric], period)
    assert len(got) == 1
    assert want[0] is not None, "the demo should have data for this period"
    assert same(got[0][0], want[0]), f"{metric}: compiled {got[0][0]} != hand-written {want[0]}"


MONEY = {"gmv", "cogs", "gross_profit", "marketing_spend"}


@pytest.mark.parametrize("metric", sorted(MONEY))
def test_money_stays_exact(con, metric: str) -> None:
    compiled = compile_query(MetricQuery(metrics=[metric], period=PERIODS[0]))
    (value,) = con.execute(compiled.sql).fetchone()
    assert isinstance(value, Decimal)


@pytest.mark.parametrize("case", list(BREAKDOWNS), ids=lambda c: f"{c[0]}-by-{'+'.join(c[1]) or '-'}-{c[2]}")
def test_breakdown_matches_handwritten(con, case) -> None:
    metric, dims, grain = case
    period = PERIODS[2]
    compiled = compile_query(MetricQuery(metrics=[metric], dimensions=list(dims), grain=grain, period=period))
    got = {row[:-1]: row[-1] for row in con.execute(compiled.sql).fetchall()}
    want = {row[:-1]: row[-1] for row in handwritten(con, BREAKDOWNS[case], period)}
    assert len(want) > 1, "a breakdown should have several rows"
    assert set(got) == set(want)
    wrong = {k: (got[k], want[k]) for k in want if not same(got[k], want[k])}
    assert not wrong


def test_yoy_compares_with_the_same_dates_a_year_earlier(con) -> None:
    period = Period(start=dt.date(2025, 3, 1), end=dt.date(2025, 5, 31))
    query = MetricQuery(metrics=["gmv", "dio"], dimensions=["category"], period=period, compare="yoy")
    compiled = compile_query(query)
    assert compiled.columns == [
        "category",
        "gmv",
        "gmv_previous",
        "gmv_growth",
        "dio",
        "dio_previous",
        "dio_growth",
    ]
    rows = {r[0]: r for r in con.execute(compiled.sql).fetchall()}
    before = Period(start=dt.date(2024, 3, 1), end=dt.date(2024, 5, 31))
    for category, now_gmv, prev_gmv, growth, now_dio, prev_dio, dio_growth in rows.values():
        current = compile_query(MetricQuery(metrics=["gmv", "dio"], dimensions=["category"], period=period))
        previous = compile_query(MetricQuery(metrics=["gmv", "dio"], dimensions=["category"], period=before))
        now = {r[0]: r for r in con.execute(current.sql).fetchall()}[category]
        old = {r[0]: r for r in con.execute(previous.sql).fetchall()}[category]
        assert (now_gmv, prev_gmv) == (now[1], old[1])
        assert same(growth, float(now[1]) / float(old[1]) - 1)
        assert same(now_dio, now[2]) and same(prev_dio, old[2]) and same(dio_growth, now[2] / old[2] - 1)


def test_pop_by_month_compares_with_the_previous_calendar_month(con) -> None:
    # Contract (Period-over-period): March 2025 is compared with February 2025, not with the
    # 31 days before it (which was the rule before the 2026-12 contract).
    period = Period(start=dt.date(2025, 3, 1), end=dt.date(2025, 3, 31))
    compiled = compile_query(
        MetricQuery(metrics=["gmv", "avg_ar_balance"], grain="month", period=period, compare="pop")
    )
    assert compiled.previous_period == Period(start=dt.date(2025, 2, 1), end=dt.date(2025, 2, 28))
    ((month, gmv, gmv_prev, _, _, ar_prev, _),) = con.execute(compiled.sql).fetchall()
    assert month == dt.date(2025, 3, 1)
    (want_gmv,) = handwritten(con, TOTALS["gmv"], period)[0]
    (want_prev,) = handwritten(con, TOTALS["gmv"], compiled.previous_period)[0]
    (want_ar,) = handwritten(con, TOTALS["avg_ar_balance"], compiled.previous_period)[0]
    assert (gmv, gmv_prev) == (want_gmv, want_prev)
    assert same(ar_prev, want_ar)


def test_days_per_bucket_count_only_days_inside_the_period(con) -> None:
    period = Period(start=dt.date(2025, 1, 15), end=dt.date(2025, 3, 10))
    compiled = compile_query(MetricQuery(metrics=["avg_inventory_value"], grain="month", period=period))
    rows = dict(con.execute(compiled.sql).fetchall())
    for month, start, end in [(1, 15, 31), (2, 1, 28), (3, 1, 10)]:
        sub = Period(start=dt.date(2025, month, start), end=dt.date(2025, month, end))
        (want,) = handwritten(con, TOTALS["avg_inventory_value"], sub)[0]
        assert same(rows[dt.date(2025, month, 1)], want)


def test_filters_include_and_exclude(con) -> None:
    period = PERIODS[0]
    sql = BREAKDOWNS[("gmv", ("channel",), None)]
    by_channel = dict(handwritten(con, sql, period))
    only = compile_query(
        MetricQuery(metrics=["gmv"], filters=[{"dimension": "channel", "members": ["tmall", "jd"]}], period=period)
    )
    assert con.execute(only.sql).fetchone()[0] == by_channel["tmall"] + by_channel["jd"]
    without = compile_query(
        MetricQuery(
            metrics=["gmv"],
            filters=[{"dimension": "channel", "members": ["offline"], "exclude": True}],
            period=period,
        )
    )
    assert con.execute(without.sql).fetchone()[0] == sum(v for k, v in by_channel.items() if k != "offline")


def test_order_by_and_limit(con) -> None:
    query = MetricQuery(metrics=["gmv"], dimensions=["sku"], period=PERIODS[0], order_by={"field": "gmv"}, limit=5)
    rows = con.execute(compile_query(query).sql).fetchall()
    assert len(rows) == 5
    values = [r[1] for r in rows]
    assert values == sorted(values, reverse=True)
