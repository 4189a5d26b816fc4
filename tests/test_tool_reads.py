"""The analysis tools' reads come from the model (reads.yaml): declared, typed, bound as literals, narrowed
to the asker's rows, and a model without one refuses the tool by name."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import duckdb
import pytest
import yaml
from sqlglot import exp

from engines import connect
from semantic_layer.errors import PolicyDeniedError, QueryError
from semantic_layer.query import Principal
from semantic_layer.semantic_model import MODEL_DIR, load_model
from semantic_layer.tool_reads import compile_tool_read, parse_read
from tools.base import ToolContext
from tools.reads import Reader
from tools.replenishment import Arguments, ReplenishmentTool

MODEL = load_model()
DAY = dt.date(2025, 6, 30)
MANAGER = Principal(role="store_manager", store_id="tmall_flagship")


def test_every_read_of_the_demo_model_parses_with_its_declared_params_and_columns() -> None:
    assert MODEL.reads, "the demo model declares the tools' reads"
    for read in MODEL.reads.values():
        tree = parse_read(MODEL, read)
        assert tree.named_selects == read.columns
        assert {p.name for p in tree.find_all(exp.Placeholder)} == set(read.params)


def test_tool_python_names_no_table() -> None:
    """The reads are the model's: no entity's table appears in a tool's SQL text any more."""
    tables = {e.table for e in MODEL.entities.values()}
    for path in Path("tools").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for table in tables:
            assert not re.search(rf"\b(FROM|JOIN)\s+{table}\b", text, re.IGNORECASE), f"{path} reads {table}"


def test_parameters_are_bound_as_typed_literals_never_as_text() -> None:
    tree = compile_tool_read(
        MODEL, "replenishment.lead_times", {"start": DAY, "as_of": DAY, "settle": 60}, Principal(), "postgres"
    )
    sql = tree.sql("postgres")
    assert "CAST('2025-06-30' AS DATE)" in sql and "INTERVAL '60 DAY'" in sql and "$" not in sql
    with pytest.raises(QueryError, match="parameter 'settle' must be of type integer, got str"):
        compile_tool_read(
            MODEL, "replenishment.lead_times", {"start": DAY, "as_of": DAY, "settle": "60; DROP"}, Principal(), "duckdb"
        )
    with pytest.raises(QueryError, match="parameter 'as_of' must be of type date"):
        compile_tool_read(MODEL, "replenishment.order_quantities", {"as_of": "2025-06-30"}, Principal(), "duckdb")
    with pytest.raises(QueryError, match=r"parameters \['as_of'\] not given"):
        compile_tool_read(MODEL, "replenishment.order_quantities", {}, Principal(), "duckdb")
    with pytest.raises(QueryError, match=r"parameters \['day'\] not declared"):
        compile_tool_read(MODEL, "replenishment.order_quantities", {"as_of": DAY, "day": DAY}, Principal(), "duckdb")
    names = compile_tool_read(MODEL, "ccc.sku_names", {"sku_ids": ["a'b", "c"]}, Principal(), "duckdb").sql("duckdb")
    assert "IN ('a''b', 'c')" in names
    with pytest.raises(QueryError, match="non-empty list of texts"):
        compile_tool_read(MODEL, "ccc.sku_names", {"sku_ids": []}, Principal(), "duckdb")


def test_a_read_is_narrowed_to_the_askers_rows(demo_db: Path) -> None:
    engine = connect(demo_db, allowed_tables=MODEL.relations)
    try:
        params = {"start": dt.date(2025, 1, 1), "as_of": DAY}
        frame, sql = Reader(engine, MODEL, MANAGER).frame(
            "replenishment.channel_units", row_limit=1000, timeout_s=30, what="test", **params
        )
        whole, _ = Reader(engine, MODEL).frame(
            "replenishment.channel_units", row_limit=1000, timeout_s=30, what="test", **params
        )
    finally:
        engine.close()
    con = duckdb.connect(str(demo_db), read_only=True)
    try:
        expected = con.execute(
            "SELECT st.warehouse_id, st.channel, SUM(f.quantity) FROM fact_sales f JOIN dim_store st ON st.store_id = f.store_id"
            " WHERE f.store_id = 'tmall_flagship' AND f.order_date BETWEEN DATE '2025-01-01' AND DATE '2025-06-30'"
            " GROUP BY 1, 2 ORDER BY 1, 2"
        ).fetchall()
    finally:
        con.close()
    assert [(w, c, float(u)) for w, c, u in frame.itertuples(index=False)] == [(w, c, float(u)) for w, c, u in expected]
    assert len(whole) > len(frame) > 0 and "'tmall_flagship'" in sql


def test_facts_a_roles_filter_cannot_reach_refuse_the_read() -> None:
    params = {"start": dt.date(2025, 1, 1), "as_of": DAY, "floor": 0.2, "short": 56, "long": 182, "slow": 90}
    with pytest.raises(PolicyDeniedError, match="reads fact_inventory_daily, which is not kept per store"):
        compile_tool_read(MODEL, "replenishment.pairs", params, MANAGER, "duckdb")
    skus = compile_tool_read(MODEL, "ccc.sku_names", {"sku_ids": ["x"]}, MANAGER, "duckdb").sql("duckdb")
    assert "FROM dim_sku AS dim_sku WHERE dim_sku.sku_id IN ('x')" in skus  # descriptive rows are read whole


def test_a_model_without_a_read_refuses_the_tool_by_name(demo_db: Path, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    shutil.copytree(MODEL_DIR, folder)
    reads = yaml.safe_load((folder / "reads.yaml").read_text(encoding="utf-8"))
    reads["reads"] = [r for r in reads["reads"] if r["name"] != "replenishment.lead_times"]
    (folder / "reads.yaml").write_text(yaml.safe_dump(reads, allow_unicode=True), encoding="utf-8")
    model = load_model(folder)
    engine = connect(demo_db, allowed_tables=model.relations)
    try:
        context = ToolContext(engine, model, Principal(), dt.date(2026, 1, 1), "en")
        with pytest.raises(
            QueryError, match="needs the read 'replenishment.lead_times', which this model does not define"
        ):
            ReplenishmentTool().run(Arguments(), context)
    finally:
        engine.close()


def test_a_read_that_returns_other_columns_than_declared_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    shutil.copytree(MODEL_DIR, folder)
    path = folder / "reads.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("SUM(f.quantity) AS units", "SUM(f.quantity) AS qty", 1),
        encoding="utf-8",
    )
    model = load_model(folder)
    with pytest.raises(QueryError, match=r"reads\.yaml: reads 'replenishment.channel_units': the SQL returns .*'qty'"):
        compile_tool_read(model, "replenishment.channel_units", {"start": DAY, "as_of": DAY}, Principal(), "duckdb")
