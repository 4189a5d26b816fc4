"""A warehouse whose names are not the contract's: an ERP-style copy of the small demo (the order lines
in schema ``ods`` as ``order_line``, its columns renamed) and a model folder mapping it with ``table:``
and ``column_map:`` give every governed metric of those lines the demo's numbers."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pytest

from engines import connect
from engines.model_check import check_model
from semantic_layer.compiler import compile_query
from semantic_layer.query import MetricQuery, Period
from semantic_layer.semantic_model import MODEL_DIR, SemanticModel, load_model

#: The demo's column -> the ERP copy's.
RENAMED = {"order_date": "biz_date", "revenue": "line_amount", "sku_id": "item_code", "store_id": "shop_code"}
PERIOD = Period(start=dt.date(2025, 10, 1), end=dt.date(2025, 12, 31))


@pytest.fixture(scope="module")
def erp(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SemanticModel]:
    root = tmp_path_factory.mktemp("erp")
    db = root / "erp.duckdb"
    shutil.copy(demo_db, db)
    con = duckdb.connect(str(db))
    try:
        columns = [r[0] for r in con.execute("DESCRIBE fact_sales").fetchall()]
        select = ", ".join(f"{c} AS {RENAMED.get(c, c)}" for c in columns)
        con.execute("CREATE SCHEMA ods")
        con.execute(f"CREATE TABLE ods.order_line AS SELECT {select} FROM fact_sales")
        con.execute("DROP TABLE fact_sales")
    finally:
        con.close()
    folder = root / "model"
    shutil.copytree(MODEL_DIR, folder)
    entities = folder / "entities.yaml"
    mapping = ", ".join(f"{k}: {v}" for k, v in RENAMED.items())
    text = entities.read_text(encoding="utf-8").replace(
        "  - name: fact_sales\n    table: fact_sales\n",
        f"  - name: fact_sales\n    table: ods.order_line\n    column_map: {{{mapping}}}\n",
        1,
    )
    # the freshness query is the author's own SQL over the warehouse: its names are the warehouse's
    text = text.replace("MAX(order_date) FROM fact_sales", "MAX(biz_date) FROM ods.order_line", 1)
    entities.write_text(text, encoding="utf-8")
    return db, load_model(folder)


def sales_metrics(model: SemanticModel) -> list[str]:
    return [m for m in model.metrics if any(x.entity == "fact_sales" for x in model.metric_measures(m))]


def run(db: Path, model: SemanticModel, query: MetricQuery) -> list[tuple]:
    engine = connect(db, allowed_tables=set(model.relations))
    try:
        return engine.execute(compile_query(query, model).ast, row_limit=100_000).rows
    finally:
        engine.close()


@pytest.mark.parametrize("by", [[], ["category"], ["channel"]])
def test_every_metric_of_the_renamed_lines_gives_the_demos_numbers(
    erp: tuple[Path, SemanticModel], demo_db: Path, by: list[str]
) -> None:
    db, model = erp
    bundled = load_model()
    metrics = sales_metrics(model)
    assert len(metrics) >= 5
    for metric_id in metrics:
        if any(d not in model.metric_dimensions(metric_id) for d in by):
            continue
        query = MetricQuery.model_validate(
            {"metrics": [metric_id], "dimensions": by, "period": PERIOD, "grain": "month"}
        )
        assert run(db, model, query) == run(demo_db, bundled, query), metric_id


def test_the_compiled_sql_names_the_warehouse_and_keeps_the_models_output(erp: tuple[Path, SemanticModel]) -> None:
    _, model = erp
    query = MetricQuery.model_validate({"metrics": ["gmv"], "dimensions": ["category"], "period": PERIOD})
    compiled = compile_query(query, model)
    sql = compiled.sql
    assert "FROM ods.order_line AS fact_sales" in sql and "SUM(fact_sales.line_amount)" in sql
    assert "fact_sales.item_code AS sku_id" in sql  # the rolled-up rows keep the model's names
    assert "FROM fact_sales" not in sql
    assert compiled.columns == compile_query(query, load_model()).columns


def test_model_check_reads_the_warehouse_names(erp: tuple[Path, SemanticModel]) -> None:
    db, model = erp
    engine = connect(db, allowed_tables=set(model.relations))
    try:
        report = check_model(model, engine)
    finally:
        engine.close()
    assert report.ok, report.problems


def test_a_column_map_naming_no_column_of_the_entity_fails_at_load(tmp_path: Path) -> None:
    from semantic_layer.semantic_model import ModelError

    folder = tmp_path / "model"
    shutil.copytree(MODEL_DIR, folder)
    entities = folder / "entities.yaml"
    entities.write_text(
        entities.read_text(encoding="utf-8").replace(
            "    table: fact_sales\n", "    table: fact_sales\n    column_map: {amount: line_amount}\n", 1
        ),
        encoding="utf-8",
    )
    with pytest.raises(ModelError, match="column_map: 'amount'"):
        load_model(folder)
