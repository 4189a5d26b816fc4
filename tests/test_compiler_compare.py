"""Calendar period-over-period (DATA_CONTRACT.md, "Period-over-period"): 环比 of a calendar week,
month, quarter or year is the previous one; with a grain every bucket is compared with the bucket
before it (yoy: a year earlier), the first bucket included; an explicit comparison period wins."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from semantic_layer.compiler import compile_query
from semantic_layer.query import MetricQuery, Period
from tests.handwritten_sql import TOTALS
from tests.test_compiler_metrics import handwritten, same

D = dt.date


def period(start: dt.date, end: dt.date) -> Period:
    return Period(start=start, end=end)


@pytest.fixture(scope="module")
def con(demo_db: Path) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(str(demo_db), read_only=True)
    yield connection
    connection.close()


@pytest.mark.parametrize(
    ("current", "previous"),
    [
        ((D(2025, 12, 1), D(2025, 12, 31)), (D(2025, 11, 1), D(2025, 11, 30))),  # December -> November
        ((D(2024, 3, 1), D(2024, 3, 31)), (D(2024, 2, 1), D(2024, 2, 29))),  # leap February
        ((D(2025, 1, 1), D(2025, 3, 31)), (D(2024, 10, 1), D(2024, 12, 31))),  # Q1 2025 -> Q4 2024
        ((D(2025, 1, 1), D(2025, 12, 31)), (D(2024, 1, 1), D(2024, 12, 31))),  # a year (2024 has 366 days)
        ((D(2025, 12, 22), D(2025, 12, 28)), (D(2025, 12, 15), D(2025, 12, 21))),  # a Monday-Sunday week
        ((D(2025, 12, 2), D(2025, 12, 31)), (D(2025, 11, 2), D(2025, 12, 1))),  # not a calendar period
        ((D(2025, 12, 23), D(2025, 12, 29)), (D(2025, 12, 16), D(2025, 12, 22))),  # 7 days, not Mon-Sun
        ((D(2025, 12, 31), D(2025, 12, 31)), (D(2025, 12, 30), D(2025, 12, 30))),  # one day
    ],
)
def test_pop_is_the_previous_calendar_period_or_the_equal_length_one(current, previous) -> None:
    assert period(*current).previous("pop") == period(*previous)


def test_pop_without_a_grain_reads_the_previous_calendar_month(con) -> None:
    december = period(D(2025, 12, 1), D(2025, 12, 31))
    compiled = compile_query(MetricQuery(metrics=["gmv", "on_hand_units", "dio"], period=december, compare="pop"))
    november = period(D(2025, 11, 1), D(2025, 11, 30))
    assert compiled.previous_period == november
    row = con.execute(compiled.sql).fetchone()
    for index, metric in enumerate(["gmv", "on_hand_units", "dio"]):
        now, before = row[3 * index], row[3 * index + 1]
        assert same(now, handwritten(con, TOTALS[metric], december)[0][0])
        assert same(before, handwritten(con, TOTALS[metric], november)[0][0])


MONTHS_2025Q1 = [(D(2025, 1, 1), D(2025, 1, 31)), (D(2025, 2, 1), D(2025, 2, 28)), (D(2025, 3, 1), D(2025, 3, 31))]
METRICS = ["gmv", "gross_margin", "dio", "ar_balance", "avg_ap_balance", "on_hand_units"]


def _rows(con, query: MetricQuery) -> dict:
    compiled = compile_query(query)
    return {r[0]: r for r in con.execute(compiled.sql).fetchall()}


def _check(con, row: tuple, metrics: list[str], now: Period, before: Period) -> None:
    for index, metric in enumerate(metrics):
        value, previous, growth = row[1 + 3 * index : 4 + 3 * index]
        want_now = handwritten(con, TOTALS[metric], now)[0][0]
        want_before = handwritten(con, TOTALS[metric], before)[0][0]
        assert same(value, want_now), (metric, now)
        assert same(previous, want_before), (metric, before)
        assert same(growth, float(want_now) / float(want_before) - 1), metric


def test_pop_by_month_compares_every_month_with_the_one_before_it_the_first_included(con) -> None:
    q1 = period(D(2025, 1, 1), D(2025, 3, 31))
    query = MetricQuery(metrics=METRICS, grain="month", period=q1, compare="pop")
    assert compile_query(query).previous_period == period(D(2024, 12, 1), D(2025, 2, 28))
    rows = _rows(con, query)
    befores = [(D(2024, 12, 1), D(2024, 12, 31)), *MONTHS_2025Q1[:2]]
    assert sorted(rows) == [start for start, _ in MONTHS_2025Q1]
    for (start, end), (b_start, b_end) in zip(MONTHS_2025Q1, befores, strict=True):
        _check(con, rows[start], METRICS, period(start, end), period(b_start, b_end))


def test_yoy_by_month_compares_every_month_with_the_same_month_a_year_earlier(con) -> None:
    q1 = period(D(2025, 1, 1), D(2025, 3, 31))
    rows = _rows(con, MetricQuery(metrics=METRICS, grain="month", period=q1, compare="yoy"))
    befores = [(D(2024, 1, 1), D(2024, 1, 31)), (D(2024, 2, 1), D(2024, 2, 29)), (D(2024, 3, 1), D(2024, 3, 31))]
    for (start, end), (b_start, b_end) in zip(MONTHS_2025Q1, befores, strict=True):
        _check(con, rows[start], METRICS, period(start, end), period(b_start, b_end))  # the whole leap February


def test_pop_by_week_compares_every_week_with_the_week_before(con) -> None:
    weeks = period(D(2025, 6, 2), D(2025, 6, 29))  # four Monday-Sunday weeks
    metrics = ["gmv", "ap_balance"]
    rows = _rows(con, MetricQuery(metrics=metrics, grain="week", period=weeks, compare="pop"))
    assert len(rows) == 4
    for monday, row in rows.items():
        now = period(monday, monday + dt.timedelta(days=6))
        before = period(monday - dt.timedelta(days=7), monday - dt.timedelta(days=1))
        _check(con, row, metrics, now, before)


def test_pop_by_quarter_over_a_year(con) -> None:
    year = period(D(2025, 1, 1), D(2025, 12, 31))
    rows = _rows(con, MetricQuery(metrics=["gmv", "inventory_value_end"], grain="quarter", period=year, compare="pop"))
    assert sorted(rows) == [D(2025, 1, 1), D(2025, 4, 1), D(2025, 7, 1), D(2025, 10, 1)]
    _check(con, rows[D(2025, 1, 1)], ["gmv", "inventory_value_end"], period(D(2025, 1, 1), D(2025, 3, 31)),
           period(D(2024, 10, 1), D(2024, 12, 31)))  # fmt: skip
    _check(con, rows[D(2025, 10, 1)], ["gmv", "inventory_value_end"], period(D(2025, 10, 1), D(2025, 12, 31)),
           period(D(2025, 7, 1), D(2025, 9, 30)))  # fmt: skip


def test_an_explicit_comparison_period_wins(con) -> None:
    # Spring Festival 2025 (7 days from 2025-01-29) against Spring Festival 2024 (from 2024-02-10).
    festival = period(D(2025, 1, 29), D(2025, 2, 4))
    last_year = period(D(2024, 2, 10), D(2024, 2, 16))
    total = compile_query(MetricQuery(metrics=["gmv"], period=festival, compare="yoy", compare_period=last_year))
    assert total.previous_period == last_year
    (gmv, previous, _) = con.execute(total.sql).fetchone()
    assert (gmv, previous) == (
        handwritten(con, TOTALS["gmv"], festival)[0][0],
        handwritten(con, TOTALS["gmv"], last_year)[0][0],
    )
    by_day = _rows(
        con, MetricQuery(metrics=["gmv"], grain="day", period=festival, compare="yoy", compare_period=last_year)
    )
    assert len(by_day) == 7
    for offset in range(7):
        day, before = festival.start + dt.timedelta(days=offset), last_year.start + dt.timedelta(days=offset)
        _check(con, by_day[day], ["gmv"], period(day, day), period(before, before))


def test_a_comparison_period_needs_compare() -> None:
    with pytest.raises(ValueError, match="compare_period needs compare"):
        MetricQuery(metrics=["gmv"], period=period(D(2025, 1, 1), D(2025, 1, 7)),
                    compare_period=period(D(2024, 1, 1), D(2024, 1, 7)))  # fmt: skip


def test_pop_by_month_of_a_period_cut_mid_month_compares_the_same_days(con) -> None:
    # Partial first and last buckets: each is compared with the same days one bucket earlier
    # (the buckets of both periods differ, so the compiler reads the two periods separately).
    cut = period(D(2025, 1, 15), D(2025, 3, 10))
    query = MetricQuery(metrics=["gmv", "on_hand_units", "dio"], grain="month", period=cut, compare="pop")
    assert compile_query(query).previous_period == period(D(2024, 12, 15), D(2025, 2, 10))
    rows = _rows(con, query)
    pairs = [
        ((D(2025, 1, 15), D(2025, 1, 31)), (D(2024, 12, 15), D(2024, 12, 31))),
        ((D(2025, 2, 1), D(2025, 2, 28)), (D(2025, 1, 1), D(2025, 1, 31))),
        ((D(2025, 3, 1), D(2025, 3, 10)), (D(2025, 2, 1), D(2025, 2, 10))),
    ]
    for now, before in pairs:
        _check(con, rows[now[0].replace(day=1)], ["gmv", "on_hand_units", "dio"], period(*now), period(*before))
