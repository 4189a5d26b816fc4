"""`chatbi model check`: a model tried against a live warehouse names each problem's model entry and object."""

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
from semantic_layer.semantic_model import MODEL_DIR, load_model

runner = CliRunner()


@pytest.fixture()
def broken_db(demo_db: Path, tmp_path: Path) -> Path:
    """The small demo with one problem of each kind a warehouse can have against the model."""
    target = tmp_path / "broken.duckdb"
    shutil.copy(demo_db, target)
    con = duckdb.connect(str(target))
    try:
        con.execute("ALTER TABLE dim_warehouse RENAME COLUMN city TO town")  # a column the model names is gone
        con.execute("INSERT INTO dim_store SELECT * FROM dim_store LIMIT 2")  # a key that is not unique
        con.execute("DELETE FROM dim_sku WHERE sku_id IN (SELECT sku_id FROM dim_sku ORDER BY sku_id LIMIT 3)")
        con.execute("DROP TABLE fact_traffic_daily")  # a relation that is not there
        con.execute("ALTER TABLE dim_supplier RENAME COLUMN lead_time_std_days TO lead_sd")  # a tool's read breaks
    finally:
        con.close()
    return target


def test_the_demo_warehouse_matches_the_bundled_model(demo_db: Path) -> None:
    model = load_model()
    engine = connect(demo_db, allowed_tables={e.table for e in model.entities.values()})
    try:
        report = check_model(model, engine)
    finally:
        engine.close()
    assert report.ok and report.problems == []
    assert report.checked == {
        "relations": len(model.entities),
        "keys": sum(1 for e in model.entities.values() if e.key),
        "joins": sum(len(e.joins) for e in model.entities.values()),
        "metrics": len(model.metrics),
        "reads": len(model.reads),
    }


def test_each_read_is_parsed_once(demo_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check names a read's relations and runs it from one parse of its SQL (and of its fragment)."""
    import semantic_layer.tool_reads as tool_reads

    parsed: list[str] = []
    original = tool_reads._parse

    def counting(sql: str, where: str) -> object:
        parsed.append(where)
        return original(sql, where)

    monkeypatch.setattr(tool_reads, "_parse", counting)
    model = load_model()
    engine = connect(demo_db, allowed_tables={e.table for e in model.entities.values()})
    try:
        assert check_model(model, engine).ok
    finally:
        engine.close()
    with_fragment = sum(1 for r in model.reads.values() if r.fragment is not None)
    assert model.reads and len(parsed) == len(model.reads) + with_fragment
    assert len(set(parsed)) == len(parsed)


def test_each_problem_names_its_model_entry_and_warehouse_object(broken_db: Path) -> None:
    result = runner.invoke(app, ["model", "check", "--db", str(broken_db), "--json"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    found = {(p["severity"], p["entry"], p["target"]) for p in report["problems"]}
    assert ("error", "entities.yaml: entities 'dim_warehouse'", "dim_warehouse.city") in found
    assert ("error", "entities.yaml: entities 'dim_store'", "dim_store.store_id") in found
    assert ("error", "entities.yaml: entities 'fact_traffic_daily'", "fact_traffic_daily") in found
    lead_times = "reads.yaml: reads 'replenishment.lead_times'", "dim_supplier, fact_purchase_order"
    assert ("error", *lead_times) in found  # the tool's read, by name, with the relations it reads
    orphans = [p for p in report["problems"] if p["target"] == "fact_sales.sku_id -> dim_sku.sku_id"]
    assert orphans and orphans[0]["severity"] == "warning" and "match no key" in orphans[0]["message"]
    failing = {p["entry"] for p in report["problems"] if p["entry"].startswith("metrics.yaml")}
    assert "metrics.yaml: metrics 'conversion_rate'" in failing  # it reads the dropped traffic table
    assert not report["ok"]


def test_a_model_that_does_not_load_is_one_problem_and_exit_1(demo_db: Path, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    shutil.copytree(MODEL_DIR, folder)
    (folder / "metrics.yaml").write_text("metrics: [oops", encoding="utf-8")
    result = runner.invoke(app, ["model", "check", "--model", str(folder), "--db", str(demo_db), "--json"])
    assert result.exit_code == 1
    problem = json.loads(result.output)["problems"][0]
    assert problem["severity"] == "error" and "metrics.yaml" in problem["message"]


def test_a_missing_database_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["model", "check", "--db", str(tmp_path / "none.duckdb")])
    assert result.exit_code == 2 and "database not found" in result.output
