"""A tool's SQL over the model's entities becomes the warehouse's: checked against the model, renamed
by ``table:`` and ``column_map:``, rendered per dialect; and the plain typed reads (EntityRead)."""

from __future__ import annotations

import shutil

import pytest

from semantic_layer.compiler import compile_read
from semantic_layer.errors import PolicyDeniedError, QueryError
from semantic_layer.logical_sql import to_warehouse
from semantic_layer.query import EntityRead, Filter, Principal
from semantic_layer.semantic_model import MODEL_DIR, SemanticModel, load_model

MODEL = load_model()


@pytest.fixture(scope="module")
def renamed(tmp_path_factory: pytest.TempPathFactory) -> SemanticModel:
    folder = tmp_path_factory.mktemp("model") / "m"
    shutil.copytree(MODEL_DIR, folder)
    entities = folder / "entities.yaml"
    entities.write_text(
        entities.read_text(encoding="utf-8").replace(
            "  - name: fact_sales\n    table: fact_sales\n",
            "  - name: fact_sales\n    table: ods.order_line\n    column_map: {order_date: biz_date, quantity: qty}\n",
            1,
        ).replace("MAX(order_date) FROM fact_sales", "MAX(biz_date) FROM ods.order_line", 1),  # the author's own SQL
        encoding="utf-8",
    )
    return load_model(folder)


def test_names_become_the_warehouses_and_outputs_keep_the_models(renamed: SemanticModel) -> None:
    sql = "SELECT sku_id, SUM(quantity) AS units FROM fact_sales WHERE order_date >= DATE '2025-01-01' GROUP BY sku_id"
    out = to_warehouse(sql, renamed, "duckdb").sql("duckdb")
    assert "FROM ods.order_line AS fact_sales" in out
    assert "SUM(fact_sales.qty) AS units" in out and "fact_sales.biz_date >=" in out
    assert "fact_sales.sku_id AS sku_id" in out


def test_aliases_ctes_and_joins_are_resolved_per_relation(renamed: SemanticModel) -> None:
    sql = (
        "WITH s AS (SELECT f.sku_id, f.order_date AS day, f.quantity FROM fact_sales f JOIN dim_store st"
        " ON st.store_id = f.store_id) SELECT day, SUM(quantity) FROM s GROUP BY day"
    )
    out = to_warehouse(sql, renamed, "postgres").sql("postgres")
    assert "FROM ods.order_line AS f JOIN dim_store AS st" in out
    assert "f.biz_date AS day" in out and "f.qty AS quantity" in out
    assert "SUM(s.quantity)" in out  # the CTE's own column is not a base column: it keeps its name


def test_a_relation_or_column_the_model_does_not_declare_is_refused() -> None:
    with pytest.raises(QueryError, match="'stock_ledger', which the model does not declare"):
        to_warehouse("SELECT sku_id FROM stock_ledger", MODEL, "duckdb")
    with pytest.raises(QueryError, match="column the model does not declare"):
        to_warehouse("SELECT f.discount_code FROM fact_sales f", MODEL, "duckdb")


def test_planner_hints_are_kept_only_where_they_parse() -> None:
    sql = "WITH d AS MATERIALIZED (SELECT sku_id FROM fact_sales) SELECT sku_id FROM d"
    assert "AS MATERIALIZED" in to_warehouse(sql, MODEL, "postgres").sql("postgres")
    for dialect in ("mysql", "clickhouse", "spark"):
        assert "MATERIALIZED" not in to_warehouse(sql, MODEL, dialect).sql(dialect)


def test_a_read_names_its_columns_and_joins_what_it_reaches(renamed: SemanticModel) -> None:
    read = EntityRead(entity="sku_alias", columns=["sku_alias.alias", "dim_sku.category"])
    compiled = compile_read(read, MODEL)
    sql = compiled.ast.sql("duckdb")
    assert sql.startswith("SELECT DISTINCT sku_alias.alias AS alias, dim_sku.category AS category FROM sku_alias")
    assert "LEFT JOIN dim_sku" in sql and compiled.columns == ["alias", "category"]
    renamed_sql = compile_read(EntityRead(entity="fact_sales", columns=["fact_sales.order_date"]), renamed).ast.sql()
    assert "fact_sales.biz_date AS order_date" in renamed_sql and "ods.order_line" in renamed_sql


def test_a_read_takes_the_roles_row_filter_where_its_entity_reaches_it() -> None:
    manager = Principal(role="store_manager", store_id="st_sh01")
    stores = compile_read(EntityRead(entity="dim_store", columns=["dim_store.store_name"]), MODEL, manager)
    assert "WHERE dim_store.store_id IN ('st_sh01')" in stores.ast.sql() or "= 'st_sh01'" in stores.ast.sql()
    skus = compile_read(EntityRead(entity="dim_sku", columns=["dim_sku.sku_name"]), MODEL, manager)
    assert "WHERE" not in skus.ast.sql()  # no store owns a SKU
    with pytest.raises(PolicyDeniedError):
        compile_read(EntityRead(entity="dim_store", columns=["dim_store.store_name"]), MODEL, Principal(role="store_manager"))


def test_a_read_of_what_the_model_lacks_is_refused() -> None:
    with pytest.raises(QueryError, match="unknown entity 'dim_skus'; did you mean dim_sku"):
        compile_read(EntityRead(entity="dim_skus", columns=["dim_sku.sku_name"]), MODEL)
    with pytest.raises(QueryError, match="not a column the model declares"):
        compile_read(EntityRead(entity="dim_sku", columns=["dim_sku.colour"]), MODEL)
    with pytest.raises(QueryError, match="does not reach dim_supplier"):
        compile_read(EntityRead(entity="dim_store", columns=["dim_supplier.supplier_name"]), MODEL)
    with pytest.raises(QueryError, match="cannot be filtered by supplier"):
        compile_read(
            EntityRead(entity="dim_store", columns=["dim_store.store_name"], filters=[Filter(dimension="supplier", members=["s1"])]),
            MODEL,
        )
