"""The per-process compile cache: a hit is the same compilation, and it never crosses principals or models."""

from __future__ import annotations

import datetime as dt

from agent.metric_runner import compile_cached
from semantic_layer.compiler import compile_query
from semantic_layer.query import MetricQuery, Period, Principal
from semantic_layer.semantic_model import load_model

QUERY = MetricQuery(metrics=["gmv"], period=Period(start=dt.date(2025, 1, 1), end=dt.date(2025, 12, 31)))


def test_a_repeated_query_reuses_its_compilation() -> None:
    model = load_model()
    first = compile_cached(QUERY, model, Principal(), "duckdb")
    again = compile_cached(QUERY.model_copy(), model, Principal(), "duckdb")
    assert again is first
    assert first.sql == compile_query(QUERY, model, Principal(), dialect="duckdb").sql


def test_the_cache_never_crosses_principals_dialects_or_models() -> None:
    model = load_model()
    admin = compile_cached(QUERY, model, Principal(), "duckdb")
    manager = compile_cached(QUERY, model, Principal(role="store_manager", store_id="st_sh01"), "duckdb")
    assert manager is not admin
    assert "st_sh01" in manager.sql and "st_sh01" not in admin.sql
    assert compile_cached(QUERY, model, Principal(), "postgres").dialect == "postgres"
    other = model.model_copy()  # an equal model that is another object: compiled afresh
    assert compile_cached(QUERY, other, Principal(), "duckdb") is not admin
