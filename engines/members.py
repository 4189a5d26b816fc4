"""Read the dimension members that master data resolves mentions to, through a (guarded) Engine."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from semantic_layer.compiler import compile_attributes
from semantic_layer.engine import Engine, EngineError
from semantic_layer.master_data import KINDS, Kind, MasterData, MemberRows
from semantic_layer.query import AttributeQuery
from semantic_layer.semantic_model import SemanticModel

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
    model: SemanticModel | None = None,
    timeout_s: float = 30.0,
) -> MasterData:
    """Build the master-data index from the warehouse behind `engine` (plus model synonyms, if any).

    With ``model``, the members of its other labelled dimensions (customers, suppliers) are read
    too, through the governed attribute listing, so "天猫结算账户的应收余额" names a customer.

    On a DuckDB file the index is kept in the disk cache, keyed by the file's identity and modification
    time (a rebuilt warehouse is a new key), the synonyms, the model's files and these queries; other
    engines read it each time.
    """
    path = getattr(engine, "path", None)
    if engine.dialect != "duckdb" or not isinstance(path, Path):
        return _load(engine, extra_synonyms, model, timeout_s)
    from semantic_layer.disk_cache import cached, file_digest, file_identity

    synonyms = repr(sorted((key, list(names)) for key, names in (extra_synonyms or {}).items())).encode()
    model_files = sorted(model.folder.glob("*.yaml")) if model is not None and model.folder is not None else []
    inputs = [file_identity(path), synonyms, file_digest([Path(__file__), *model_files]), repr(model is None).encode()]
    return cached("master-data", inputs, lambda: _load(engine, extra_synonyms, model, timeout_s))


def _load(
    engine: Engine,
    extra_synonyms: Mapping[tuple[Kind, str], Iterable[str]] | None,
    model: SemanticModel | None,
    timeout_s: float,
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
            labelled=_labelled_members(engine, model, timeout_s) if model is not None else {},
        )
    )


def _labelled_members(engine: Engine, model: SemanticModel, timeout_s: float) -> dict[str, list[tuple[str, ...]]]:
    """(key, Chinese name, English name) of each labelled dimension master data does not index."""
    out: dict[str, list[tuple[str, ...]]] = {}
    for dimension in model.dimensions.values():
        if dimension.name in KINDS or dimension.label is None or dimension.members:
            continue
        names: dict[str, list[str]] = {}
        for language in ("zh", "en"):
            query = AttributeQuery(dimension=dimension.name, attributes=[], limit=None)
            compiled = compile_attributes(query, model, dialect=engine.dialect, language=language)
            result = engine.execute(compiled.ast, row_limit=_MAX_ROWS, timeout_s=timeout_s)
            if result.truncated:
                raise EngineError(f"master data: more than {_MAX_ROWS:,} members of {dimension.name}")
            key_at, name_at = compiled.columns.index(dimension.name), compiled.columns.index(f"{dimension.name}_name")
            for row in result.rows:
                names.setdefault(str(row[key_at]), []).append(str(row[name_at]))
        out[dimension.name] = [(key, found[0], found[-1]) for key, found in names.items()]
    return out
