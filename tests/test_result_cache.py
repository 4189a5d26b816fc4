"""The result cache: keyed by (SQL, engine, data version), bounded, never older than its TTL, never across roles.

DuckDB's data version is the file's identity and modification time, so a refreshed warehouse (a new file
renamed over the old one) is read at once; PostgreSQL's is the model's freshness query, read at most every
``check_every_s`` seconds (needs CHATBI_TEST_PG_URL; skipped when unset, unless CHATBI_REQUIRE_PG=1).
Clocks are injected: nothing here sleeps.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from agent.assistant import Assistant
from engines import connect
from engines.result_cache import ResultCache, Throttled
from semantic_layer.compiler import compile_query
from semantic_layer.engine import QueryResult
from semantic_layer.query import MetricQuery, Period, Principal
from semantic_layer.semantic_model import Freshness, load_model

QUESTION = "What was GMV last month?"  # December 2025 on the demo
PG_SCHEMA = "chatbi_result_cache"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def result(value: int) -> QueryResult:
    return QueryResult(columns=["x"], rows=[(value,)], truncated=False)


# -- the cache on its own -------------------------------------------------------------------


def test_a_hit_is_the_stored_result_marked_cached() -> None:
    cache, runs = ResultCache(), []
    first = cache.fetch("SELECT 1", "e", "v1", lambda: runs.append(1) or result(1))
    again = cache.fetch("SELECT 1", "e", "v1", lambda: runs.append(1) or result(2))
    assert runs == [1] and first.cached is False and again.cached is True
    assert again.rows == [(1,)] and again.data_version == first.data_version == "v1"
    again.rows.append((99,))  # a caller changing its rows does not change the cache
    assert cache.fetch("SELECT 1", "e", "v1", lambda: result(3)).rows == [(1,)]


def test_sql_engine_and_version_are_all_in_the_key() -> None:
    cache = ResultCache()
    cache.fetch("SELECT 1", "e", "v1", lambda: result(1))
    assert cache.fetch("SELECT 2", "e", "v1", lambda: result(2)).cached is False
    assert cache.fetch("SELECT 1", "other", "v1", lambda: result(3)).cached is False
    assert cache.fetch("SELECT 1", "e", "v2", lambda: result(4)).rows == [(4,)]


def test_never_older_than_the_ttl() -> None:
    clock = Clock()
    cache = ResultCache(ttl_s=60, clock=clock)
    cache.fetch("SELECT 1", "e", "v", lambda: result(1))
    clock.now += 60
    assert cache.fetch("SELECT 1", "e", "v", lambda: result(2)).cached is True
    clock.now += 0.5
    expired = cache.fetch("SELECT 1", "e", "v", lambda: result(2))
    assert expired.cached is False and expired.rows == [(2,)]


def test_bounded_least_recently_used_first_and_big_results_not_kept() -> None:
    cache = ResultCache(max_entries=2, max_cells=3)
    cache.fetch("a", "e", "v", lambda: result(1))
    cache.fetch("b", "e", "v", lambda: result(2))
    cache.fetch("a", "e", "v", lambda: result(0))  # a is now the most recent
    cache.fetch("c", "e", "v", lambda: result(3))  # evicts b
    assert len(cache) == 2
    assert cache.fetch("a", "e", "v", lambda: result(0)).cached is True
    assert cache.fetch("b", "e", "v", lambda: result(0)).cached is False
    big = QueryResult(columns=["x", "y"], rows=[(1, 2), (3, 4)], truncated=False)
    cache.fetch("big", "e", "v", lambda: big)
    assert cache.fetch("big", "e", "v", lambda: big).cached is False


def test_without_a_version_nothing_is_cached() -> None:
    cache = ResultCache()
    cache.fetch("SELECT 1", "e", None, lambda: result(1))
    assert len(cache) == 0 and cache.fetch("SELECT 1", "e", None, lambda: result(2)).rows == [(2,)]


def test_throttled_reads_at_most_every_interval() -> None:
    clock, reads = Clock(), []
    version = Throttled(lambda: reads.append(clock.now) or f"v{len(reads)}", every_s=30, clock=clock)
    assert version() == "v1" and version() == "v1"
    clock.now += 29.9
    assert version() == "v1"
    clock.now += 0.1
    assert version() == "v2" and len(reads) == 2


# -- DuckDB: the file is the version ------------------------------------------------------------


@pytest.fixture()
def warehouse(demo_db: Path, tmp_path: Path) -> Path:
    """A private copy of the small demo: these tests write to it."""
    path = tmp_path / "warehouse.duckdb"
    shutil.copyfile(demo_db, path)
    return path


def add_december_sale(path: Path, revenue: str) -> None:
    """Refresh the warehouse as a loader would: write a new file with one more order line, rename it over."""
    fresh = path.with_name("fresh.duckdb")
    shutil.copyfile(path, fresh)
    con = duckdb.connect(str(fresh))
    con.execute(
        f"INSERT INTO fact_sales SELECT * REPLACE (order_id + 1000000000000 AS order_id, {revenue} AS revenue)"
        " FROM fact_sales WHERE order_date = DATE '2025-12-15' LIMIT 1"
    )
    con.close()
    os.replace(fresh, path)


def gmv(answer) -> Decimal:  # noqa: ANN001 - an Answer
    assert answer.status == "answer" and answer.columns == ["gmv"], answer.text
    return Decimal(str(answer.rows[0][0]))


def test_a_refreshed_duckdb_file_is_a_new_version_and_its_new_number_is_read(warehouse: Path) -> None:
    assistant = Assistant.open(warehouse)
    try:
        first = assistant.ask(QUESTION)
        again = assistant.ask(QUESTION)
        assert first.cached is False and again.cached is True
        assert again.data_version == first.data_version and first.data_version is not None
        assert gmv(again) == gmv(first)
        add_december_sale(warehouse, "1000.00")
        after = assistant.ask(QUESTION)
        assert after.cached is False and after.data_version != first.data_version
        assert gmv(after) == gmv(first) + 1000
        assert assistant.ask(QUESTION).cached is True  # and the new version is cached in turn
    finally:
        assistant.close()


def test_a_touched_duckdb_file_is_a_new_version(warehouse: Path) -> None:
    assistant = Assistant.open(warehouse)
    try:
        first = assistant.ask(QUESTION)
        stat = warehouse.stat()
        os.utime(warehouse, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        touched = assistant.ask(QUESTION)
        assert touched.cached is False and touched.data_version != first.data_version
    finally:
        assistant.close()


def test_answers_expire_after_the_ttl(warehouse: Path) -> None:
    clock = Clock()
    assistant = Assistant.open(warehouse, cache=ResultCache(ttl_s=120, clock=clock))
    try:
        assistant.ask(QUESTION)
        clock.now += 119
        assert assistant.ask(QUESTION).cached is True
        clock.now += 2
        assert assistant.ask(QUESTION).cached is False
    finally:
        assistant.close()


def test_no_cache_runs_every_query(warehouse: Path) -> None:
    assistant = Assistant.open(warehouse, cache=False)
    try:
        answers = [assistant.ask(QUESTION) for _ in range(2)]
        assert [(a.cached, a.data_version) for a in answers] == [(False, None), (False, None)]
    finally:
        assistant.close()


def test_the_cache_never_crosses_roles(warehouse: Path) -> None:
    """The row filter is in the SQL, so two store managers (and an admin) never share an entry."""
    assistant = Assistant.open(warehouse)
    shanghai = Principal(role="store_manager", store_id="st_sh01")
    beijing = Principal(role="store_manager", store_id="st_bj01")
    try:
        mine = assistant.ask("上个月销售额", principal=shanghai)
        theirs = assistant.ask("上个月销售额", principal=beijing)
        everyone = assistant.ask("上个月销售额", principal=Principal())
        assert (mine.cached, theirs.cached, everyone.cached) == (False, False, False)
        assert len({gmv(mine), gmv(theirs), gmv(everyone)}) == 3
        assert "st_sh01" in (mine.sql or "") and "st_bj01" in (theirs.sql or "")
        assert assistant.ask("上个月销售额", principal=shanghai).cached is True
        assert gmv(assistant.ask("上个月销售额", principal=shanghai)) == gmv(mine)
    finally:
        assistant.close()


# -- PostgreSQL: the model's freshness query is the version ----------------------------------------


@pytest.fixture(scope="module")
def pg_url(demo_db: Path) -> str:
    url = os.environ.get("CHATBI_TEST_PG_URL")
    if not url:
        if os.environ.get("CHATBI_REQUIRE_PG") == "1":
            pytest.fail("CHATBI_REQUIRE_PG=1 but CHATBI_TEST_PG_URL is not set")
        pytest.skip("CHATBI_TEST_PG_URL is not set")
    from engines.load import load_demo

    load_demo(demo_db, url, tables=["fact_sales"], schema=PG_SCHEMA)
    return url


@pytest.fixture()
def pg_writer(pg_url: str) -> Iterator[object]:
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"DELETE FROM {PG_SCHEMA}.fact_sales WHERE order_id >= 1000000000000")
        yield conn
        conn.execute(f"DELETE FROM {PG_SCHEMA}.fact_sales WHERE order_id >= 1000000000000")


def test_postgres_results_are_versioned_by_the_freshness_query(pg_url: str, pg_writer) -> None:  # noqa: ANN001
    clock = Clock()
    freshness = Freshness(sql="SELECT MAX(order_date) AS latest, COUNT(*) AS lines FROM fact_sales", check_every_s=30)
    sep = "&" if "?" in pg_url else "?"
    engine = connect(
        f"{pg_url}{sep}options=-csearch_path%3D{PG_SCHEMA}",
        allowed_tables={"fact_sales"},
        cache=ResultCache(ttl_s=600, clock=clock),
        freshness=freshness,
    )
    december = Period(start=dt.date(2025, 12, 1), end=dt.date(2025, 12, 31))
    query = compile_query(MetricQuery(metrics=["gmv"], period=december), load_model(), Principal(), "postgres")
    try:
        first = engine.execute(query.ast)
        again = engine.execute(query.ast)
        assert first.cached is False and again.cached is True
        assert first.data_version is not None and first.data_version.startswith("2025-12-31|")
        pg_writer.execute(  # type: ignore[attr-defined]
            f"INSERT INTO {PG_SCHEMA}.fact_sales SELECT order_id + 1000000000000, line_no, order_date, store_id, sku_id,"
            f" quantity, unit_price, 1000.00, cogs, promo_id, fulfillment_error FROM {PG_SCHEMA}.fact_sales"
            " WHERE order_date = DATE '2025-12-15' LIMIT 1"
        )
        clock.now += 29  # the freshness query is not run again within check_every_s
        assert engine.execute(query.ast).cached is True
        clock.now += 1
        after = engine.execute(query.ast)
        assert after.cached is False and after.data_version != first.data_version
        assert after.rows[0][0] == first.rows[0][0] + 1000
    finally:
        engine.close()


def test_postgres_without_a_freshness_query_caches_nothing(pg_url: str) -> None:
    sep = "&" if "?" in pg_url else "?"
    engine = connect(f"{pg_url}{sep}options=-csearch_path%3D{PG_SCHEMA}", allowed_tables={"fact_sales"},
                     cache=ResultCache())  # fmt: skip
    try:
        runs = [engine.execute("SELECT COUNT(*) FROM fact_sales") for _ in range(2)]
        assert [(r.cached, r.data_version) for r in runs] == [(False, None), (False, None)]
    finally:
        engine.close()


# -- the command line -----------------------------------------------------------------------------


@pytest.mark.parametrize(("flags", "cached"), [((), True), (("--no-cache",), False)], ids=["default", "no-cache"])
def test_serve_keeps_a_result_cache_unless_told_not_to(
    demo_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flags: tuple[str, ...], cached: bool
) -> None:
    from typer.testing import CliRunner

    import api.serve_cli
    from api.cli import app

    answers = []

    def serve_two_questions(assistant: Assistant, *args: object, **kwargs: object) -> None:  # instead of uvicorn
        answers.extend(assistant.ask(QUESTION) for _ in range(2))

    monkeypatch.setenv("CHATBI_HOME", str(tmp_path))
    monkeypatch.setattr(api.serve_cli, "_run", serve_two_questions)
    result = CliRunner().invoke(app, ["serve", "--db", str(demo_db), "--planner", "embedded", "--workers", "1", *flags])
    assert result.exit_code == 0, result.output
    assert [a.cached for a in answers] == [False, cached]


def test_query_with_no_cache_reports_no_data_version(demo_db: Path) -> None:
    import json

    from typer.testing import CliRunner

    from api.cli import app

    for flags, version in (((), True), (("--no-cache",), False)):
        result = CliRunner().invoke(app, ["query", "--metric", "gmv", "--db", str(demo_db), "--json", *flags])
        answer = json.loads(result.stdout)
        assert answer["cached"] is False and (answer["data_version"] is not None) is version
