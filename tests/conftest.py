"""Shared fixtures: the small demo warehouse is built once per test session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pytest

import semantic_layer.guard
from semantic_layer.semantic_model import MODEL_ENV

if TYPE_CHECKING:
    from tests.clickhouse_http import StandIn

SMALL_SEED = 7


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False, help="Rewrite tests/golden/sql/*.sql.")


@pytest.fixture(autouse=True)
def _no_llm_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests are offline: a developer's own LLM settings must not reach them (``auto`` would use them)."""
    for name in ("CHATBI_LLM_MODEL", "CHATBI_LLM_CONFIG", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _bundled_model() -> Iterator[None]:
    """Every test starts on the bundled model, and ends there: ``chatbi --model DIR`` sets $CHATBI_MODEL
    for its whole process, so a test that ran it in-process would hand its folder to every later test
    (monkeypatch cannot undo that: a deletion of an unset variable records nothing)."""
    os.environ.pop(MODEL_ENV, None)
    yield
    os.environ.pop(MODEL_ENV, None)


@pytest.fixture(scope="session")
def demo_seed() -> int:
    return SMALL_SEED


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path to a small-scale demo DuckDB file (built once, shared, treat as read-only)."""
    from demo.build import build_demo

    path = tmp_path_factory.mktemp("demo") / "small.duckdb"
    build_demo(path, scale="small", seed=SMALL_SEED, force=False, progress=False)
    return path


def server_url(kind: str) -> str:
    """The test server's URL for `kind` ("PG" or "MYSQL"): CHATBI_TEST_<kind>_URL. Unset, the test is
    skipped, or fails when CHATBI_REQUIRE_<kind>=1 (CI, which starts the servers)."""
    import os

    url = os.environ.get(f"CHATBI_TEST_{kind}_URL")
    if not url:
        if os.environ.get(f"CHATBI_REQUIRE_{kind}") == "1":
            pytest.fail(f"CHATBI_REQUIRE_{kind}=1 but CHATBI_TEST_{kind}_URL is not set")
        pytest.skip(f"CHATBI_TEST_{kind}_URL is not set")
    return url


def with_database(url: str, database: str) -> str:
    """A mysql:// URL on another database of the same server."""
    from urllib.parse import urlsplit, urlunsplit

    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


@pytest.fixture(scope="session")
def chdb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one chdb directory of the test session (chdb runs one embedded server per process, on one
    directory; tests load their tables into their own databases in it). Skipped without the chdb
    package, or fails when CHATBI_REQUIRE_CHDB=1."""
    import importlib.util
    import os

    if importlib.util.find_spec("chdb") is None:
        if os.environ.get("CHATBI_REQUIRE_CHDB") == "1":
            pytest.fail("CHATBI_REQUIRE_CHDB=1 but the chdb package is not installed")
        pytest.skip("the chdb package is not installed (pip install 'chatbi[engines]')")
    return tmp_path_factory.mktemp("chdb")


#: Where the small demo is loaded in each server engine, once per session.
DEMO_NAMESPACE = "chatbi_demo_small"


@pytest.fixture(scope="session")
def demo_pg_url(demo_db: Path) -> str:
    from engines.load import load_demo

    url = server_url("PG")
    load_demo(demo_db, url, schema=DEMO_NAMESPACE)
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{DEMO_NAMESPACE}"


@pytest.fixture(scope="session")
def demo_mysql_url(demo_db: Path) -> str:
    from engines.load import load_demo

    url = server_url("MYSQL")
    load_demo(demo_db, url, schema=DEMO_NAMESPACE)
    return with_database(url, DEMO_NAMESPACE)


@pytest.fixture(scope="session")
def demo_chdb_url(demo_db: Path, chdb_dir: Path) -> str:
    from engines.load import load_demo

    url = f"chdb://{chdb_dir}?database={DEMO_NAMESPACE}"
    load_demo(demo_db, url)
    return url


def spark_available() -> None:
    """Skip unless pyspark and a Java runtime are installed (fail instead when CHATBI_REQUIRE_SPARK=1, as in CI)."""
    import importlib.util
    import shutil

    missing = []
    if importlib.util.find_spec("pyspark") is None:
        missing.append("the pyspark package (pip install 'chatbi[spark]')")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        missing.append("a Java runtime (apt-get install openjdk-17-jre-headless)")
    if missing:
        if os.environ.get("CHATBI_REQUIRE_SPARK") == "1":
            pytest.fail(f"CHATBI_REQUIRE_SPARK=1 but {' and '.join(missing)} is missing")
        pytest.skip(f"{' and '.join(missing)} is missing")


@pytest.fixture(scope="session")
def demo_spark_url(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The small demo as a Spark warehouse folder (Parquet files). The local SparkContext it is read with
    is started once per process, by the first engine, and shared by every later one."""
    from engines.load import load_demo

    spark_available()
    url = f"spark://local{tmp_path_factory.mktemp('spark')}"
    load_demo(demo_db, url)
    return url


@pytest.fixture(scope="session")
def clickhouse_http(chdb_dir: Path) -> Iterator[StandIn]:
    """The session's ClickHouse server: the loopback HTTP stand-in on the session's chdb directory
    (tests/clickhouse_http.py: the real ClickHouse engine, a stand-in transport). Skipped without
    clickhouse-connect (the adapter's driver), or fails when CHATBI_REQUIRE_CHDB=1."""
    import importlib.util

    from tests.clickhouse_http import serving

    if importlib.util.find_spec("clickhouse_connect") is None:
        if os.environ.get("CHATBI_REQUIRE_CHDB") == "1":
            pytest.fail("CHATBI_REQUIRE_CHDB=1 but clickhouse-connect is not installed")
        pytest.skip("clickhouse-connect is not installed (pip install 'chatbi[engines]')")

    with serving(chdb_dir) as server:
        yield server


@pytest.fixture(scope="session")
def demo_clickhouse_url(demo_db: Path, clickhouse_http: StandIn) -> str:
    from engines.load import load_demo

    url = clickhouse_http.url(f"{DEMO_NAMESPACE}_http")  # loaded over HTTP, beside the chdb copy
    load_demo(demo_db, url)
    return url


@pytest.fixture(scope="session")
def tiny_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny warehouse with two contract tables and their real column types."""
    path = tmp_path_factory.mktemp("tiny") / "tiny.duckdb"
    con = duckdb.connect(str(path))
    con.execute(
        "CREATE TABLE dim_sku (sku_id VARCHAR, sku_name VARCHAR, category VARCHAR, unit_cost DECIMAL(18,2),"
        " launch_date DATE)"
    )
    con.execute(
        "INSERT INTO dim_sku SELECT printf('sku%05d', i), '面膜' || i, '面膜', (i * 1.25)::DECIMAL(18,2),"
        " DATE '2024-01-01' + i::INTEGER FROM range(1, 21) t(i)"
    )
    con.execute(
        "CREATE TABLE fact_sales (order_id BIGINT, line_no INTEGER, order_date DATE, sku_id VARCHAR,"
        " quantity INTEGER, revenue DECIMAL(18,2), fulfillment_error BOOLEAN)"
    )
    con.execute(
        "INSERT INTO fact_sales SELECT i, 1, DATE '2024-01-01' + (i % 30)::INTEGER,"
        " printf('sku%05d', 1 + i % 20), 1 + i % 3, ((1 + i % 3) * 9.99)::DECIMAL(18,2), i % 17 = 0"
        " FROM range(100) t(i)"
    )
    con.close()
    return path


@pytest.fixture()
def no_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    """Simulate a guard bug: the engines run whatever text they are given."""
    monkeypatch.setattr(semantic_layer.guard, "guard_sql", lambda sql, **_: sql)  # engines._limits imports it


@pytest.fixture(scope="session")
def demo_spark_connect_url(demo_spark_url: str) -> Iterator[str]:
    """The same Parquet folder behind a real Spark Connect server (tests/spark_connect_server.py, its own
    JVM on a loopback port), read over ``sc://``. Started once per test session, stopped at its end."""
    import socket
    import subprocess
    import sys
    import threading

    folder = demo_spark_url.removeprefix("spark://local")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.spark_connect_server", folder, str(port)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )  # fmt: skip
    assert server.stdin is not None and server.stdout is not None
    ready = threading.Event()
    threading.Thread(target=lambda: server.stdout.readline() == "ready\n" and ready.set(), daemon=True).start()
    if not ready.wait(300):
        server.kill()
        pytest.fail("the Spark Connect test server did not start within 300 s")
    yield f"sc://127.0.0.1:{port}"
    server.stdin.close()
    try:
        server.wait(60)
    except subprocess.TimeoutExpired:
        server.kill()
