"""Scaffold a model folder from a warehouse's catalog: the first step of bringing your own warehouse.

What a catalog can tell is written out: every relation as an entity with its columns, a key where a
column named like the relation's ``*_id`` (or ``_code``, ``_no``, ``_key``: ERPs name keys so; or ``id``)
is unique, joins where a column is named like
another relation's key, the first date column as an entity's time, a dimension per keyed relation
and one row-count metric per dated relation, so that the folder loads, ``chatbi model check`` runs
it and ``chatbi ask`` answers "how many orders last month" at once. What only a person can decide
(what a metric means, its formula and format, the words people use, who may see what) is marked
``TODO`` for them: guessing a definition would be a wrong number said confidently.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import sqlglot.expressions as exp
import yaml

from semantic_layer.engine import Engine, EngineError
from semantic_layer.semantic_model import MODEL_DIR

#: Schemas whose relations are written unqualified (every engine's default one; Spark's temporary views
#: have none).
_DEFAULT_SCHEMAS = {"main", "public", "default", ""}
_DATE = re.compile(r"^(date|timestamp|datetime)", re.IGNORECASE)
_NAME = re.compile(r"[^a-z0-9_]+")
#: How key columns end: ``sku_id``, an ERP's ``shop_code`` / ``doc_no``, a warehouse's ``store_key``.
_KEY_SUFFIXES = ("_id", "_code", "_no", "_key")
_PREFIXES = ("dim_", "fact_", "fct_", "d_", "f_", "t_", "tbl_", "ods_", "dwd_", "dws_", "ads_")


class Catalogued(Engine, Protocol):
    def catalog(self, *, timeout_s: float = 60.0) -> list[tuple]: ...


def relations_of(rows: list[tuple]) -> set[str]:
    """The relations a catalog lists, as queries name them: the allow-list of the engine ``scaffold`` probes."""
    return {_qualified(schema, table) for schema, table, _, _ in rows}


def _qualified(schema: object, table: object) -> str:
    return str(table) if str(schema).lower() in _DEFAULT_SCHEMAS else f"{schema}.{table}"


@dataclass
class _Relation:
    table: str  # as queries name it (schema-qualified outside the default schema)
    name: str  # the entity's name
    columns: list[tuple[str, str]]  # (name, type)
    key: str | None = None
    time: str | None = None
    joins: list[tuple[str, str]] = field(default_factory=list)  # (column, entity)

    @property
    def stem(self) -> str:
        name = self.name
        for prefix in _PREFIXES:
            if name.startswith(prefix) and len(name) > len(prefix):
                return name[len(prefix) :]
        return name


@dataclass(frozen=True)
class Scaffold:
    files: dict[str, str]  # file name -> YAML text
    entities: int
    keys: int
    joins: int
    metrics: int


def scaffold(rows: list[tuple], engine: Engine, *, progress: Callable[[str], None] | None = None) -> Scaffold:
    """The model files for the catalog ``rows`` (``Catalogued.catalog()``), probing keys on ``engine``, which
    must allow every relation of them (``relations_of``); nothing is written."""
    step = progress or (lambda _: None)
    if not rows:
        raise EngineError("the warehouse has no relations to describe")
    relations: dict[str, _Relation] = {}
    for schema, table, column, kind in rows:
        qualified = _qualified(schema, table)
        name = _NAME.sub("_", str(table).lower()).strip("_") or "relation"
        if qualified not in relations:
            taken = {r.name for r in relations.values()}
            relations[qualified] = _Relation(qualified, name if name not in taken else f"{name}_{len(taken)}", [])
        relations[qualified].columns.append((str(column), str(kind)))
    for relation in relations.values():
        step(f"keys of {relation.table}")
        relation.key = _key(engine, relation)
        relation.time = next((c for c, kind in relation.columns if _DATE.match(kind)), None)
    keyed = {r.key: r for r in relations.values() if r.key}
    for relation in relations.values():
        for column, _ in relation.columns:
            target = keyed.get(column)
            if target is not None and target is not relation:
                relation.joins.append((column, target.name))
    sizes: dict[str, int] = {}
    for relation in (r for r in relations.values() if r.time):
        step(f"rows of {relation.table}")
        sizes[relation.table] = _rows(engine, relation)
    reference = max((r for r in relations.values() if r.table in sizes), key=lambda r: sizes[r.table], default=None)
    return _write(list(relations.values()), reference)


def scaffold_warehouse(target: str) -> Scaffold:
    """Read the catalog of the warehouse at ``target`` (a DuckDB path or an engine URL), then probe its keys
    on an engine whose allow-list is exactly the relations the catalog lists."""
    from engines import connect

    engine = connect(target, allowed_tables=set())
    try:
        rows = engine.catalog()  # type: ignore[attr-defined]
    finally:
        engine.close()
    engine = connect(target, allowed_tables=relations_of(rows))
    try:
        return scaffold(rows, engine)
    finally:
        engine.close()


def _key(engine: Engine, relation: _Relation) -> str | None:
    """The relation's ``<stem>_id`` (``_code``, ...) or ``id``, else its only key-like column, if its values
    are unique and filled."""
    names = [c for c, _ in relation.columns]
    candidates = [c for c in (*(relation.stem + s for s in _KEY_SUFFIXES), "id") if c in names]
    ids = [c for c in names if c.lower().endswith(_KEY_SUFFIXES)]
    if not candidates and len(ids) == 1:
        candidates = ids
    for column in candidates:
        key = exp.column(column)
        tree = exp.select(exp.Count(this=exp.Star()), exp.Count(this=exp.Distinct(expressions=[key.copy()]))).from_(
            exp.to_table(relation.table)
        )
        try:
            total, distinct = engine.execute(tree, row_limit=1, timeout_s=60.0).rows[0]
        except EngineError:
            continue
        if total and total == distinct:
            return column
    return None


def _rows(engine: Engine, relation: _Relation) -> int:
    tree = exp.select(exp.Count(this=exp.Star())).from_(exp.to_table(relation.table))
    try:
        return int(engine.execute(tree, row_limit=1, timeout_s=60.0).rows[0][0])
    except EngineError:
        return 0


def _name_column(relation: _Relation) -> str | None:
    """The column that names a keyed relation's members, guessed by name (``shop_name``, ``name``)."""
    for column, _ in relation.columns:
        if column != relation.key and (column == "name" or column.endswith("_name")):
            return column
    return None


def _write(relations: list[_Relation], reference: _Relation | None) -> Scaffold:
    today = dt.date.today().isoformat()
    header = (
        f"# Scaffolded by `chatbi model init` on {today} from the warehouse's catalog. Lines marked TODO\n"
        "# are for a person to decide; run `chatbi model check` after each change.\n"
    )
    entities = [_entity(r) for r in relations]
    dimensions: list[dict[str, Any]] = []
    for r in relations:
        if r.key and r.stem not in {"date", *(d["name"] for d in dimensions)}:
            words = r.stem.replace("_", " ")
            dimension: dict[str, Any] = {
                "name": r.stem, "name_zh": words, "name_en": words, "synonyms": [], "columns": [f"{r.name}.{r.key}"]
            }  # fmt: skip
            named = _name_column(r)
            if named is not None:  # members found by their names: "天猫旗舰店" is a shop
                dimension["label"] = {"zh": f"{r.name}.{named}", "en": f"{r.name}.{named}"}
                dimension["index"] = {}
            dimensions.append(dimension)
    measures: list[dict[str, Any]] = []
    metrics: list[dict[str, Any]] = []
    for r in relations:
        if r.time is None:
            continue
        measures.append({"name": f"{r.name}_count", "entity": r.name, "expr": "COUNT(*)"})
        metrics.append(
            {
                "id": f"{r.name}_rows",
                "name_zh": f"{r.stem}行数",
                "name_en": f"{r.stem.replace('_', ' ')} rows",
                "synonyms": [f"{r.stem.replace('_', ' ')} rows"],
                "description_zh": f"TODO: 说明口径。{r.table} 中 {r.time} 在期间内的行数 COUNT(*)。",
                "description_en": f"TODO: say what it means. Rows of {r.table} with {r.time} in the period, COUNT(*).",
                "formula": f"{r.name}_count",
                "format": "count",
                "domain": "sales",
                "owner": "TODO",
                "additive": True,
            }
        )
    time_dimension = {
        "name": "date",
        "name_zh": "日期",
        "name_en": "date",
        "synonyms": ["日期", "date"],
        "grains": [
            {"name": g, "name_zh": zh, "name_en": g, "synonyms": [f"按{zh}", f"by {g}"]}
            for g, zh in (("day", "日"), ("week", "周"), ("month", "月"), ("quarter", "季度"), ("year", "年"))
        ],
    }
    roles = [{"name": "admin", "description": "Everything. TODO: the roles of your users.", "domains": ["*"]}]
    files = {
        "entities.yaml": header
        + _dump({"entities": entities})
        + (
            "\n# TODO: the data's today is the day after the latest date of this relation (the largest dated one),\n"
            "# so \"last month\" is the data's last month; delete it on a live warehouse (the calendar's today).\n"
            + _dump({"reference_date": {"entity": reference.name}})
            if reference
            else ""
        ),
        "dimensions.yaml": header
        + "# TODO: each dimension's Chinese name, the words people use for it (synonyms), its members' names\n"
        + "# (label) and attributes; a dimension per keyed relation was guessed.\n"
        + _dump({"time_dimension": time_dimension, "dimensions": dimensions}),
        "measures.yaml": header + _dump({"measures": measures}),
        "metrics.yaml": header
        + "# TODO: the metrics people ask for (formula over measures, format, domain, synonyms).\n"
        + _dump({"metrics": metrics}),
        "roles.yaml": header + _dump({"roles": roles}),
        "planner/phrases.yaml": header
        + "# How people ask for the analysis tools, copied from chatbi's bundled phrase book. TODO: `scope` maps\n"
        + "# a dimension of yours to the argument it narrows the tool by (category, brand, sku_ids, warehouse_id),\n"
        + "# `rows` lists the dimensions the tool's table has, `shows` the metrics its answer shows for the period\n"
        + "# asked; a question naming anything else is asked about. Delete a tool your users should not be sent to.\n"
        + _dump({"tools": _tool_phrases({d["name"] for d in dimensions})}),
    }
    return Scaffold(
        files=files,
        entities=len(relations),
        keys=sum(1 for r in relations if r.key),
        joins=sum(len(r.joins) for r in relations),
        metrics=len(metrics),
    )


def _tool_phrases(dimensions: set[str]) -> dict[str, Any]:
    """The bundled phrase book's tool entries, keeping a scope or rows entry only for a dimension the new model
    has (of the same name) and no metric: the new model's metrics are its own."""
    bundled = yaml.safe_load((MODEL_DIR / "planner" / "phrases.yaml").read_text(encoding="utf-8"))
    tools: dict[str, Any] = {}
    for name, entry in (bundled.get("tools") or {}).items():
        kept = {k: v for k, v in entry.items() if k not in ("scope", "rows", "shows")}
        kept["scope"] = {d: s for d, s in (entry.get("scope") or {}).items() if d in dimensions}
        kept["rows"] = [d for d in entry.get("rows") or [] if d in dimensions]
        tools[name] = kept
    return tools


def _entity(r: _Relation) -> dict[str, Any]:
    entity: dict[str, Any] = {"name": r.name, "table": r.table}
    if r.key:
        entity["key"] = r.key
    if r.time:
        entity["time"] = r.time
    entity["columns"] = [c for c, _ in r.columns]
    if r.joins:
        entity["joins"] = [{"column": c, "to": to} for c, to in r.joins]
    return entity


def _dump(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=110, default_flow_style=None)


def write(result: Scaffold, folder: Path, *, force: bool = False) -> list[Path]:
    """Write the files into ``folder``; an existing model file is kept unless ``force``."""
    folder.mkdir(parents=True, exist_ok=True)
    existing = [folder / n for n in result.files if (folder / n).exists()]
    if existing and not force:
        raise FileExistsError(", ".join(str(p) for p in existing))
    paths = []
    for name, text in result.files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths
