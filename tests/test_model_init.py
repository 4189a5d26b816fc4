"""`chatbi model init`: a model folder scaffolded from a warehouse's catalog loads, passes `model check`
and answers a row-count question at once; what only a person can decide is marked TODO."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from api.cli import app
from engines import connect
from engines.model_check import check_model
from semantic_layer.semantic_model import load_model

runner = CliRunner()


@pytest.fixture()
def scaffolded(demo_db: Path, tmp_path: Path) -> Path:
    out = tmp_path / "model"
    result = runner.invoke(app, ["model", "init", "--db", str(demo_db), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "15 entities" in result.output
    return out


def test_the_scaffold_reads_keys_joins_and_time_from_the_catalog(scaffolded: Path) -> None:
    model = load_model(scaffolded)
    sales = model.entities["fact_sales"]
    assert sales.time == "order_date" and sales.key is None
    assert {(j.column, j.to) for j in sales.joins} >= {("sku_id", "dim_sku"), ("store_id", "dim_store")}
    assert model.entities["dim_sku"].key == "sku_id" and model.entities["dim_promotion"].key == "promo_id"
    assert "fact_sales_rows" in model.metrics and "TODO" in model.metrics["fact_sales_rows"].description_en


def test_the_scaffold_passes_model_check_and_answers(scaffolded: Path, demo_db: Path) -> None:
    model = load_model(scaffolded)
    engine = connect(demo_db, allowed_tables=set(model.relations))
    try:
        assert check_model(model, engine).ok
    finally:
        engine.close()
    result = runner.invoke(
        app, ["--model", str(scaffolded), "ask", "--db", str(demo_db), "--json", "上个月的sales行数"]
    )
    answer = json.loads(result.output)
    assert answer["status"] == "answer" and answer["plan"]["metrics"] == ["fact_sales_rows"]
    con = duckdb.connect(str(demo_db), read_only=True)
    try:
        (expected,) = con.execute(
            "SELECT COUNT(*) FROM fact_sales WHERE order_date BETWEEN '2025-12-01' AND '2025-12-31'"
        ).fetchone()  # type: ignore[misc]
    finally:
        con.close()
    assert answer["rows"] == [[expected]]


def test_the_scaffold_sends_tool_questions_to_the_tools_scoped_by_its_own_dimensions(
    scaffolded: Path, demo_db: Path
) -> None:
    from agent.phrases import Phrases

    model = load_model(scaffolded)
    phrases = Phrases.load(model)  # the copied section loads against the new model
    assert set(phrases.tool_names) == {"replenishment", "elasticity", "ccc"}
    # a scope is kept for a dimension of the same name (dim_sku made "sku"), not for one the model lacks
    assert phrases.tool_scopes["replenishment"] == {"sku": ("sku_ids", True), "warehouse": ("warehouse_id", False)}
    assert "category" not in model.dimensions
    result = runner.invoke(app, ["--model", str(scaffolded), "ask", "--db", str(demo_db), "--json", "哪些SKU需要补货"])
    answer = json.loads(result.output)  # routed to the tool, which names what this model lacks
    assert answer["status"] == "refusal" and "units_sold" in answer["text"]


def test_existing_model_files_are_kept_unless_forced(scaffolded: Path, demo_db: Path) -> None:
    again = runner.invoke(app, ["model", "init", "--db", str(demo_db), "--out", str(scaffolded)])
    assert again.exit_code == 2 and "--force" in again.output
    forced = runner.invoke(app, ["model", "init", "--db", str(demo_db), "--out", str(scaffolded), "--force"])
    assert forced.exit_code == 0


def test_a_relation_outside_the_default_schema_is_named_with_it(demo_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "erp.duckdb"
    shutil.copy(demo_db, db)
    con = duckdb.connect(str(db))
    try:
        con.execute("CREATE SCHEMA ods")
        con.execute("CREATE TABLE ods.order_line AS SELECT * FROM fact_sales")
    finally:
        con.close()
    out = tmp_path / "model"
    assert runner.invoke(app, ["model", "init", "--db", str(db), "--out", str(out)]).exit_code == 0
    assert load_model(out).entities["order_line"].table == "ods.order_line"


@pytest.mark.parametrize(
    "url_fixture", ["demo_pg_url", "demo_mysql_url", "demo_chdb_url", "demo_clickhouse_url", "demo_spark_url"]
)
def test_every_server_engine_scaffolds_a_model_that_checks(url_fixture: str, request: pytest.FixtureRequest) -> None:
    from engines.model_init import scaffold_warehouse

    result = scaffold_warehouse(request.getfixturevalue(url_fixture))
    assert result.entities == 15 and result.keys == 6 and result.metrics == 9
