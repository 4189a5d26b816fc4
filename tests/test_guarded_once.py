"""The engine guards a compiled tree once: the same tree object run again reuses the guard's text (most of a
cached question's CPU was re-rendering it); a copy, other tables or another row limit are checked afresh."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlglot import exp

import semantic_layer.guard
from engines._limits import guarded_sql
from semantic_layer.compiler import compile_query
from semantic_layer.guard import GuardError
from semantic_layer.query import MetricQuery, Period
from semantic_layer.semantic_model import load_model

TABLES = frozenset({"fact_sales", "dim_store", "dim_sku", "dim_date"})


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[exp.Expr]:
    load_model()  # loading it checks the freshness query with the guard: not the calls counted here
    seen: list[exp.Expr] = []
    real = semantic_layer.guard.guard_ast  # imported by engines._limits when it checks a tree

    def counting(tree: exp.Expr, **kwargs: object) -> str:
        seen.append(tree)
        return real(tree, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(semantic_layer.guard, "guard_ast", counting)
    return seen


def gmv_tree() -> exp.Expr:
    query = MetricQuery(metrics=["gmv"], period=Period(start=dt.date(2025, 1, 1), end=dt.date(2025, 12, 31)))
    return compile_query(query, load_model(), dialect="duckdb").ast


def test_the_same_tree_is_guarded_once(calls: list[exp.Expr]) -> None:
    tree = gmv_tree()
    first = guarded_sql(tree, dialect="duckdb", allowed_tables=TABLES, row_limit=100)
    again = guarded_sql(tree, dialect="duckdb", allowed_tables=TABLES, row_limit=100)
    assert first == again and first.endswith("LIMIT 101") and calls == [tree]


def test_a_copy_other_tables_or_another_limit_are_checked_afresh(calls: list[exp.Expr]) -> None:
    tree = gmv_tree()
    guarded_sql(tree, dialect="duckdb", allowed_tables=TABLES, row_limit=100)
    copy = tree.copy()
    guarded_sql(copy, dialect="duckdb", allowed_tables=TABLES, row_limit=100)
    assert guarded_sql(tree, dialect="duckdb", allowed_tables=TABLES, row_limit=5).endswith("LIMIT 6")
    with pytest.raises(GuardError):  # the tables the guard allows are part of what it checked
        guarded_sql(tree, dialect="duckdb", allowed_tables=frozenset({"dim_store"}), row_limit=5)
    assert len(calls) == 4 and calls[1] is copy
