"""A compiled query as text the guard approved, without its sqlglot tree: what a new process keeps
from an earlier one so that answering a repeated question needs neither the compiler nor sqlglot.

Importing sqlglot and compiling a question is about a third of a one-shot ``chatbi ask``; these
records hold only what the answer and the engine need (the plan, the output columns, the text
shown, the text run), so they pickle small and load without sqlglot.
"""

from __future__ import annotations

from dataclasses import dataclass

from semantic_layer.query import MetricQuery, Period, Principal


@dataclass(frozen=True)
class GuardedSql:
    """Text the SQL guard produced from a checked tree, with what it was checked for.

    An engine runs ``text`` as it is only when its dialect, allowed tables and row limit are exactly
    these; for any other it parses and checks the text in full (``engines/_limits.py``). Made by the
    guard's caller (``engines._limits.approve``), never from text that came from outside the compiler.
    """

    text: str
    dialect: str
    allowed_tables: frozenset[str]
    row_limit: int

    def approved_for(self, dialect: str, allowed_tables: frozenset[str], row_limit: int) -> bool:
        return (self.dialect, self.allowed_tables, self.row_limit) == (dialect, allowed_tables, row_limit)


@dataclass(frozen=True)
class PreparedQuery:
    """What an answer needs of a ``CompiledQuery`` (same attribute names), its tree replaced by texts."""

    query: MetricQuery
    principal: Principal
    dialect: str
    columns: list[str]
    previous_period: Period | None
    sql: str  # the compiled query as rendered for the answer (the guard's text adds the row limit)
    guarded: GuardedSql
