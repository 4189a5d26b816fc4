"""A warehouse whose names are not the contract's: an ERP-style copy of the small demo (the order lines
in schema ``ods`` as ``order_line`` and the stores as ``ods.shop``, their columns renamed) and a model
folder mapping it with ``table:`` and ``column_map:`` give every governed metric of those lines, every
analysis tool and master data the demo's results."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pytest

from engines import connect
from engines.model_check import check_model
from semantic_layer.compiler import compile_query
from semantic_layer.query import MetricQuery, Period, Principal
from semantic_layer.semantic_model import MODEL_DIR, SemanticModel, load_model

#: The demo's column -> the ERP copy's.
RENAMED = {"order_date": "biz_date", "revenue": "line_amount", "sku_id": "item_code", "store_id": "shop_code"}
SHOP = {"store_id": "shop_code", "store_name": "shop_name", "city": "shop_city"}
TODAY = dt.date(2026, 1, 1)
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
        columns = [r[0] for r in con.execute("DESCRIBE dim_store").fetchall()]
        select = ", ".join(f"{c} AS {SHOP.get(c, c)}" for c in columns)
        con.execute(f"CREATE TABLE ods.shop AS SELECT {select} FROM dim_store")
        con.execute("DROP TABLE dim_store")
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
    ).replace(
        "  - name: dim_store\n    table: dim_store\n",
        "  - name: dim_store\n    table: ods.shop\n    column_map: {"
        + ", ".join(f"{k}: {v}" for k, v in SHOP.items())
        + "}\n",
        1,
    )
    assert "table: ods.shop" in text
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


def tool_output(db: Path, model: SemanticModel, name: str) -> tuple[str, list[str], list[list]]:
    from engines.members import load_master_data
    from tools import registry
    from tools.base import ToolContext

    engine = connect(db, allowed_tables=set(model.relations))
    try:
        tool = registry.load(name)
        context = ToolContext(engine, model, Principal(), TODAY, "zh", load_master_data(engine, model=model))
        output = tool.run(tool.Arguments(), context)
    finally:
        engine.close()
    return output.text, output.columns, output.rows


@pytest.mark.parametrize("name", ["replenishment", "elasticity", "ccc"])
def test_every_tool_on_the_renamed_warehouse_gives_the_demos_output(
    erp: tuple[Path, SemanticModel], demo_db: Path, name: str
) -> None:
    db, model = erp
    (text, columns, rows), demo = tool_output(db, model, name), tool_output(demo_db, load_model(), name)
    assert (text, columns) == demo[:2] and len(rows) == len(demo[2]) > 0
    for got, want in zip(rows, demo[2], strict=True):  # a fit's last digits follow the engine's row order
        assert got == [pytest.approx(v, rel=1e-6) if isinstance(v, float) else v for v in want]


def test_master_data_on_the_renamed_warehouse_resolves_as_on_the_demo(
    erp: tuple[Path, SemanticModel], demo_db: Path
) -> None:
    from engines.members import load_master_data

    def members(db: Path, model: SemanticModel) -> tuple[set, list]:
        engine = connect(db, allowed_tables=set(model.relations))
        try:
            master = load_master_data(engine, model=model)
        finally:
            engine.close()
        every = {(m.kind, m.key, m.name, m.name_en) for kind in master.kinds for m in master.members(kind)}
        found = [master.resolve(mention) for mention in ("上海南京路店", "南京路", "Shangahi", "天猫旗舰店", "面膜套装")]
        return every, found

    renamed, demo = members(*erp), members(demo_db, load_model())
    assert renamed == demo and len(renamed[0]) > 300
