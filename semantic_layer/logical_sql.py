"""A tool's own SQL over the model's entities, made the warehouse's: for the reads no metric covers
(the elasticity panel, the replenishment history, aging by document).

Tools write one SELECT in DuckDB's dialect with the model's logical names (entity and column names,
the contract's). :func:`to_warehouse` checks that every relation it reads is an entity of the model
and every column one the entity declares (a customer's model without stock data refuses the
replenishment read by name, instead of the warehouse failing on a missing table), qualifies every
column with sqlglot so each is tied to its relation (a ``*`` becomes the declared columns), renames columns by the entities' ``column_map``
and relations by their ``table:``, and renders the tree in the engine's dialect. The engine's guard
then checks the statement as it checks every other.
"""

from __future__ import annotations

import sqlglot
import sqlglot.errors
from sqlglot import exp
from sqlglot.optimizer.qualify import qualify

from semantic_layer.dialects import for_dialect
from semantic_layer.errors import QueryError
from semantic_layer.physical import rename_columns
from semantic_layer.semantic_model import SemanticModel

#: Dialects that read ``WITH x AS MATERIALIZED (...)``.
_MATERIALIZING = frozenset({"duckdb", "postgres"})


def to_warehouse(sql: str, model: SemanticModel, dialect: str) -> exp.Expr:
    """``sql`` (one SELECT in DuckDB's dialect, over entities) as a tree of the warehouse's names in ``dialect``."""
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise QueryError(f"a tool's read does not parse: {exc}") from exc
    named = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    for table in tree.find_all(exp.Table):
        if table.name not in named and table.name not in model.entities:
            raise QueryError(f"this analysis reads '{table.name}', which the model does not declare as an entity")
    schema: dict[str, object] = {name: dict.fromkeys(e.columns, "VARCHAR") for name, e in model.entities.items()}
    try:
        tree = qualify(
            tree, schema=schema, dialect="duckdb", quote_identifiers=False, identify=False, expand_stars=True,
            validate_qualify_columns=True,
        )  # fmt: skip
    except sqlglot.errors.OptimizeError as exc:
        raise QueryError(f"this analysis reads a column the model does not declare: {exc}") from exc
    rename_columns(tree, model, lambda table: table.name)
    for table in list(tree.find_all(exp.Table)):
        entity = model.entities.get(table.name)
        if entity is None or table.name in named:
            continue
        physical = exp.to_table(entity.table)
        physical.set("alias", table.args.get("alias") or exp.TableAlias(this=exp.to_identifier(table.name)))
        table.replace(physical)
    if dialect not in _MATERIALIZING:
        for cte in tree.find_all(exp.CTE):
            cte.set("materialized", None)  # a planner hint the others refuse as a syntax error
    assert isinstance(tree, exp.Select)  # parsed as one SELECT; qualifying keeps the root
    return for_dialect(tree, dialect)
