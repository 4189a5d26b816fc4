"""Snowflake, BigQuery and Trino are compiled but never executed: their SQL is checked by its parsed
structure (the date spine and the week start each engine needs, semantic_layer/dialects.py), and by
its results once sqlglot has transpiled it back to DuckDB, on the demo warehouse, against DuckDB's
own compile. The round trip is faithful where it matters here: sqlglot moves BigQuery's Sunday
``WEEK`` onto DuckDB's Monday weeks and fails on an unnested array read as a table, so both of the
bugs these rewrites fix would show; Snowflake's old ``ARRAY_GENERATE_RANGE`` spine comes back as a
working series, which is why its structure is asserted as well."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest
import sqlglot
from sqlglot import exp

from semantic_layer.compiler import compile_query
from semantic_layer.query import MetricQuery, Period
from tests.golden.test_golden_sql import CASES
from tests.test_compiler_metrics import same

Q1 = Period(start=dt.date(2025, 1, 1), end=dt.date(2025, 3, 31))


def _parsed(query: MetricQuery, dialect: str) -> exp.Expr:
    return sqlglot.parse_one(compile_query(query, dialect=dialect).sql, read=dialect)


@pytest.mark.parametrize(
    ("period", "days"),
    [
        (Q1, 90),
        (Period(start=dt.date(2024, 2, 1), end=dt.date(2024, 2, 29)), 29),
        (Period(start=dt.date(2024, 1, 1), end=dt.date(2024, 12, 31)), 366),
        (Period(start=dt.date(2025, 6, 30), end=dt.date(2025, 6, 30)), 1),
    ],
)
def test_snowflake_spine_is_a_generator_of_the_periods_days(period: Period, days: int) -> None:
    sql = compile_query(MetricQuery(metrics=["avg_ar_balance"], period=period), dialect="snowflake").sql
    tree = sqlglot.parse_one(sql, read="snowflake")
    (generator,) = tree.find_all(exp.Generator)
    assert generator.args["rowcount"] == exp.Literal.number(days)
    (day,) = (node for node in tree.find_all(exp.DateAdd) if node.find(exp.RowNumber))
    assert day.this == exp.cast(exp.Literal.string(period.start.isoformat()), exp.DataType.build("DATE"))
    assert tree.find(exp.GenerateSeries, exp.GenerateDateArray) is None
    assert "GENERATE_SERIES" not in sql.upper() and "ARRAY_GENERATE_RANGE" not in sql.upper()


def test_snowflake_comparison_spines_each_count_their_own_days() -> None:
    query = MetricQuery(metrics=["avg_ar_balance"], period=Q1, compare="yoy")
    counts = sorted(int(g.args["rowcount"].this) for g in _parsed(query, "snowflake").find_all(exp.Generator))
    assert counts == [90, 91]  # Q1 2025, and Q1 2024 with its 29 February


def test_bigquery_weeks_start_on_monday() -> None:
    query = MetricQuery(metrics=["gmv", "avg_ar_balance"], grain="week", period=Q1, compare="pop")
    truncs = list(_parsed(query, "bigquery").find_all(exp.DateTrunc))
    weeks = [t.args["unit"] for t in truncs if isinstance(t.args["unit"], exp.WeekStart)]
    assert weeks and all(unit.name.upper() == "MONDAY" for unit in weeks)
    assert all(t.text("unit").upper() not in {"WEEK", "ISOWEEK"} for t in truncs)  # no Sunday WEEK left


def test_bigquery_spine_unnests_a_date_array_and_date_arithmetic_stays_a_date() -> None:
    query = MetricQuery(metrics=["slow_moving_share", "avg_ar_balance"], grain="month", period=Q1, compare="pop")
    tree = _parsed(query, "bigquery")
    arrays = [u for u in tree.find_all(exp.Unnest) if isinstance(u.expressions[0], exp.GenerateDateArray)]
    assert arrays and tree.find(exp.GenerateSeries) is None
    # date + INTERVAL is a DATETIME on BigQuery: every shift is DATE_ADD / DATE_SUB instead.
    assert not [n for n in tree.find_all(exp.Add, exp.Sub) if isinstance(n.expression, exp.Interval)]
    assert tree.find(exp.DateSub) is not None  # the unsold lookback window


def test_trino_spine_names_its_column() -> None:
    tree = _parsed(MetricQuery(metrics=["avg_ar_balance"], period=Q1), "trino")
    (unnest,) = tree.find_all(exp.Unnest)
    assert isinstance(unnest.expressions[0], exp.GenerateSeries)
    assert unnest.alias == "gs" and [c.name for c in unnest.args["alias"].columns] == ["d"]


@pytest.fixture(scope="module")
def con(demo_db: Path) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(str(demo_db), read_only=True)
    yield connection
    connection.close()


@pytest.mark.parametrize("dialect", ["snowflake", "bigquery", "trino"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_transpiled_back_to_duckdb_the_sql_gives_duckdbs_results(con, case: str, dialect: str) -> None:
    query, principal = CASES[case]
    expected = con.execute(compile_query(query, principal=principal).sql).fetchall()
    emitted = compile_query(query, principal=principal, dialect=dialect).sql
    rows = con.execute(sqlglot.transpile(emitted, read=dialect, write="duckdb")[0]).fetchall()
    assert expected and len(rows) == len(expected)
    assert all(len(a) == len(b) and all(map(_same, a, b)) for a, b in zip(rows, expected, strict=True)), case


def _same(a: object, b: object) -> bool:
    """Equal, or (a DOUBLE on one side) equal to rounding."""
    return a == b or (isinstance(a, int | float) and isinstance(b, int | float) and same(a, b))
