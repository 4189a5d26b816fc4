"""Engine adapters: guarded, read-only (even with the guard bypassed), time-limited, row-limited.

PostgreSQL variants run against CHATBI_TEST_PG_URL; they are skipped when it is unset,
unless CHATBI_REQUIRE_PG=1 (CI), when they fail instead.
"""

from __future__ import annotations

import contextlib
import os
import threading
from decimal import Decimal
from pathlib import Path

import pytest

from engines import connect
from engines.load import load_demo
from engines.pg_load import pg_type
from semantic_layer.engine import Engine, EngineError, QueryTimeout
from semantic_layer.guard import GuardError

PG_SCHEMA = "chatbi_engine_tests"  # own schema: never clobbers tables other tests loaded into public
# A query the guard accepts that runs for minutes: a big cross join of generated series.
SLOW_SQL = (
    "SELECT SUM(a.x * b.y) AS s FROM generate_series(1, 1000000) AS a(x) "
    "CROSS JOIN generate_series(1, 1000000) AS b(y)"
)


@pytest.fixture()
def duck(tiny_db: Path):
    engine = connect(str(tiny_db))
    yield engine
    engine.close()


# --- DuckDB --------------------------------------------------------------------------------


def test_duckdb_executes_and_returns_typed_rows(duck: Engine) -> None:
    result = duck.execute("SELECT sku_id, unit_cost, launch_date FROM dim_sku ORDER BY sku_id", row_limit=100)
    assert duck.dialect == "duckdb"
    assert result.columns == ["sku_id", "unit_cost", "launch_date"]
    assert len(result.rows) == 20 and not result.truncated
    assert result.rows[0][:2] == ("sku00001", Decimal("1.25"))


def test_row_limit_truncates_and_flags(duck: Engine) -> None:
    cut = duck.execute("SELECT * FROM fact_sales ORDER BY order_id", row_limit=10)
    assert len(cut.rows) == 10 and cut.truncated
    exact = duck.execute("SELECT * FROM dim_sku", row_limit=20)
    assert len(exact.rows) == 20 and not exact.truncated, "exactly row_limit rows is not a truncation"
    own_limit = duck.execute("SELECT * FROM fact_sales LIMIT 5", row_limit=10)
    assert len(own_limit.rows) == 5 and not own_limit.truncated


def test_every_execute_is_guarded(duck: Engine) -> None:
    for sql in ["DROP TABLE fact_sales", "SELECT * FROM duckdb_tables()", "SELECT * FROM read_csv('/x')"]:
        with pytest.raises(GuardError):
            duck.execute(sql)


def test_allowed_tables_narrow_what_an_engine_reads(tiny_db: Path) -> None:
    engine = connect(str(tiny_db), allowed_tables={"dim_sku"})
    try:
        assert engine.execute("SELECT COUNT(*) FROM dim_sku").rows == [(20,)]
        with pytest.raises(GuardError, match="fact_sales"):
            engine.execute("SELECT * FROM fact_sales")
    finally:
        engine.close()


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE TABLE evil (i INTEGER)",
        "INSERT INTO fact_sales SELECT * FROM fact_sales",
        "DELETE FROM fact_sales",
        "DROP TABLE fact_sales",
        "SELECT * FROM read_csv('/etc/passwd')",
        "COPY fact_sales TO '/tmp/chatbi-evil.csv'",
        "ATTACH '/tmp/chatbi-evil.duckdb' AS evil",
        "INSTALL httpfs",
        "SET enable_external_access = true",
    ],
)
def test_duckdb_is_read_only_even_without_the_guard(tiny_db: Path, no_guard: None, sql: str) -> None:
    engine = connect(str(tiny_db))
    try:
        with pytest.raises(EngineError):
            engine.execute(sql)
        assert engine.execute("SELECT COUNT(*) FROM fact_sales").rows == [(100,)]
    finally:
        engine.close()
    assert not Path("/tmp/chatbi-evil.csv").exists() and not Path("/tmp/chatbi-evil.duckdb").exists()


def test_duckdb_timeout_raises_query_timeout(duck: Engine) -> None:
    with pytest.raises(QueryTimeout):  # how soon: benchmarks/deadlines_bench.py
        duck.execute(SLOW_SQL, timeout_s=0.3)
    assert duck.execute("SELECT COUNT(*) FROM dim_sku", timeout_s=5).rows == [(20,)], "usable after a timeout"


def test_missing_duckdb_file_is_a_clear_error_and_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "nope.duckdb"
    with pytest.raises(EngineError, match="not found"):
        connect(str(missing))
    with pytest.raises(EngineError, match="not found"):
        connect(f"duckdb://{missing}")
    assert not missing.exists()
    with pytest.raises(EngineError):
        connect(str(tmp_path))  # a directory


def test_duckdb_url_form(tiny_db: Path) -> None:
    engine = connect(f"duckdb://{tiny_db}")
    try:
        assert engine.execute("SELECT COUNT(*) AS n FROM dim_sku").rows == [(20,)]
    finally:
        engine.close()


def test_sql_errors_are_one_line_engine_errors(duck: Engine) -> None:
    with pytest.raises(EngineError) as info:
        duck.execute("SELECT no_such_column FROM dim_sku")
    assert "no_such_column" in str(info.value) and "\n" not in str(info.value)


def test_duckdb_engine_is_safe_to_share_between_threads(duck: Engine) -> None:
    results: list[object] = []

    def work() -> None:
        for _ in range(20):
            results.append(duck.execute("SELECT SUM(quantity) FROM fact_sales").rows[0][0])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 80 and len(set(results)) == 1


def test_pg_type_mapping() -> None:
    assert pg_type("DECIMAL(18,2)") == "NUMERIC(18,2)"
    assert pg_type("BIGINT") == "BIGINT" and pg_type("DATE") == "DATE" and pg_type("BOOLEAN") == "BOOLEAN"
    assert pg_type("VARCHAR") == "TEXT" and pg_type("DOUBLE") == "DOUBLE PRECISION"
    with pytest.raises(EngineError):
        pg_type("MAP(VARCHAR, INTEGER)")


# --- PostgreSQL ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg_url() -> str:
    url = os.environ.get("CHATBI_TEST_PG_URL")
    if not url:
        if os.environ.get("CHATBI_REQUIRE_PG") == "1":
            pytest.fail("CHATBI_REQUIRE_PG=1 but CHATBI_TEST_PG_URL is not set")
        pytest.skip("CHATBI_TEST_PG_URL is not set")
    return url


@pytest.fixture(scope="module")
def pg_tiny_url(pg_url: str, tiny_db: Path) -> str:
    """The tiny warehouse loaded into its own schema; the URL selects that schema."""
    counts = load_demo(tiny_db, pg_url, schema=PG_SCHEMA)
    assert counts == {"dim_sku": 20, "fact_sales": 100}
    sep = "&" if "?" in pg_url else "?"
    return f"{pg_url}{sep}options=-csearch_path%3D{PG_SCHEMA}"


@pytest.fixture()
def pg(pg_tiny_url: str):
    engine = connect(pg_tiny_url)
    yield engine
    engine.close()


def test_postgres_matches_duckdb(pg: Engine, duck: Engine) -> None:
    assert pg.dialect == "postgres"
    for sql in [
        "SELECT sku_id, unit_cost, launch_date FROM dim_sku ORDER BY sku_id",
        "SELECT order_date, SUM(revenue) AS gmv, COUNT(DISTINCT order_id) AS orders,"
        " SUM(CASE WHEN fulfillment_error THEN 1 ELSE 0 END) AS errors FROM fact_sales GROUP BY 1 ORDER BY 1",
    ]:
        a, b = duck.execute(sql), pg.execute(sql)
        assert a.rows == b.rows
        assert [c.lower() for c in a.columns] == [c.lower() for c in b.columns]


def test_postgres_row_limit_truncates_and_flags(pg: Engine) -> None:
    cut = pg.execute("SELECT * FROM fact_sales ORDER BY order_id", row_limit=10)
    assert len(cut.rows) == 10 and cut.truncated
    exact = pg.execute("SELECT * FROM dim_sku", row_limit=20)
    assert len(exact.rows) == 20 and not exact.truncated


def test_postgres_timeout_raises_query_timeout(pg: Engine) -> None:
    with pytest.raises(QueryTimeout):  # how soon: benchmarks/deadlines_bench.py
        pg.execute(SLOW_SQL, timeout_s=0.3)
    assert pg.execute("SELECT COUNT(*) FROM dim_sku").rows == [(20,)], "usable after a timeout"


def test_postgres_every_execute_is_guarded(pg: Engine) -> None:
    for sql in ["SELECT * FROM pg_user", "SELECT pg_read_file('/etc/passwd')", "DELETE FROM fact_sales"]:
        with pytest.raises(GuardError):
            pg.execute(sql)


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE TABLE evil (i INTEGER)",
        "DELETE FROM fact_sales",
        "SET TRANSACTION READ WRITE; DELETE FROM fact_sales",
        "COMMIT; BEGIN READ WRITE; DELETE FROM fact_sales; COMMIT",
        "SELECT set_config('default_transaction_read_only', 'off', false); DELETE FROM fact_sales",
        "SELECT set_config('default_transaction_read_only', 'off', false)",
        "SELECT set_config('statement_timeout', '0', false)",
    ],
)
def test_postgres_is_read_only_even_without_the_guard(pg_tiny_url: str, no_guard: None, sql: str) -> None:
    engine = connect(pg_tiny_url)
    try:
        with contextlib.suppress(EngineError):
            engine.execute(sql)
        # Whatever ran, nothing changed and the session is still read-only and time-limited.
        with pytest.raises(EngineError, match="read-only"):
            engine.execute("DELETE FROM fact_sales")
        with pytest.raises(QueryTimeout):
            engine.execute(SLOW_SQL, timeout_s=0.3)
        assert engine.execute("SELECT COUNT(*) FROM fact_sales").rows == [(100,)]
    finally:
        engine.close()


def test_postgres_connection_error_is_clear(pg_url: str) -> None:
    with pytest.raises(EngineError, match="cannot connect") as info:
        connect("postgresql://chatbi:wrong@127.0.0.1:1/chatbi")
    assert "\n" not in str(info.value)
