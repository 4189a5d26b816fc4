"""The warehouse tables of DATA_CONTRACT.md with their column types.

Money is DECIMAL(18,2) so that sums are exact and agree across engines; the extra columns
(English names, a SKU's supplier, a store's warehouse) are additions the contract welcomes.
"""

from __future__ import annotations

MONEY = "DECIMAL(18,2)"

COLUMNS: dict[str, list[tuple[str, str]]] = {
    "dim_sku": [
        ("sku_id", "VARCHAR NOT NULL"),
        ("sku_name", "VARCHAR NOT NULL"),
        ("sku_name_en", "VARCHAR NOT NULL"),
        ("category", "VARCHAR NOT NULL"),
        ("category_en", "VARCHAR NOT NULL"),
        ("brand", "VARCHAR NOT NULL"),
        ("brand_en", "VARCHAR NOT NULL"),
        ("supplier_id", "VARCHAR NOT NULL"),
        ("unit_cost", MONEY),
        ("list_price", MONEY),
        ("launch_date", "DATE NOT NULL"),
    ],
    "sku_alias": [("alias", "VARCHAR NOT NULL"), ("sku_id", "VARCHAR NOT NULL"), ("source_system", "VARCHAR NOT NULL")],
    "dim_store": [
        ("store_id", "VARCHAR NOT NULL"),
        ("store_name", "VARCHAR NOT NULL"),
        ("store_name_en", "VARCHAR NOT NULL"),
        ("channel", "VARCHAR NOT NULL"),
        ("channel_type", "VARCHAR NOT NULL"),
        ("city", "VARCHAR NOT NULL"),
        ("city_en", "VARCHAR NOT NULL"),
        ("region", "VARCHAR NOT NULL"),
        ("region_en", "VARCHAR NOT NULL"),
        ("warehouse_id", "VARCHAR NOT NULL"),
    ],
    "dim_warehouse": [
        ("warehouse_id", "VARCHAR NOT NULL"),
        ("warehouse_name", "VARCHAR NOT NULL"),
        ("warehouse_name_en", "VARCHAR NOT NULL"),
        ("city", "VARCHAR NOT NULL"),
    ],
    "dim_supplier": [
        ("supplier_id", "VARCHAR NOT NULL"),
        ("supplier_name", "VARCHAR NOT NULL"),
        ("lead_time_days", "DOUBLE"),
        ("lead_time_std_days", "DOUBLE"),
        ("payment_terms_days", "INTEGER"),
    ],
    "dim_customer": [
        ("customer_id", "VARCHAR NOT NULL"),
        ("customer_name", "VARCHAR NOT NULL"),
        ("customer_type", "VARCHAR NOT NULL"),
        ("payment_terms_days", "INTEGER"),
    ],
    "dim_promotion": [
        ("promo_id", "VARCHAR NOT NULL"),
        ("promo_name", "VARCHAR NOT NULL"),
        ("channel", "VARCHAR"),
        ("start_date", "DATE NOT NULL"),
        ("end_date", "DATE NOT NULL"),
        ("discount_pct", "DOUBLE"),
        ("cost", MONEY),
    ],
    "fact_sales": [
        ("order_id", "BIGINT NOT NULL"),
        ("line_no", "INTEGER NOT NULL"),
        ("order_date", "DATE NOT NULL"),
        ("store_id", "VARCHAR NOT NULL"),
        ("sku_id", "VARCHAR NOT NULL"),
        ("quantity", "INTEGER NOT NULL"),
        ("unit_price", MONEY),
        ("revenue", MONEY),
        ("cogs", MONEY),
        ("promo_id", "VARCHAR"),
        ("fulfillment_error", "BOOLEAN NOT NULL"),
    ],
    "fact_inventory_daily": [
        ("snapshot_date", "DATE NOT NULL"),
        ("warehouse_id", "VARCHAR NOT NULL"),
        ("sku_id", "VARCHAR NOT NULL"),
        ("on_hand_qty", "INTEGER NOT NULL"),
        ("in_transit_qty", "INTEGER NOT NULL"),
        ("inventory_value", MONEY),
    ],
    "fact_purchase_order": [
        ("po_id", "VARCHAR NOT NULL"),
        ("supplier_id", "VARCHAR NOT NULL"),
        ("sku_id", "VARCHAR NOT NULL"),
        ("warehouse_id", "VARCHAR NOT NULL"),
        ("order_date", "DATE NOT NULL"),
        ("expected_date", "DATE NOT NULL"),
        ("received_date", "DATE"),
        ("quantity", "INTEGER NOT NULL"),
        ("unit_cost", MONEY),
        ("amount", MONEY),
    ],
    "fact_receivable": [
        ("invoice_id", "VARCHAR NOT NULL"),
        ("customer_id", "VARCHAR NOT NULL"),
        ("invoice_date", "DATE NOT NULL"),
        ("due_date", "DATE NOT NULL"),
        ("amount", MONEY),
        ("paid_date", "DATE"),
    ],
    "fact_payable": [
        ("bill_id", "VARCHAR NOT NULL"),
        ("supplier_id", "VARCHAR NOT NULL"),
        ("bill_date", "DATE NOT NULL"),
        ("due_date", "DATE NOT NULL"),
        ("amount", MONEY),
        ("paid_date", "DATE"),
    ],
    "fact_traffic_daily": [
        ("date", "DATE NOT NULL"),
        ("store_id", "VARCHAR NOT NULL"),
        ("visitors", "INTEGER NOT NULL"),
    ],
    "fact_marketing_daily": [
        ("date", "DATE NOT NULL"),
        ("channel", "VARCHAR NOT NULL"),
        ("spend", MONEY),
        ("impressions", "BIGINT NOT NULL"),
        ("engagements", "BIGINT NOT NULL"),
    ],
    "truth_elasticity": [("category", "VARCHAR NOT NULL"), ("elasticity", "DOUBLE NOT NULL")],
}

TABLE_ORDER = list(COLUMNS)

DDL = {
    table: f'CREATE TABLE "{table}" (' + ", ".join(f'"{name}" {kind}' for name, kind in cols) + ")"
    for table, cols in COLUMNS.items()
}
