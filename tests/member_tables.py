"""Master data for a test, read by the real loader (through the model) from a small DuckDB file that
holds just the given rows in the demo's member tables; the other member tables are empty."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb
import pandas as pd

from engines import connect
from engines.members import load_master_data
from semantic_layer.master_data import MasterData
from semantic_layer.semantic_model import SemanticModel, load_model

TABLES = {
    "dim_sku": "sku_id VARCHAR, sku_name VARCHAR, sku_name_en VARCHAR, category VARCHAR, category_en VARCHAR,"
    " brand VARCHAR, brand_en VARCHAR",
    "sku_alias": "alias VARCHAR, sku_id VARCHAR, source_system VARCHAR",
    "dim_store": "store_id VARCHAR, store_name VARCHAR, store_name_en VARCHAR, channel VARCHAR, channel_type VARCHAR,"
    " city VARCHAR, city_en VARCHAR, region VARCHAR, region_en VARCHAR",
    "dim_warehouse": "warehouse_id VARCHAR, warehouse_name VARCHAR, warehouse_name_en VARCHAR, city VARCHAR",
    "dim_promotion": "promo_id VARCHAR, promo_name VARCHAR, start_date DATE",
    "dim_customer": "customer_id VARCHAR, customer_name VARCHAR",
    "dim_supplier": "supplier_id VARCHAR, supplier_name VARCHAR",
}


def master_data_of(
    folder: Path,
    *,
    skus: Sequence[tuple] = (),
    aliases: Sequence[tuple] = (),
    stores: Sequence[tuple] = (),
    warehouses: Sequence[tuple] = (),
    promotions: Sequence[tuple] = (),
    model: SemanticModel | None = None,
) -> MasterData:
    rows = {"dim_sku": skus, "sku_alias": aliases, "dim_store": stores, "dim_warehouse": warehouses,
            "dim_promotion": promotions}  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"members-{len(list(folder.glob('members-*.duckdb')))}.duckdb"
    con = duckdb.connect(str(path))
    try:
        for table, columns in TABLES.items():
            con.execute(f"CREATE TABLE {table} ({columns})")
            if rows.get(table):  # a frame: executemany takes half a minute for the case's 24,000 aliases
                names = [c.split()[0] for c in columns.split(",")]
                con.register("given", pd.DataFrame([list(r) for r in rows[table]], columns=names))
                con.execute(f"INSERT INTO {table} SELECT * FROM given")
                con.unregister("given")
    finally:
        con.close()
    engine = connect(path)
    try:
        return load_master_data(engine, model=model or load_model())
    finally:
        engine.close()
