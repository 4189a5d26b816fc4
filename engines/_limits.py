"""What both adapters share: guard the SQL, then tell a truncated result from a complete one."""

from __future__ import annotations

from sqlglot import exp

from semantic_layer.guard import guard_ast, guard_sql


def guarded_sql(sql: str | exp.Expr, *, dialect: str, allowed_tables: frozenset[str], row_limit: int) -> str:
    """The SQL to run: guarded, limited to one row more than asked so truncation is detectable.

    Text is parsed and checked in full; an AST (the compiler's) is checked as it is."""
    if row_limit < 1:
        raise ValueError("row_limit must be at least 1")
    if isinstance(sql, exp.Expr):
        return guard_ast(sql, dialect=dialect, allowed_tables=allowed_tables, row_limit=row_limit + 1)
    return guard_sql(sql, dialect=dialect, allowed_tables=allowed_tables, row_limit=row_limit + 1)


def cut(rows: list[tuple], row_limit: int) -> tuple[list[tuple], bool]:
    """Rows up to `row_limit` and whether any were cut off."""
    return rows[:row_limit], len(rows) > row_limit


def one_line(exc: BaseException) -> str:
    """The first non-empty line of a driver error: users see a sentence, not a dump."""
    for line in str(exc).splitlines():
        if line.strip():
            return line.strip()
    return type(exc).__name__
