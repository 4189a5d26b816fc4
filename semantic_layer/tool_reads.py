"""The analysis tools' reads (the model's reads.yaml) as the warehouse's statements for one asker.

A tool names a read and gives its parameters as Python values; nothing it passes becomes SQL text.
:func:`compile_tool_read` parses the read (its fragment's CTEs first), checks that it is one SELECT
whose placeholders are exactly its declared parameters and whose output columns are the declared
ones (a customer who adapts a read must keep what the tool reads back), binds each parameter as a
literal of its declared type, and hands the tree to :func:`semantic_layer.logical_sql.to_warehouse`
(entities and columns checked, narrowed to the asker's rows, renamed, rendered per dialect).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import sqlglot
import sqlglot.errors
from sqlglot import exp

from semantic_layer.errors import QueryError
from semantic_layer.logical_sql import to_warehouse
from semantic_layer.query import Principal
from semantic_layer.semantic_model import Read, ReadParamType, SemanticModel


def compile_tool_read(
    model: SemanticModel, name: str, params: Mapping[str, object], principal: Principal, dialect: str
) -> exp.Select:
    """The read ``name`` with ``params`` bound, for ``principal``, in ``dialect``."""
    read = model.reads.get(name)
    if read is None:
        raise QueryError(f"this analysis needs the read '{name}', which this model does not define (reads.yaml)")
    return bind_read(model, read, parse_read(model, read), params, principal, dialect)


def bind_read(
    model: SemanticModel, read: Read, tree: exp.Select, params: Mapping[str, object], principal: Principal, dialect: str
) -> exp.Select:
    """``tree``, the read as :func:`parse_read` gave it (bound in place), with ``params``, for ``principal``:
    apart from the parse so that a caller who also inspects the tree (``chatbi model check``) parses once."""
    name = read.name
    unknown = sorted(set(params) - set(read.params))
    missing = sorted(set(read.params) - set(params))
    if unknown or missing:  # a tool and its model disagree: say which, never run half a read
        raise QueryError(f"read '{name}': parameters {unknown or missing} {'not declared' if unknown else 'not given'}")
    for placeholder in list(tree.find_all(exp.Placeholder)):
        _bind(placeholder, name, read.params[placeholder.name], params[placeholder.name])
    return to_warehouse(tree, model, dialect, principal)


def parse_read(model: SemanticModel, read: Read) -> exp.Select:
    """The read as one SELECT tree (its fragment's CTEs before its own), checked against its declaration."""
    where = f"{model.origins.get(f'reads/{read.name}', 'reads.yaml')}: reads '{read.name}'"
    tree = _parse(read.sql, where)
    if read.fragment is not None:
        fragment = model.read_fragments[read.fragment]  # the model checks that it exists
        shared = _parse(f"{fragment.sql}\nSELECT 1", f"{where}: fragment '{fragment.name}'").args.get("with_")
        if shared is not None:
            own = tree.args.get("with_")
            ctes = [c.copy() for c in shared.expressions] + (list(own.expressions) if own is not None else [])
            tree.set("with_", exp.With(expressions=ctes))
    used = {p.name for p in tree.find_all(exp.Placeholder)}
    if used != set(read.params):
        raise QueryError(
            f"{where}: the SQL's parameters ({', '.join(sorted(used)) or 'none'}) are not the declared params "
            f"({', '.join(sorted(read.params)) or 'none'})"
        )
    if tree.named_selects != read.columns:
        raise QueryError(f"{where}: the SQL returns {tree.named_selects}, not the declared columns {read.columns}")
    return tree


def _parse(sql: str, where: str) -> exp.Select:
    try:
        statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    except sqlglot.errors.SqlglotError as exc:
        raise QueryError(f"{where}: does not parse: {str(exc).splitlines()[0]}") from None
    if len(statements) != 1 or not isinstance(statements[0], exp.Select):
        raise QueryError(f"{where}: must be one SELECT")
    return statements[0]


def _bind(placeholder: exp.Placeholder, read: str, kind: ReadParamType, value: object) -> None:
    name = placeholder.name
    if kind == "texts":
        if not isinstance(value, list | tuple) or not value or not all(isinstance(v, str) for v in value):
            raise QueryError(f"read '{read}': parameter '{name}' must be a non-empty list of texts")
        within = placeholder.parent
        if not isinstance(within, exp.In) or len(within.expressions) != 1:
            raise QueryError(f"read '{read}': a list parameter stands alone in IN (:{name})")
        within.set("expressions", [exp.Literal.string(v) for v in value])
        return
    literal = _literal(read, name, kind, value)
    target: exp.Expr = placeholder
    if isinstance(placeholder.parent, exp.Paren) and isinstance(placeholder.parent.parent, exp.Interval):
        target, literal = placeholder.parent, exp.Literal.string(literal.name)  # INTERVAL (:days) DAY
    target.replace(literal)


def _literal(read: str, name: str, kind: ReadParamType, value: object) -> exp.Expr:
    if kind == "date" and isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return exp.cast(exp.Literal.string(value.isoformat()), exp.DataType.build("DATE"))
    if kind == "integer" and isinstance(value, int) and not isinstance(value, bool):
        return exp.Literal.number(value)
    if kind == "number" and isinstance(value, int | float) and not isinstance(value, bool):
        return exp.Literal.number(value)
    if kind == "text" and isinstance(value, str):
        return exp.Literal.string(value)
    raise QueryError(f"read '{read}': parameter '{name}' must be of type {kind}, got {type(value).__name__}")
