"""What only the ClickHouse server adapter has: its URLs, the settings each request carries, users
whose own profile is read-only, and clear errors when the server is unreachable or refuses the user.

The server is the loopback HTTP stand-in running the real ClickHouse engine (tests/clickhouse_http.py);
the engine-generic checks (guard, read-only without the guard, limits, the demo's totals) are in
tests/test_engines_mysql_chdb.py and tests/test_cross_engine.py. Skipped without chdb unless
CHATBI_REQUIRE_CHDB=1.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from engines import connect
from engines.clickhouse_engine import clickhouse_params
from engines.load import load_demo
from semantic_layer.engine import EngineError, QueryTimeout
from tests.clickhouse_http import StandIn, serving
from tests.test_engines_mysql_chdb import SLOW_SQL

DATABASE = "chatbi_clickhouse_tests"


@pytest.fixture(scope="module")
def tiny_url(clickhouse_http: StandIn, tiny_db: Path) -> str:
    url = clickhouse_http.url(DATABASE)
    assert load_demo(tiny_db, url) == {"dim_sku": 20, "fact_sales": 100}
    return url


def test_url_forms() -> None:
    plain = clickhouse_params("clickhouse://reader:p%40ss@ch.example:9000/sales")
    assert plain == {
        "host": "ch.example",
        "port": 9000,
        "username": "reader",
        "password": "p@ss",
        "database": "sales",
        "secure": False,
    }
    tls = clickhouse_params("clickhouses://ch.example")
    assert (tls["port"], tls["secure"], tls["username"], tls["database"]) == (8443, True, "default", "default")
    assert clickhouse_params("clickhouse://ch.example")["port"] == 8123
    assert clickhouse_params("clickhouses://ch.example/db?ca_cert=/etc/ca.pem")["ca_cert"] == "/etc/ca.pem"
    for bad in ["clickhouse:///sales", "clickhouse://ch.example/a/b", "clickhousex://ch.example/db"]:
        with pytest.raises(EngineError, match="clickhouse://user:password@host:port/database"):
            clickhouse_params(bad)
    for bad in ["clickhouse://ch.example/db?ca_cert=/etc/ca.pem", "clickhouses://ch.example/db?verify=0"]:
        with pytest.raises(EngineError, match="ca_cert=PATH"):
            clickhouse_params(bad)


def test_tls_with_a_private_ca(chdb_dir: Path, tiny_url: str, tmp_path: Path) -> None:
    """clickhouses:// verifies the server's certificate: against ?ca_cert=, else the system's store."""
    if shutil.which("openssl") is None:
        pytest.skip("no openssl to make the test's certificate with")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    options = "req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1"
    subprocess.run(
        ["openssl", *options.split(), "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True
    )
    with serving(chdb_dir, tls=(cert, key)) as server:
        url = server.url(DATABASE)
        assert url.startswith("clickhouses://")
        engine = connect(f"{url}?ca_cert={cert}")
        try:
            assert engine.execute("SELECT COUNT(*) AS n FROM fact_sales").rows == [(100,)]
        finally:
            engine.close()
        with pytest.raises(EngineError, match="cannot connect to ClickHouse at 127.0.0.1:.*CERTIFICATE_VERIFY_FAILED"):
            connect(url)


def test_every_query_carries_the_limits(tiny_url: str, no_guard: None) -> None:
    """The settings reach the server with the query (read there, by ClickHouse itself)."""
    engine = connect(tiny_url)
    try:
        sql = (
            "SELECT getSetting('readonly') AS r, getSetting('join_use_nulls') AS j,"
            " getSetting('max_result_rows') AS m, getSetting('max_execution_time') AS t"
        )
        assert engine.execute(sql, row_limit=10, timeout_s=7).rows == [(1, True, 11, 7.0)]
    finally:
        engine.close()


def test_an_unanswered_query_times_out_on_the_client(tiny_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The HTTP read timeout is the backstop when the server does not answer within its own limit:
    here the client gives up 0.9 s before the server's 1 s limit would cancel the query."""
    import engines.clickhouse_engine

    monkeypatch.setattr(engines.clickhouse_engine, "_READ_GRACE_S", -0.9)
    engine = connect(tiny_url)
    try:
        with pytest.raises(QueryTimeout):
            engine.execute(SLOW_SQL, timeout_s=1)
        assert engine.execute("SELECT COUNT(*) AS n FROM dim_sku").rows == [(20,)], "usable after it"
    finally:
        engine.close()


def test_connection_errors_are_clear(clickhouse_http: StandIn, tiny_url: str, capfd: pytest.CaptureFixture) -> None:
    cases = [
        (clickhouse_http.url(DATABASE, password="s3cret-wrong"), "AUTHENTICATION_FAILED"),
        (clickhouse_http.url(DATABASE, user="nobody"), "AUTHENTICATION_FAILED"),
        (clickhouse_http.url("no_such_database"), "UNKNOWN_DATABASE"),
        ("clickhouse://default:s3cret-wrong@127.0.0.1:1/db", "Connection refused"),
    ]
    for url, cause in cases:
        with pytest.raises(EngineError, match="cannot connect to ClickHouse at 127.0.0.1:") as info:
            connect(url)
        message = str(info.value)
        assert cause in message and "\n" not in message and "s3cret" not in message, message
    assert capfd.readouterr().err == "", "no driver traceback on stderr"


def test_server_errors_are_one_line(tiny_url: str) -> None:
    engine = connect(tiny_url)
    try:
        with pytest.raises(EngineError, match=r"^ClickHouse: Code: 47\. .*UNKNOWN_IDENTIFIER") as info:
            engine.execute("SELECT no_such_column FROM dim_sku")
        assert "\n" not in str(info.value) and "version" not in str(info.value)
    finally:
        engine.close()


def test_a_read_only_user_is_told_what_it_needs(chdb_dir: Path, tiny_url: str) -> None:
    """A profile of readonly=1 forbids the time limit each query carries: said when connecting."""
    with serving(chdb_dir, profile={"readonly": "1"}) as server, pytest.raises(EngineError, match="readonly=2"):
        connect(server.url(DATABASE))


def test_a_readonly_2_user_works_and_cannot_write(chdb_dir: Path, tiny_url: str, no_guard: None) -> None:
    """readonly=2 (read, change settings) cannot be narrowed to 1, not even per request: its queries
    carry their limits without it, and its profile still refuses writes and DDL."""
    with serving(chdb_dir, profile={"readonly": "2"}) as server:
        engine = connect(server.url(DATABASE))
        try:
            assert engine.execute("SELECT COUNT(*) AS n FROM fact_sales").rows == [(100,)]
            sql = "SELECT getSetting('readonly') AS r, getSetting('max_result_rows') AS m"
            assert engine.execute(sql, row_limit=5).rows == [(2, 6)]
            for sql in [
                "DROP TABLE fact_sales",
                "INSERT INTO dim_sku (sku_id) VALUES ('evil')",
                "CREATE TABLE e (i Int8)",
            ]:
                with pytest.raises(EngineError, match="READONLY"):
                    engine.execute(sql)
            assert engine.execute("SELECT COUNT(*) AS n FROM fact_sales").rows == [(100,)]
        finally:
            engine.close()


def test_demo_load_command_over_http(clickhouse_http: StandIn, tiny_db: Path) -> None:
    from typer.testing import CliRunner

    from api.cli import app

    url = clickhouse_http.url("chatbi_clickhouse_cli_tests")
    result = CliRunner().invoke(app, ["demo", "load", "--db", str(tiny_db), "--engine", url, "--quiet"])
    assert result.exit_code == 0, result.output
    assert "loaded 2 tables, 120 rows" in result.output
    engine, duck = connect(url), connect(str(tiny_db))
    try:
        sql = "SELECT COUNT(*) AS n, SUM(revenue) AS r, MIN(order_date) AS d FROM fact_sales"
        assert engine.execute(sql).rows == duck.execute(sql).rows
    finally:
        engine.close()
        duck.close()
    with pytest.raises(EngineError, match="cannot connect to ClickHouse at 127.0.0.1:1"):
        load_demo(tiny_db, "clickhouse://default:@127.0.0.1:1/x")
