"""Compiled queries kept on disk as the guard's text (agent/prepared_sql.py): a repeated question from a new
process runs exactly the text the guard approved for that question, role and engine, and a stale entry is
never used (a model file, chatbi's or sqlglot's source, the role, the tables or the limit changed)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import agent.metric_runner
from agent import prepared_sql
from agent.metric_runner import run_metric_query
from engines import connect
from engines._limits import guarded_sql
from semantic_layer import disk_cache
from semantic_layer.compiler import compile_query
from semantic_layer.engine import Engine
from semantic_layer.guard import GuardError
from semantic_layer.prepared import GuardedSql, PreparedQuery
from semantic_layer.query import Filter, MetricQuery, Period, Principal
from semantic_layer.semantic_model import MODEL_DIR, MODEL_ENV, _load_default, load_model

DECEMBER = Period(start=dt.date(2025, 12, 1), end=dt.date(2025, 12, 31))
QUERY = MetricQuery(metrics=["gmv"], dimensions=["channel"], period=DECEMBER)
ADMIN = Principal()
MANAGER = Principal(role="store_manager", store_id="st_sh01")


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "cache"
    monkeypatch.setenv(disk_cache.CACHE_ENV, str(folder))
    new_process()
    yield folder
    new_process()


@pytest.fixture()
def engine(demo_db: Path) -> Iterator[Engine]:
    opened = connect(demo_db)
    yield opened
    opened.close()


def new_process() -> None:
    """What a new process starts without: the entries kept in memory and the compiled trees."""
    prepared_sql._memory.clear()
    agent.metric_runner._compiled.clear()


@pytest.fixture()
def compiles(monkeypatch: pytest.MonkeyPatch) -> list[MetricQuery]:
    seen: list[MetricQuery] = []
    real = agent.metric_runner.compile_cached

    def counting(query: MetricQuery, *args: object) -> object:
        seen.append(query)
        return real(query, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(agent.metric_runner, "compile_cached", counting)
    return seen


def prepare(engine: Engine, principal: Principal = ADMIN, query: MetricQuery = QUERY) -> PreparedQuery:
    prepared = prepared_sql.prepared_query(query, load_model(), principal, engine, 10_000)
    assert prepared is not None
    return prepared


def test_a_new_process_runs_the_kept_text_without_compiling(cache: Path, engine: Engine, compiles: list) -> None:
    first = prepare(engine)
    new_process()
    again = prepare(engine)
    assert again == first and len(compiles) == 1
    tree = compile_query(QUERY, load_model(), ADMIN, dialect="duckdb").ast
    tables = engine.allowed_tables  # type: ignore[attr-defined]
    assert again.guarded.text == guarded_sql(tree, dialect="duckdb", allowed_tables=tables, row_limit=10_000)
    assert again.sql == tree.sql(dialect="duckdb")
    assert len(list(cache.glob("prepared-*.pickle"))) == 1


def test_an_answer_from_the_kept_text_is_the_compiled_one(
    cache: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    query = MetricQuery(
        metrics=["gmv", "gross_margin"],
        grain="month",
        filters=[Filter(dimension="channel", members=["tmall"])],
        period=Period(start=dt.date(2025, 1, 1), end=dt.date(2025, 12, 31)),
        compare="yoy",
    )
    run_metric_query(query, engine, model=load_model())  # keeps it
    new_process()
    kept = run_metric_query(query, engine, model=load_model())
    monkeypatch.setenv(disk_cache.CACHE_ENV, "off")
    new_process()
    compiled = run_metric_query(query, engine, model=load_model())
    assert kept.status == "answer" and kept.to_json() == compiled.to_json()


def test_another_role_is_another_entry(cache: Path, engine: Engine, compiles: list) -> None:
    admin = prepare(engine)
    manager = prepare(engine, MANAGER)
    assert len(compiles) == 2 and "st_sh01" in manager.guarded.text and "st_sh01" not in admin.guarded.text
    new_process()
    assert prepare(engine, MANAGER) == manager and prepare(engine) == admin and len(compiles) == 2


def test_a_changed_model_file_is_a_miss(
    cache: Path, engine: Engine, compiles: list, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "model"
    shutil.copytree(MODEL_DIR, folder)
    monkeypatch.setenv(MODEL_ENV, str(folder))
    _load_default.cache_clear()
    prepare(engine)
    with (folder / "metrics.yaml").open("a", encoding="utf-8") as out:
        out.write("\n# a comment is a change too\n")
    _load_default.cache_clear()  # a new process reads the changed files
    new_process()
    prepare(engine)
    assert len(compiles) == 2
    monkeypatch.delenv(MODEL_ENV)
    _load_default.cache_clear()


def test_changed_source_is_a_miss(cache: Path, engine: Engine, compiles: list, monkeypatch: pytest.MonkeyPatch) -> None:
    prepare(engine)
    new_process()
    monkeypatch.setattr(prepared_sql, "_code", lambda: b"another chatbi or sqlglot")
    prepare(engine)
    assert len(compiles) == 2


def test_other_tables_or_limit_are_another_entry(cache: Path, engine: Engine, compiles: list) -> None:
    prepare(engine)
    assert prepared_sql.prepared_query(QUERY, load_model(), ADMIN, engine, 50) is not None
    narrow = connect(engine.path, allowed_tables={"fact_sales"})  # type: ignore[attr-defined]
    try:
        with pytest.raises(GuardError):  # compiled and checked again, for these tables: refused
            prepared_sql.prepared_query(QUERY, load_model(), ADMIN, narrow, 10_000)
    finally:
        narrow.close()
    assert len(compiles) == 3


def test_a_model_made_in_memory_is_never_kept(cache: Path, engine: Engine) -> None:
    changed = load_model().model_copy(update={"reference_entity": None})
    assert prepared_sql.prepared_query(QUERY, changed, ADMIN, engine, 10_000) is None
    assert not cache.exists() or not list(cache.glob("prepared-*.pickle"))


def test_text_approved_for_other_tables_is_checked_in_full() -> None:
    answer_key = GuardedSql(
        text="SELECT * FROM truth_elasticity", dialect="duckdb", allowed_tables=frozenset({"truth_elasticity"}),
        row_limit=10,
    )  # fmt: skip
    with pytest.raises(GuardError):
        guarded_sql(answer_key, dialect="duckdb", allowed_tables=frozenset({"fact_sales"}), row_limit=10)
    other_limit = GuardedSql(
        text="SELECT 1 AS x FROM fact_sales LIMIT 11", dialect="duckdb", allowed_tables=frozenset({"fact_sales"}),
        row_limit=10,
    )  # fmt: skip
    assert guarded_sql(other_limit, dialect="duckdb", allowed_tables=frozenset({"fact_sales"}), row_limit=10) == (
        other_limit.text
    )
    assert guarded_sql(other_limit, dialect="duckdb", allowed_tables=frozenset({"fact_sales"}), row_limit=3).endswith(
        "LIMIT 4"
    )


def test_a_repeated_cold_ask_imports_no_sqlglot(demo_db: Path, tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from api.cli import app\n"
        f"try:\n    app(['ask', sys.argv[1], '--db', {str(demo_db)!r}, '--json'])\n"
        "except SystemExit:\n    pass\n"
        "print('SQLGLOT', 'sqlglot' in sys.modules)\n"
    )
    env = {**os.environ, disk_cache.CACHE_ENV: str(tmp_path / "cache"), "CHATBI_HOME": str(tmp_path / "home")}

    def ask(question: str, **extra: str) -> tuple[dict, bool]:
        run = subprocess.run(
            [sys.executable, "-c", code, question], capture_output=True, text=True, check=True, env={**env, **extra}
        )
        answer, flag = run.stdout.rsplit("SQLGLOT", 1)
        return json.loads(answer), flag.strip() == "True"

    for question in ("上个月天猫的毛利率", "What was GMV by channel last month?"):
        fresh, _ = ask(question, **{disk_cache.CACHE_ENV: "off"})
        first, compiled = ask(question)
        again, imported = ask(question)
        assert compiled and not imported
        assert fresh == first == again and again["status"] == "answer"
