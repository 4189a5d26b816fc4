"""What both adapters share: guard the SQL, then tell a truncated result from a complete one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from semantic_layer.prepared import GuardedSql

if TYPE_CHECKING:
    from sqlglot import exp

#: Where a tree keeps the text the guard made of it: ``(key, text)``, the key naming the tree itself.
_GUARDED = "chatbi_guarded"


def guarded_sql(
    sql: str | exp.Expr | GuardedSql, *, dialect: str, allowed_tables: frozenset[str], row_limit: int
) -> str:
    """The SQL to run: guarded, limited to one row more than asked so truncation is detectable.

    Text is parsed and checked in full; an AST (the compiler's) is checked as it is, once: the text
    is kept in the tree's ``meta`` for the next run of the very same tree object with the same
    dialect, tables and limit. The compile cache hands out one shared, never-mutated tree per
    question, so a repeated question skips re-rendering it (most of a cache hit's CPU); a copy is
    another object (its own id) and is checked afresh. What is reused is always text the guard
    produced for these tables, so even a tree changed in place after running could not run
    unchecked SQL; trees must not be changed after running anyway (their results are cached by text).

    A :class:`GuardedSql` (the text this function made of a tree, kept on disk by an earlier process)
    runs as it is for the dialect, tables and limit it was approved for, and is checked in full as
    text for any other. sqlglot is imported only when something has to be checked: a repeated
    question from a new process runs without it."""
    if row_limit < 1:
        raise ValueError("row_limit must be at least 1")
    if isinstance(sql, GuardedSql) and sql.approved_for(dialect, allowed_tables, row_limit):
        return sql.text
    from sqlglot import exp

    from semantic_layer.guard import guard_ast, guard_sql

    if isinstance(sql, exp.Expr):
        key = (id(sql), dialect, allowed_tables, row_limit)
        kept = sql.meta.get(_GUARDED)
        if kept is not None and kept[0] == key:
            return str(kept[1])
        text = guard_ast(sql, dialect=dialect, allowed_tables=allowed_tables, row_limit=row_limit + 1)
        sql.meta[_GUARDED] = (key, text)
        return text
    text = sql.text if isinstance(sql, GuardedSql) else sql  # approved for another engine or limit: as text
    return guard_sql(text, dialect=dialect, allowed_tables=allowed_tables, row_limit=row_limit + 1)


def approve(tree: exp.Expr, *, dialect: str, allowed_tables: frozenset[str], row_limit: int) -> GuardedSql:
    """The guard's text for ``tree`` (as :func:`guarded_sql` makes it), with what it was checked for:
    what may be kept and run later without the tree."""
    text = guarded_sql(tree, dialect=dialect, allowed_tables=allowed_tables, row_limit=row_limit)
    return GuardedSql(text=text, dialect=dialect, allowed_tables=allowed_tables, row_limit=row_limit)


def cut(rows: list[tuple], row_limit: int) -> tuple[list[tuple], bool]:
    """Rows up to `row_limit` and whether any were cut off."""
    return rows[:row_limit], len(rows) > row_limit


def one_line(exc: BaseException) -> str:
    """The first non-empty line of a driver error: users see a sentence, not a dump."""
    for line in str(exc).splitlines():
        if line.strip():
            return line.strip()
    return type(exc).__name__
