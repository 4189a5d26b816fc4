"""Logical names to the warehouse's own: an entity's ``column_map`` applied to a compiled tree.

The compiler speaks the model's logical names (the contract's: ``fact_sales.revenue``), and each
entity's table is already the warehouse relation, aliased by the entity's name. A customer's
columns often differ (``line_amount`` for ``revenue``); rather than teach every part of the
compiler two names, this pass renames, scope by scope, each column whose qualifier resolves to
an entity's base relation. A column of a derived table that happens to carry the entity's name
(the rolled-up rows of a fact keep it) is not a base column and keeps its name.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlglot.expressions as exp
from sqlglot.optimizer.scope import traverse_scope

from semantic_layer.semantic_model import SemanticModel


def to_physical(tree: exp.Select, model: SemanticModel) -> exp.Select:
    """``tree`` with every base column renamed by its entity's ``column_map`` (in place; returned)."""
    rename_columns(tree, model, lambda table: table.alias_or_name)
    return tree


def rename_columns(tree: exp.Expr, model: SemanticModel, entity_of: Callable[[exp.Table], str]) -> exp.Expr:
    """Rename each column of a base table by the ``column_map`` of the entity ``entity_of`` names for
    that table (the compiler aliases tables by entity; a tool's logical SQL names them by entity)."""
    maps = {name: dict(e.column_map) for name, e in model.entities.items() if e.column_map}
    if not maps:
        return tree
    for scope in traverse_scope(tree):
        for column in scope.columns:
            source = scope.sources.get(column.table)
            if not isinstance(source, exp.Table):
                continue
            physical = maps.get(entity_of(source), {}).get(column.name)
            if physical is None:
                continue
            logical = column.name
            column.set("this", exp.to_identifier(physical))
            if isinstance(column.parent, exp.Select) and column in column.parent.expressions:
                column.replace(exp.alias_(column.copy(), logical))  # the output keeps the logical name
    return tree
