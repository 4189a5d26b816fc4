"""Every metric gives the same result on DuckDB as on PostgreSQL, MySQL (MariaDB), embedded ClickHouse
(chdb), a ClickHouse server (the loopback HTTP stand-in running chdb, tests/clickhouse_http.py) and Spark
(a local session on Parquet files, and a real Spark Connect server on the same files: tests/spark_connect_server.py): the small demo, loaded in each once per test session (tests/conftest.py).

DuckDB's results are checked against hand-written SQL (tests/test_compiler_*.py); here every other
engine must give DuckDB's. Needs the servers: CHATBI_TEST_PG_URL, CHATBI_TEST_MYSQL_URL (skipped
when unset, unless CHATBI_REQUIRE_PG=1 / CHATBI_REQUIRE_MYSQL=1) and the chdb package (skipped
without it unless CHATBI_REQUIRE_CHDB=1), pyspark and Java (skipped without them unless CHATBI_REQUIRE_SPARK=1).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from semantic_layer.compiler import compile_attributes, compile_query
from semantic_layer.engine import Engine
from semantic_layer.query import MetricQuery, Period, Principal
from semantic_layer.semantic_model import load_model
from tests.handwritten_sql import BREAKDOWNS
from tests.test_compiler_attributes import CASES as ATTRIBUTE_CASES

PERIOD = Period(start=dt.date(2024, 11, 1), end=dt.date(2025, 6, 30))
TODAY = dt.date(2026, 1, 1)  # the demo's reference date
#: These tests check results, not speed (that is benchmarks/engines_bench.py): a generous limit, so a
#: loaded machine makes them slow, not red (Spark's year-on-year query takes 30 s at load 12).
CORRECTNESS_TIMEOUT_S = 600.0


ENGINES = ["pg", "mysql", "chdb", "clickhouse", "spark", "spark_connect"]
#: Spark Connect runs the very Spark SQL text of the local session; what it adds is the transport (Arrow
#: results over gRPC from its own JVM). Every metric's total, the row filter and the cash-cycle tool check
#: that on Connect; the tests of the SQL's shape (breakdowns, comparisons, shares, listings) run once per dialect.
SQL_ENGINES = [name for name in ENGINES if name != "spark_connect"]
per_dialect = pytest.mark.parametrize("engines", SQL_ENGINES, indirect=True)


@pytest.fixture(scope="module", params=ENGINES)
def engines(request: pytest.FixtureRequest, demo_db: Path) -> Iterator[tuple[Engine, Engine]]:
    """DuckDB and one other engine on the same demo data."""
    from engines import connect

    url = request.getfixturevalue(f"demo_{request.param}_url")
    duck, other = connect(str(demo_db)), connect(url)
    yield duck, other
    duck.close()
    other.close()


def same(a: object, b: object) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, Decimal) and isinstance(b, Decimal):
        return a == b
    if isinstance(a, int | float | Decimal) and isinstance(b, int | float | Decimal):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def run_both(engines: tuple[Engine, Engine], query: MetricQuery, principal: Principal | None = None) -> None:
    results = []
    for engine in engines:
        compiled = compile_query(query, principal=principal, dialect=engine.dialect)
        results.append(engine.execute(compiled.sql, timeout_s=CORRECTNESS_TIMEOUT_S))
    duck, other = results
    assert duck.columns == other.columns
    assert len(duck.rows) == len(other.rows) > 0
    for d_row, p_row in zip(duck.rows, other.rows, strict=True):
        assert all(same(a, b) for a, b in zip(d_row, p_row, strict=True)), (d_row, p_row)


@pytest.mark.parametrize("metric", sorted(load_model().metrics))
def test_metric_total_same_on_every_engine(engines, metric: str) -> None:
    run_both(engines, MetricQuery(metrics=[metric], period=PERIOD))


@per_dialect
@pytest.mark.parametrize("case", list(BREAKDOWNS), ids=lambda c: f"{c[0]}-by-{'+'.join(c[1]) or '-'}-{c[2]}")
def test_breakdowns_same_on_every_engine(engines, case) -> None:
    metric, dims, grain = case
    run_both(engines, MetricQuery(metrics=[metric], dimensions=list(dims), grain=grain, period=PERIOD))


@per_dialect
@pytest.mark.parametrize("compare", ["yoy", "pop"])
def test_comparisons_same_on_every_engine(engines, compare: str) -> None:
    metrics = ["gmv", "gross_margin", "dio", "ccc", "ar_over_60_share", "slow_moving_share"]
    run_both(engines, MetricQuery(metrics=metrics, grain="month", period=PERIOD, compare=compare))


def test_store_manager_same_on_every_engine(engines) -> None:
    principal = Principal(role="store_manager", store_id="tmall_flagship")
    run_both(engines, MetricQuery(metrics=["gmv", "conversion_rate"], grain="week", period=PERIOD), principal)


@per_dialect
@pytest.mark.parametrize(
    "query",
    [
        MetricQuery(metrics=["gmv", "orders"], dimensions=["channel"], period=PERIOD, share=True, compare="yoy"),
        MetricQuery(
            metrics=["on_hand_units", "inventory_value_end"],
            dimensions=["category"],
            period=PERIOD,
            share=True,
            order_by={"field": "inventory_value_end_share"},
            limit=3,
        ),
        MetricQuery(metrics=["ap_balance"], grain="month", period=PERIOD, share=True),
        MetricQuery(metrics=["in_transit_units", "ar_balance"], grain="quarter", period=PERIOD, compare="yoy"),
        MetricQuery(metrics=["gmv", "dio", "on_hand_units"], grain="week", period=PERIOD, compare="pop"),
        MetricQuery(
            metrics=["gmv", "orders"],
            grain="day",
            period=Period(start=dt.date(2025, 1, 29), end=dt.date(2025, 2, 4)),
            compare="yoy",
            compare_period=Period(start=dt.date(2024, 2, 10), end=dt.date(2024, 2, 16)),
        ),
    ],
    ids=["gmv-share-yoy", "stock-share-top3", "ap-share-by-month", "snapshots-yoy", "pop-by-week", "event-window-yoy"],
)
def test_shares_and_snapshots_same_on_every_engine(engines, query: MetricQuery) -> None:
    run_both(engines, query)


@per_dialect
@pytest.mark.parametrize("case", sorted(ATTRIBUTE_CASES))
def test_attribute_listings_same_on_every_engine(engines, case: str) -> None:
    query, _ = ATTRIBUTE_CASES[case]
    duck, other = (engine.execute(compile_attributes(query, dialect=engine.dialect).sql) for engine in engines)
    assert duck.columns == other.columns and len(duck.rows) == len(other.rows) > 0
    for d_row, p_row in zip(duck.rows, other.rows, strict=True):
        assert all(same(a, b) for a, b in zip(d_row, p_row, strict=True)), (d_row, p_row)


@per_dialect
@pytest.mark.parametrize("name", ["replenishment", "elasticity", "ccc"])
def test_every_analysis_tool_same_on_every_engine(engines, name: str) -> None:
    """The tools' own reads go through the model to each engine's dialect (semantic_layer/logical_sql.py)."""
    run_tool_on_both(engines, name)


@pytest.mark.parametrize("engines", ["spark_connect"], indirect=True)
def test_the_cash_cycle_tool_same_over_spark_connect(engines) -> None:
    run_tool_on_both(engines, "ccc")


def run_tool_on_both(engines: tuple[Engine, Engine], name: str) -> None:
    from engines.members import load_master_data
    from tools import registry
    from tools.base import ToolContext

    model = load_model()
    outputs = []
    for engine in engines:
        tool = registry.load(name)
        context = ToolContext(engine, model, Principal(), TODAY, "zh", load_master_data(engine, model=model))
        outputs.append(tool.run(tool.Arguments(), context))
    duck, other = outputs
    assert duck.columns == other.columns and len(duck.rows) == len(other.rows) > 0
    for d_row, o_row in zip(duck.rows, other.rows, strict=True):
        assert all(same_cell(a, b) for a, b in zip(d_row, o_row, strict=True)), (d_row, o_row)
    assert duck.text == other.text


def same_cell(a: object, b: object) -> bool:
    """A tool's cells: a fit's last digits follow the engine's row order, so floats agree to 1e-6."""
    if isinstance(a, float) and isinstance(b, int | float | Decimal):
        return math.isclose(a, float(b), rel_tol=1e-6, abs_tol=1e-9)
    return same(a, b)
