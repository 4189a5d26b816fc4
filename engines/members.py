"""Read the dimension members that master data resolves mentions to, through the model and a (guarded) Engine."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from semantic_layer.engine import Engine, EngineError
from semantic_layer.master_data import DimensionRows, MasterData, MemberRows
from semantic_layer.query import EntityRead
from semantic_layer.semantic_model import Dimension, SemanticModel, load_model

# Enough for any dimension table we expect (the case demo has ~6,000 SKUs, ~24,000 aliases);
# a truncated read would silently drop members, so it is an error instead.
_MAX_ROWS = 2_000_000


def load_master_data(engine: Engine, *, model: SemanticModel | None = None, timeout_s: float = 30.0) -> MasterData:
    """Build the master-data index of ``model``'s indexed dimensions (default: the bundled model) from
    the warehouse behind ``engine``; the other labelled dimensions (customers, suppliers) are read
    too, so "天猫结算账户的应收余额" names a customer. A model without an indexed dimension reads nothing.

    On a DuckDB file the index is kept in the disk cache, keyed by the file's identity and modification
    time (a rebuilt warehouse is a new key), the model's files and this loader; other engines read it
    each time.
    """
    model = model or load_model()
    path = getattr(engine, "path", None)
    if engine.dialect != "duckdb" or not isinstance(path, Path):
        return _load(engine, model, timeout_s)
    from semantic_layer.disk_cache import cached, file_digest, file_identity

    model_files = sorted(model.folder.glob("*.yaml")) if model.folder is not None else []
    inputs = [file_identity(path), file_digest([Path(__file__), *model_files]), repr(model.folder).encode()]
    return cached("master-data", inputs, lambda: _load(engine, model, timeout_s))


def _load(engine: Engine, model: SemanticModel, timeout_s: float) -> MasterData:
    dimensions = [_dimension_rows(engine, model, d, timeout_s) for d in model.dimensions.values() if d.index]
    events = [(e.name_zh, e.name_en, *e.synonyms) for e in model.events]
    return MasterData(MemberRows(dimensions, events, _labelled_members(engine, model, timeout_s)))


def _dimension_rows(engine: Engine, model: SemanticModel, dim: Dimension, timeout_s: float) -> DimensionRows:
    """A dimension's members from its entity (key, names, start date), unless the model declares them
    all and names none in the warehouse (channels: a closed set of codes); and its aliases."""
    assert dim.index is not None
    index = dim.index
    declared = {m.code: (m.name_zh, m.name_en, *m.synonyms) for m in dim.members}
    members: list[tuple] = []
    if dim.label is not None or not declared:
        key = dim.columns[0]
        names = [dim.label.zh, dim.label.en] if dim.label else []
        columns = list(dict.fromkeys([key, *names, *([index.starts] if index.starts else [])]))
        rows = _read(engine, model, EntityRead(entity=dim.entity, columns=columns), dim.name, timeout_s)
        at = {ref: i for i, ref in enumerate(columns)}
        for row in rows:
            if row[0] is None:
                continue
            name = row[at[names[0]]] if names else row[0]
            name_en = row[at[names[1]]] if names else None
            members.append((row[0], name, name_en, row[at[index.starts]] if index.starts else None))
    aliases: Sequence[tuple] = ()
    if index.aliases is not None:
        owner = index.aliases.name.split(".", 1)[0]
        where = model.dimension_column(dim.name, owner)
        assert where is not None  # validated with the model
        columns = [index.aliases.name, f"{where.entity}.{where.column}"]
        columns += [index.aliases.source] if index.aliases.source else []
        rows = _read(engine, model, EntityRead(entity=owner, columns=columns), dim.name, timeout_s)
        aliases = [(row[0], row[1], row[2] if len(row) > 2 else None) for row in rows]
    return DimensionRows(dim.name, members, index, aliases, declared)


def _labelled_members(engine: Engine, model: SemanticModel, timeout_s: float) -> dict[str, list[tuple[str, ...]]]:
    """(key, Chinese name, English name) of each labelled dimension master data does not index."""
    out: dict[str, list[tuple[str, ...]]] = {}
    for dim in model.dimensions.values():
        if dim.index is not None or dim.label is None or dim.members:
            continue
        columns = list(dict.fromkeys([dim.columns[0], dim.label.zh, dim.label.en]))
        rows = _read(engine, model, EntityRead(entity=dim.entity, columns=columns), dim.name, timeout_s)
        names: dict[str, tuple[str, str]] = {}
        for row in rows:
            if row[0] is not None:
                names.setdefault(str(row[0]), (str(row[1]), str(row[-1])))
        out[dim.name] = [(key, zh, en) for key, (zh, en) in names.items()]
    return out


def _read(engine: Engine, model: SemanticModel, read: EntityRead, what: str, timeout_s: float) -> list[tuple]:
    from semantic_layer.compiler import compile_read  # here: master data from the disk cache needs no compiler

    compiled = compile_read(read, model, dialect=engine.dialect)
    result = engine.execute(compiled.ast, row_limit=_MAX_ROWS, timeout_s=timeout_s)
    if result.truncated:
        raise EngineError(f"master data: more than {_MAX_ROWS:,} rows of {what}")
    return [tuple(row) for row in result.rows]
