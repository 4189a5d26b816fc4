"""The one gate every query passes before an engine runs it.

Text from outside the compiler (the LLM planner's fallback SQL, a tool's SELECT) is
parsed with sqlglot (:func:`guard_sql`); a query the compiler built is checked as the
AST it already is (:func:`guard_ast`), so its SQL is not rendered and then parsed again
(the re-parse was most of a question's guard time). Either way the tree must be a single
read-only SELECT (WITH / UNION allowed) that reads only allowed relations and calls only
side-effect-free functions, and the text that runs is *regenerated from the checked AST*
(comments dropped), so nothing the checks did not see (a statement hidden in a comment, a
trailing statement) can reach the engine. A row limit is always applied.

An AST can hold what parsing never produces: a name or a number whose text the generator
writes out verbatim (``Identifier("x; DROP TABLE t")``), or a subtree whose CTEs live in a
parent that is not rendered. The AST path therefore also requires every verbatim text to be
one word or number, the tree to be a root, and the rendered text to pass the text path's
character and single-statement checks, so it refuses everything the text path refuses.

The checks are allow-lists where that is practical (statement kinds, relations,
table-producing functions, functions sqlglot does not know) and deny-lists for
the typed functions sqlglot knows, because its ~570 typed functions are pure
computations apart from the few listed here. The engines add read-only
connections and time limits underneath, so a guard miss is not a write.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Callable

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, SqlglotError, UnsupportedError

from semantic_layer.engine import EngineError


class GuardError(EngineError):
    """SQL rejected by the guard; the message says why in one line."""


# Root statement kinds that may run: a SELECT, or a UNION / INTERSECT / EXCEPT of SELECTs.
_ALLOWED_ROOTS = (exp.Select, exp.SetOperation)

# Nodes that must not appear anywhere in the tree (DML inside a CTE, SELECT INTO, FOR UPDATE, ...).
_FORBIDDEN_NODES: tuple[type[exp.Expr], ...] = tuple(
    cls
    for cls in (
        getattr(exp, name, None)
        for name in (
            "DML",
            "DDL",
            "Insert",
            "Update",
            "Delete",
            "Merge",
            "Create",
            "Drop",
            "Alter",
            "TruncateTable",
            "Command",
            "Copy",
            "Pragma",
            "Set",
            "SetItem",
            "Attach",
            "Detach",
            "Install",
            "Use",
            "Transaction",
            "Commit",
            "Rollback",
            "Describe",
            "Show",
            "Summarize",
            "Kill",
            "Grant",
            "Revoke",
            "Analyze",
            "LoadData",
            "Refresh",
            "Cache",
            "Uncache",
            "Into",
            "Lock",
            "Placeholder",
            "Parameter",
            "SessionParameter",
            "Returning",
            "Export",
        )
    )
    if isinstance(cls, type)
)

# Typed sqlglot functions that read files, the network, sequences or session state.
_FORBIDDEN_FUNCS: tuple[type[exp.Expr], ...] = tuple(
    cls
    for cls in (
        getattr(exp, name, None)
        for name in (
            "ReadCSV",
            "ReadParquet",
            "ToFile",
            "Secret",
            "NextValueFor",
            "JSONTable",
            "XMLTable",
            "GenerateTable",
            "CurrentSchemas",
            "SplitToTable",
            "StrtokSplitToTable",
        )
    )
    if isinstance(cls, type)
)

# Functions that may produce rows in FROM / JOIN: pure generators only (a date spine, an array).
_TABLE_FUNCS: tuple[type[exp.Expr], ...] = (exp.GenerateSeries, exp.Unnest)

# Pure functions that sqlglot parses as `Anonymous` (it has no typed class for them) in
# DuckDB or PostgreSQL. Any other unknown function is refused: an unknown name could be
# `query()`, `pg_read_file()`, `dblink()`, `set_config()`, `duckdb_*()`, ...
_ANONYMOUS_ALLOWED: frozenset[str] = frozenset(
    {
        "age",
        "cardinality",
        "date_part",
        "date_sub",
        "epoch",
        "epoch_ms",
        "every",
        "entropy",
        "favg",
        "fsum",
        "hash",
        "histogram",
        "iff",
        "isodow",
        "justify_days",
        "kahan_sum",
        "make_date",
        "make_interval",
        "now",
        "printf",
        "product",
        "quantile_cont",
        "quantile_disc",
        "regexp_matches",
        "string_split",
        "strftime",
        "strptime",
        "sumkahan",
        "to_date",
        "today",
    }
)

# Schemas a table may be qualified with (the default ones); catalogs are never allowed.
_ALLOWED_SCHEMAS = frozenset({"main", "public"})

# Control / format / private-use characters (zero-width space, bidi overrides, NUL, ...) are refused
# outright; only the whitespace controls tab, newline and return may appear in SQL text.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"})
# The ASCII members of those categories (C0 controls and DEL, bar tab / newline / return): ASCII
# text needs only this one regular expression; other characters are looked up one by one.
_ASCII_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Verbatim text an AST may carry outside string literals and quoted identifiers: a number.
_NUMBER = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")


def guard_sql(sql: str, *, dialect: str, allowed_tables: set[str] | frozenset[str], row_limit: int) -> str:
    """Check `sql` and return it, regenerated for `dialect`, with a LIMIT of at most `row_limit`.

    Raises GuardError(reason) when the SQL is not a single read-only SELECT over
    `allowed_tables` (compared case-insensitively) and CTEs defined in the query.
    """
    return _guarded(lambda allowed: _guard(sql, dialect, allowed, row_limit), dialect, allowed_tables, row_limit)


def guard_ast(tree: exp.Expr, *, dialect: str, allowed_tables: set[str] | frozenset[str], row_limit: int) -> str:
    """:func:`guard_sql` for a query that is already an AST (the compiler's): the same checks without
    parsing. `tree` is not modified (compiled queries are cached and shared between threads)."""
    return _guarded(lambda allowed: _guard_tree(tree, dialect, allowed, row_limit), dialect, allowed_tables, row_limit)


def _guarded(
    check: Callable[[set[str]], str], dialect: str, allowed_tables: set[str] | frozenset[str], row_limit: int
) -> str:
    if row_limit < 1:
        raise ValueError("row_limit must be at least 1")
    try:
        return check({name.lower() for name in allowed_tables})
    except GuardError:
        raise
    except UnsupportedError as exc:
        raise GuardError(f"SQL uses a construct {dialect} cannot run: {_first_line(exc)}") from None
    except Exception as exc:  # fail closed: SQL the checks cannot handle does not run
        raise GuardError(f"SQL could not be checked ({type(exc).__name__})") from None


def _guard(sql: str, dialect: str, allowed: set[str], row_limit: int) -> str:
    tree = _parse_single(sql, dialect)
    for node in tree.walk():
        _check_node(node, allowed)
    out = _render(_apply_limit(tree, row_limit), dialect)
    _single_statement(out, dialect)
    return out


def _guard_tree(tree: exp.Expr, dialect: str, allowed: set[str], row_limit: int) -> str:
    if not isinstance(tree, exp.Expr):
        raise GuardError(f"expected a query AST, got {type(tree).__name__}")
    if tree.parent is not None:  # its CTEs could live in a parent that is not rendered
        raise GuardError("only a whole query can be checked, not a part of one")
    query = _query_root(tree)
    for node in query.walk():
        _check_node(node, allowed)
        _check_verbatim(node)
    out = _render_limited(query, dialect, row_limit)
    _check_characters(out)
    if ";" in out:  # inside a string literal, say: only then can the text be more than one statement
        _single_statement(out, dialect)
    return out


def _render(tree: exp.Expr, dialect: str) -> str:
    # unsupported_level=RAISE: a construct the dialect cannot express is refused rather than
    # silently dropped (sqlglot would otherwise render PIVOT or FOR UPDATE as nothing).
    return tree.sql(dialect=dialect, comments=False, unsupported_level=ErrorLevel.RAISE)


def _single_statement(out: str, dialect: str) -> None:
    # The regenerated text must itself be one statement: a last line of defence against
    # generator quirks turning something into two statements.
    if len([s for s in sqlglot.parse(out, read=dialect) if s is not None]) != 1:
        raise GuardError("the regenerated SQL is not a single statement")


def _render_limited(tree: exp.Query, dialect: str, row_limit: int) -> str:
    """The tree's text with the row limit, without copying the tree when it can be avoided: with no
    LIMIT or OFFSET the limit is the text's last clause; a literal LIMIT within the cap stays as it is."""
    limit, offset = tree.args.get("limit"), tree.args.get("offset")
    if limit is None and offset is None:
        return f"{_render(tree, dialect)} LIMIT {row_limit}"
    existing = _plain_literal_limit(limit) if isinstance(limit, exp.Limit) else None
    if existing is not None and existing <= row_limit:
        return _render(tree, dialect)
    return _render(_apply_limit(tree.copy(), row_limit), dialect)


def _query_root(tree: exp.Expr) -> exp.Query:
    if not isinstance(tree, _ALLOWED_ROOTS):
        kind = tree.name if isinstance(tree, exp.Command) else tree.key
        raise GuardError(f"only SELECT queries are allowed, got {kind.upper()}")
    return tree


def _check_verbatim(node: exp.Expr) -> None:
    """Text the generator writes out as it is must be one word or number (string literals and quoted
    identifiers are escaped by the generator, so they may hold anything the character check allows)."""
    for value in node.args.values():
        for item in value if isinstance(value, list) else (value,):
            if isinstance(item, str):
                if isinstance(node, exp.Literal) and node.is_string:
                    continue
                if isinstance(node, exp.Identifier) and node.quoted:
                    continue
                number = isinstance(node, exp.Literal)
                if not (_NUMBER.fullmatch(item) if number else item.isidentifier()):
                    raise GuardError(f"{node.key} {item[:40]!r} is not a plain {'number' if number else 'name'}")
            elif not isinstance(item, exp.Expr | bool | enum.Enum | None):
                raise GuardError(f"{node.key} holds a {type(item).__name__}, which the guard cannot check")


def _check_characters(sql: str) -> None:
    found = _ASCII_FORBIDDEN.search(sql)
    bad = found.group() if found is not None else None
    if bad is None and not sql.isascii():
        bad = next((c for c in sql if ord(c) > 127 and unicodedata.category(c) in _FORBIDDEN_CATEGORIES), None)
    if bad is not None:
        raise GuardError(f"invisible or control character U+{ord(bad):04X} is not allowed in SQL")


def _parse_single(sql: str, dialect: str) -> exp.Query:
    if not isinstance(sql, str) or not sql.strip():
        raise GuardError("empty SQL")
    _check_characters(sql)
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except SqlglotError as exc:
        raise GuardError(f"SQL does not parse: {_first_line(exc)}") from None
    if len(statements) != 1:
        raise GuardError(f"exactly one statement is allowed, got {len(statements)}")
    return _query_root(statements[0])


def _check_node(node: exp.Expr, allowed: set[str]) -> None:
    if isinstance(node, _FORBIDDEN_NODES):
        raise GuardError(f"{node.key.upper()} is not allowed in a read-only query")
    if isinstance(node, exp.With) and node.args.get("recursive"):
        raise GuardError("recursive CTEs are not allowed")
    if isinstance(node, exp.Select):
        for arg in ("settings", "format", "options"):
            if node.args.get(arg):
                raise GuardError(f"SELECT ... {arg.upper()} is not allowed")
    if isinstance(node, exp.Table):
        _check_table(node, allowed)
    elif isinstance(node, exp.Func):
        _check_function(node)


def _check_table(table: exp.Table, allowed: set[str]) -> None:
    source = table.this
    if isinstance(source, _TABLE_FUNCS):
        return  # its arguments are walked and checked like any other expression
    if isinstance(source, exp.Func):
        raise GuardError(f"table function {_func_name(source)}() is not allowed")
    if not isinstance(source, exp.Identifier):
        raise GuardError(f"FROM item {table.sql()[:60]!r} is not allowed")
    if table.args.get("catalog") is not None:
        raise GuardError(f"catalog-qualified relation {table.sql()} is not allowed")
    schema = table.args.get("db")
    name = source.name.lower()
    if schema is not None and f"{schema.name.lower()}.{name}" in allowed:
        return  # a relation the model names with its schema ("ods.order_line")
    if schema is not None and schema.name.lower() not in _ALLOWED_SCHEMAS:
        raise GuardError(f"relation {table.sql()} is outside the allowed schema")
    if schema is None and name in _visible_ctes(table):
        return
    if name not in allowed:
        raise GuardError(f"relation {source.name!r} is not allowed")


def _visible_ctes(node: exp.Expr) -> set[str]:
    """Names of the CTEs in scope at `node`, following SQL scoping (not the whole query).

    A CTE sees only the CTEs listed before it in the same WITH; the query body sees
    all of them; an outer query never sees a subquery's CTEs. Collecting every CTE name
    of the query instead would let `(WITH pg_user AS ...) ... FROM pg_user` through.
    """
    names: set[str] = set()
    child, parent = node, node.parent
    while parent is not None:
        if isinstance(parent, exp.With) and isinstance(child, exp.CTE):
            for cte in parent.expressions:
                if cte is child:
                    break
                names.add(cte.alias_or_name.lower())
        else:
            with_ = parent.args.get("with_")
            if isinstance(with_, exp.With) and child is not with_:
                names.update(cte.alias_or_name.lower() for cte in with_.expressions)
        child, parent = parent, parent.parent
    return names


def _check_function(func: exp.Func) -> None:
    if isinstance(func, _FORBIDDEN_FUNCS):
        raise GuardError(f"function {_func_name(func)}() is not allowed")
    if isinstance(func, exp.Anonymous) and func.name.lower() not in _ANONYMOUS_ALLOWED:
        raise GuardError(f"function {func.name}() is not on the allow-list")


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _func_name(node: exp.Func) -> str:
    return node.name if isinstance(node, exp.Anonymous) else node.sql_name()


def _apply_limit(tree: exp.Query, row_limit: int) -> exp.Query:
    """Cap a plain literal LIMIT / FETCH FIRST at row_limit; wrap anything else (PERCENT, WITH TIES, ALL)."""
    limit = tree.args.get("limit")
    if limit is None:
        tree.set("limit", exp.Limit(expression=exp.Literal.number(row_limit)))
        return tree
    existing = _plain_literal_limit(limit)
    if existing is None:
        return exp.select("*").from_(tree.subquery("_guarded")).limit(row_limit)
    capped = exp.Literal.number(min(existing, row_limit))
    if isinstance(limit, exp.Fetch):
        tree.set("limit", exp.Limit(expression=capped))
    else:
        limit.set("expression", capped)  # in place: keeps an OFFSET stored inside the Limit node
    return tree


def _plain_literal_limit(limit: exp.Expr) -> int | None:
    if isinstance(limit, exp.Limit):
        value = limit.expression
    elif isinstance(limit, exp.Fetch):
        value = limit.args.get("count")
    else:
        return None
    options = limit.args.get("limit_options")
    if options is not None and (options.args.get("percent") or options.args.get("with_ties")):
        return None
    if isinstance(value, exp.Literal) and not value.is_string and value.this.isdigit():
        return int(value.this)
    return None
