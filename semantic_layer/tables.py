"""The warehouse relations of the data contract (DATA_CONTRACT.md).

These are the only relations that SQL run by chatbi may read unless a caller
passes its own allow-list: the SQL guard rejects anything else (system
catalogs, files, other schemas).
"""

from __future__ import annotations

CONTRACT_TABLES: frozenset[str] = frozenset(
    {
        "dim_sku",
        "sku_alias",
        "dim_store",
        "dim_warehouse",
        "dim_supplier",
        "dim_customer",
        "dim_promotion",
        "fact_sales",
        "fact_inventory_daily",
        "fact_purchase_order",
        "fact_receivable",
        "fact_payable",
        "fact_traffic_daily",
        "fact_marketing_daily",
        "truth_elasticity",
    }
)
