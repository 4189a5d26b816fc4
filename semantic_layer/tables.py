"""The relations of the demo warehouse (DATA_CONTRACT.md): what the demo builder writes and the loaders copy.

Queries read only the model's relations (``SemanticModel.relations``, the guard's default allow-list);
this list adds the demo's answer key (``truth_elasticity``), which benchmarks and tests compare with.
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
