"""SQL over the model's entities made the warehouse's: the analysis tools' reads (the model's
reads.yaml, bound by semantic_layer/tool_reads.py) for what no metric covers (the elasticity panel,
the replenishment history, aging by document).

A read is one SELECT in DuckDB's dialect with the model's logical names (entity and column names,
the contract's). :func:`to_warehouse` checks that every relation it reads is an entity of the model
and every column one the entity declares (a customer's model without stock data refuses the
replenishment read by name, instead of the warehouse failing on a missing table), narrows each
entity to the asker's rows (their role's row filters, see validation.tool_read_filters), qualifies every
column with sqlglot so each is tied to its relation (a ``*`` becomes the declared columns), renames columns by the entities' ``column_map``
and relations by their ``table:``, and renders the tree in the engine's dialect. The engine's guard
then checks the statement as it checks every other.
"""

from __future__ import annotations

import sqlglot
import sqlglot.errors
from sqlglot import exp
from sqlglot.optimizer.qualify import qualify

from semantic_layer.compiler import entity_rows
from semantic_layer.dialects import for_dialect
from semantic_layer.errors import QueryError
from semantic_layer.physical import rename_columns
from semantic_layer.query import Principal
from semantic_layer.semantic_model import SemanticModel
from semantic_layer.validation import tool_read_filters

#: Dialects that read ``WITH x AS MATERIALIZED (...)``.
_MATERIALIZING = frozenset({"duckdb", "postgres"})


def to_warehouse(
    sql: str | exp.Expr, model: SemanticModel, dialect: str, principal: Principal | None = None
) -> exp.Select:
    """``sql`` (one SELECT in DuckDB's dialect over entities, as text or a tree of its own) as a tree
    of the warehouse's names in ``dialect``, narrowed to ``principal``'s rows when given."""
    if isinstance(sql, str):
        try:
            tree = sqlglot.parse_one(sql, read="duckdb")
        except sqlglot.errors.ParseError as exc:
            raise QueryError(f"a tool's read does not parse: {exc}") from exc
    else:
        tree = sql
    named = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    entities = [t for t in tree.find_all(exp.Table) if t.name not in named]
    for table in entities:
        if table.name not in model.entities:
            raise QueryError(f"this analysis reads '{table.name}', which the model does not declare as an entity")
    if principal is not None:
        _narrow(entities, model, principal)
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


def _narrow(tables: list[exp.Table], model: SemanticModel, principal: Principal) -> None:
    """Each entity read becomes the rows the asker may see: ``(SELECT e.* FROM e ... WHERE ...) AS alias``."""
    for table in tables:
        filters = tool_read_filters(model, principal, table.name)
        if not filters:
            continue
        alias = table.alias_or_name
        rows = entity_rows(model, table.name, filters).subquery(alias)
        table.replace(rows)
