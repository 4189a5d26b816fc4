"""Read the dimension members that master data resolves mentions to, through a (guarded) Engine."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from semantic_layer.engine import Engine, EngineError
from semantic_layer.master_data import Kind, MasterData, MemberRows

# Enough for any dimension table we expect (the case demo has ~6,000 SKUs, ~24,000 aliases);
# a truncated read would silently drop members, so it is an error instead.
_MAX_ROWS = 2_000_000

_QUERIES = {
    "skus": "SELECT sku_id, sku_name, sku_name_en, category, category_en, brand, brand_en FROM dim_sku",
    "aliases": "SELECT alias, sku_id, source_system FROM sku_alias",
    "stores": (
        "SELECT store_id, store_name, store_name_en, channel, channel_type, city, city_en, region, region_en"
        " FROM dim_store"
    ),
    "warehouses": "SELECT warehouse_id, warehouse_name, warehouse_name_en, city FROM dim_warehouse",
    "promotions": "SELECT promo_id, promo_name, start_date FROM dim_promotion",
}


def load_master_data(
    engine: Engine,
    *,
    extra_synonyms: Mapping[tuple[Kind, str], Iterable[str]] | None = None,
    timeout_s: float = 30.0,
) -> MasterData:
    """Build the master-data index from the warehouse behind `engine` (plus model synonyms, if any).

    On a DuckDB file the index is kept in the disk cache, keyed by the file's identity and modification
    time (a rebuilt warehouse is a new key), the synonyms and these queries; other engines read it each time.
    """
    path = getattr(engine, "path", None)
    if engine.dialect != "duckdb" or not isinstance(path, Path):
        return _load(engine, extra_synonyms, timeout_s)
    from semantic_layer.disk_cache import cached, file_digest, file_identity

    synonyms = repr(sorted((key, list(names)) for key, names in (extra_synonyms or {}).items())).encode()
    inputs = [file_identity(path), synonyms, file_digest([Path(__file__)])]
    return cached("master-data", inputs, lambda: _load(engine, extra_synonyms, timeout_s))


def _load(
    engine: Engine, extra_synonyms: Mapping[tuple[Kind, str], Iterable[str]] | None, timeout_s: float
) -> MasterData:
    rows: dict[str, list[tuple]] = {}
    for name, sql in _QUERIES.items():
        result = engine.execute(sql + " ORDER BY 1, 2", row_limit=_MAX_ROWS, timeout_s=timeout_s)
        if result.truncated:
            raise EngineError(f"master data: more than {_MAX_ROWS:,} rows in {name}")
        rows[name] = result.rows
    return MasterData(
        MemberRows(
            skus=rows["skus"],
            aliases=rows["aliases"],
            stores=rows["stores"],
            warehouses=rows["warehouses"],
            promotions=rows["promotions"],
            extra_synonyms=extra_synonyms or {},
        )
    )
