"""`chatbi serve --workers N` gives each worker's DuckDB its share of the cores: N processes each running
a large query (an analysis tool's) would otherwise each ask for every core."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.server.worker import worker_environment
from engines import connect
from engines.duckdb_engine import THREADS_ENV


def test_a_worker_is_told_its_share_unless_the_operator_said_otherwise(
    demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(THREADS_ENV, raising=False)
    assert worker_environment(demo_db, "embedded", None, None, duckdb_threads=1)[THREADS_ENV] == "1"
    monkeypatch.setenv(THREADS_ENV, "2")
    assert THREADS_ENV not in worker_environment(demo_db, "embedded", None, None, duckdb_threads=1)


@pytest.mark.parametrize(("value", "expected"), [("1", 1), ("3", 3)])
def test_the_engine_runs_queries_on_that_many_threads(
    demo_db: Path, monkeypatch: pytest.MonkeyPatch, value: str, expected: int
) -> None:
    monkeypatch.setenv(THREADS_ENV, value)
    engine = connect(demo_db)
    try:
        assert engine._con.execute("SELECT current_setting('threads')").fetchone() == (expected,)  # type: ignore[attr-defined]
    finally:
        engine.close()
