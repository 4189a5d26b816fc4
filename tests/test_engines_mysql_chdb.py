"""The MySQL (MariaDB), ClickHouse server, embedded ClickHouse (chdb) and Spark adapters: guarded,
read-only even with the guard bypassed, time-limited and row-limited, as tests/test_engines.py checks for
DuckDB and PostgreSQL.

MySQL runs against CHATBI_TEST_MYSQL_URL (skipped when unset unless CHATBI_REQUIRE_MYSQL=1); chdb
needs its package (skipped without it unless CHATBI_REQUIRE_CHDB=1), and so does the ClickHouse
server adapter, tested against the loopback HTTP stand-in running chdb (tests/clickhouse_http.py);
Spark needs pyspark and Java (skipped without them unless CHATBI_REQUIRE_SPARK=1).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from engines import connect
from engines.load import load_demo
from semantic_layer.engine import Engine, EngineError, QueryTimeout
from semantic_layer.guard import GuardError
from tests.conftest import server_url, spark_available, with_database

TINY = "chatbi_engine_tests"  # its own database: never clobbers the demo the other tests read
# Accepted by the guard, runs for minutes on either engine: a five-way cross join (10^10 rows).
SLOW_SQL = (
    "SELECT SUM(a.quantity + b.quantity + c.quantity + d.quantity + e.quantity) AS s FROM fact_sales AS a"
    " CROSS JOIN fact_sales AS b CROSS JOIN fact_sales AS c CROSS JOIN fact_sales AS d CROSS JOIN fact_sales AS e"
)


@pytest.fixture(scope="module", params=["mysql", "chdb", "clickhouse", "spark"])
def tiny_url(request: pytest.FixtureRequest, tiny_db: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The tiny warehouse loaded into its own database (Spark: folder) of each engine; the URL selects it."""
    if request.param == "spark":
        spark_available()
        url = f"spark://local{tmp_path_factory.mktemp('spark_tiny')}"
        assert load_demo(tiny_db, url) == {"dim_sku": 20, "fact_sales": 100}
        return url
    if request.param == "mysql":
        url = server_url("MYSQL")
        assert load_demo(tiny_db, url, schema=TINY) == {"dim_sku": 20, "fact_sales": 100}
        return with_database(url, TINY)
    if request.param == "clickhouse":  # loaded over HTTP, into a database of its own in the chdb directory
        url = request.getfixturevalue("clickhouse_http").url(f"{TINY}_http")
        assert load_demo(tiny_db, url) == {"dim_sku": 20, "fact_sales": 100}
        return url
    url = f"chdb://{request.getfixturevalue('chdb_dir')}?database={TINY}"
    assert load_demo(tiny_db, url) == {"dim_sku": 20, "fact_sales": 100}
    return url


@pytest.fixture()
def engine(tiny_url: str):
    engine = connect(tiny_url)
    yield engine
    engine.close()


@pytest.fixture()
def duck(tiny_db: Path):
    engine = connect(str(tiny_db))
    yield engine
    engine.close()


def test_matches_duckdb(engine: Engine, duck: Engine) -> None:
    assert engine.dialect in ("mysql", "clickhouse", "spark")
    for sql in [
        "SELECT sku_id, sku_name, unit_cost, launch_date FROM dim_sku ORDER BY sku_id",
        "SELECT order_date, SUM(revenue) AS gmv, COUNT(DISTINCT order_id) AS orders,"
        " SUM(CASE WHEN fulfillment_error THEN 1 ELSE 0 END) AS errors FROM fact_sales GROUP BY order_date"
        " ORDER BY order_date",
    ]:
        a, b = duck.execute(sql), engine.execute(sql)
        assert a.rows == b.rows
        assert a.columns == b.columns


def test_row_limit_truncates_and_flags(engine: Engine) -> None:
    cut = engine.execute("SELECT * FROM fact_sales ORDER BY order_id", row_limit=10)
    assert len(cut.rows) == 10 and cut.truncated
    exact = engine.execute("SELECT * FROM dim_sku", row_limit=20)
    assert len(exact.rows) == 20 and not exact.truncated


def test_timeout_raises_query_timeout(engine: Engine) -> None:
    with pytest.raises(QueryTimeout):
        engine.execute(SLOW_SQL, timeout_s=0.3)
    assert engine.execute("SELECT COUNT(*) FROM dim_sku").rows == [(20,)], "usable after a timeout"


def test_every_execute_is_guarded(engine: Engine) -> None:
    for sql in [
        "SELECT * FROM information_schema.tables",
        "SELECT * FROM mysql.user",
        "SELECT * FROM system.tables",
        "SELECT * FROM file('/etc/passwd', 'LineAsString')",
        "SELECT * FROM parquet.`/tmp`",
        "SELECT reflect('java.lang.Thread', 'sleep', 1000L)",
        "DELETE FROM fact_sales",
    ]:
        with pytest.raises(GuardError):
            engine.execute(sql)


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE TABLE evil (i INTEGER)",
        "DELETE FROM fact_sales",
        "DROP TABLE fact_sales",
        "INSERT INTO dim_sku (sku_id) VALUES ('evil')",
        "SET SESSION TRANSACTION READ WRITE",
        "COMMIT",
        "SET SESSION max_statement_time = 0",
        "SET readonly = 0",
        "SET max_execution_time = 0",
        "SELECT * FROM file('/etc/passwd', 'LineAsString')",
        "SELECT LOAD_FILE('/etc/passwd')",
    ],
)
def test_read_only_even_without_the_guard(tiny_url: str, no_guard: None, sql: str) -> None:
    if tiny_url.startswith("spark://"):
        pytest.skip("Spark has its own list: test_spark_read_only_even_without_the_guard")
    engine = connect(tiny_url)
    try:
        with contextlib.suppress(EngineError):
            rows = engine.execute(sql).rows
            assert rows in ([], [(None,)]), "nothing read from outside the warehouse"
        # Whatever ran, nothing changed and the next query is still read-only and time-limited.
        with pytest.raises(EngineError):
            engine.execute("DELETE FROM fact_sales")
        with pytest.raises(QueryTimeout):
            engine.execute(SLOW_SQL, timeout_s=0.3)
        assert engine.execute("SELECT COUNT(*) FROM fact_sales").rows == [(100,)]
        assert engine.execute("SELECT COUNT(*) FROM dim_sku").rows == [(20,)]
    finally:
        engine.close()


SPARK_HOSTILE = [
    "CREATE TABLE evil (i INTEGER)",
    "CREATE OR REPLACE TEMPORARY VIEW fact_sales AS SELECT 1 AS x",
    "DELETE FROM fact_sales",
    "INSERT INTO dim_sku (sku_id) VALUES ('evil')",
    "SET spark.sql.runSQLOnFiles = true",
    "CACHE TABLE fact_sales",
    "ADD JAR /tmp/evil.jar",
    "SELECT * FROM text.`/etc/passwd`",
    "SELECT * FROM parquet.`/tmp`",
    "SELECT java_method('java.lang.System', 'getProperty', 'user.home') AS p",
    "SELECT reflect('java.lang.Thread', 'sleep', 1000L) AS p",
]


def test_spark_read_only_even_without_the_guard(tmp_path: Path, tiny_db: Path, no_guard: None) -> None:
    """Spark's own defences, each hostile statement on one engine: every one fails, nothing changed, and
    the engine still refuses a write and reads what it read before."""
    spark_available()
    url = f"spark://local{tmp_path}"
    load_demo(tiny_db, url)
    engine = connect(url)
    try:
        for sql in SPARK_HOSTILE:
            with pytest.raises(EngineError):
                engine.execute(sql)
        with pytest.raises(EngineError):
            engine.execute("DELETE FROM fact_sales")
        assert engine.execute("SELECT COUNT(*) FROM fact_sales").rows == [(100,)]
        assert engine.execute("SELECT COUNT(*) FROM dim_sku").rows == [(20,)]
    finally:
        engine.close()


def test_missing_targets_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="not found"):
        connect(f"chdb://{tmp_path}/nope")
    assert not (tmp_path / "nope").exists()
    with pytest.raises(EngineError, match="chdb:///"):
        connect("chdb://relative/dir")
    with pytest.raises(EngineError, match="mysql://"):
        connect("mysql://chatbi@127.0.0.1:3306")
    with pytest.raises(EngineError, match="not found"):
        connect(f"spark://local{tmp_path}/nope")
    with pytest.raises(EngineError, match="spark://local"):
        connect("spark://cluster/dir")
    with pytest.raises(EngineError, match="once"):
        connect(f"spark://local{tmp_path}?warehouse={tmp_path}")


def test_mysql_connection_error_is_clear() -> None:
    pytest.importorskip("pymysql")
    with pytest.raises(EngineError, match="cannot connect") as info:
        connect("mysql://chatbi:wrong@127.0.0.1:1/chatbi")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("kind", ["pg", "mysql", "chdb", "clickhouse", "spark"])
def test_demo_load_copies_the_demo(request: pytest.FixtureRequest, demo_db: Path, kind: str) -> None:
    """The small demo, loaded once per session (tests/conftest.py), has the same counts and totals."""
    other = connect(request.getfixturevalue(f"demo_{kind}_url"))
    duck = connect(str(demo_db))
    try:
        for table in ("fact_sales", "fact_inventory_daily", "fact_receivable", "dim_sku", "sku_alias"):
            sql = f"SELECT COUNT(*) AS n FROM {table}"
            assert duck.execute(sql).rows == other.execute(sql).rows
        sql = (
            "SELECT SUM(revenue) AS r, SUM(cogs) AS c, COUNT(promo_id) AS p,"
            " SUM(CASE WHEN fulfillment_error THEN 1 ELSE 0 END) AS e, MIN(order_date) AS lo, MAX(order_date) AS hi"
            " FROM fact_sales"
        )
        assert duck.execute(sql).rows == other.execute(sql).rows
        sql = "SELECT SUM(amount) AS a, COUNT(paid_date) AS n, MIN(invoice_date) AS lo FROM fact_receivable"
        assert duck.execute(sql).rows == other.execute(sql).rows
    finally:
        other.close()
        duck.close()


def test_demo_load_command(chdb_dir: Path, tiny_db: Path) -> None:
    from typer.testing import CliRunner

    from api.cli import app

    runner = CliRunner()
    url = f"chdb://{chdb_dir}?database=chatbi_cli_tests"
    result = runner.invoke(app, ["demo", "load", "--db", str(tiny_db), "--engine", url, "--quiet"])
    assert result.exit_code == 0, result.output
    assert "loaded 2 tables, 120 rows" in result.output
    engine = connect(url)
    try:
        assert engine.execute("SELECT COUNT(*) FROM fact_sales").rows == [(100,)]
    finally:
        engine.close()
    bad = runner.invoke(app, ["demo", "load", "--db", str(tiny_db), "--engine", "oracle://x"])
    assert bad.exit_code == 2 and "postgresql://, mysql://, clickhouse://, chdb:/// or spark://local/" in bad.output
