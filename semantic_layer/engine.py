"""The small protocol every SQL engine adapter implements, and its errors.

Pure typing: the semantic layer and the agent depend on this module only, so
they never import a database driver. Adapters live in `engines/`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from sqlglot import exp

    from semantic_layer.prepared import GuardedSql


class EngineError(Exception):
    """A query could not run (connection, SQL error, missing database). Message is one line."""


class QueryTimeout(EngineError):
    """The engine cancelled a query that ran longer than its time limit."""


@dataclass
class QueryResult:
    """Rows of one query. `truncated` is True when the row limit cut rows off.

    `cached`: the rows came from the engine's result cache rather than the database;
    `data_version`: the warehouse version they were read at (None when the engine keeps no cache).
    """

    columns: list[str]
    rows: list[tuple]
    truncated: bool
    cached: bool = False
    data_version: str | None = None


class Engine(Protocol):
    """A read-only SQL engine. Every `execute` passes the query through the SQL guard first.

    `sql` is SQL text (parsed and guarded in full) or a query AST the compiler built (guarded as
    it is, without rendering and parsing it again): see :mod:`semantic_layer.guard`.
    """

    dialect: str  # sqlglot dialect name: "duckdb" | "postgres"
    identity: str  # which database: part of every result cache key, so two warehouses never share entries

    def execute(
        self, sql: str | exp.Expr | GuardedSql, *, row_limit: int = 10_000, timeout_s: float = 30.0
    ) -> QueryResult: ...

    def cache_version(self) -> str | None:
        """The data version a result read now would be cached under; None when nothing may be cached
        (no result cache kept, or no version readable). Keys other values computed from the data."""
        ...

    def close(self) -> None: ...
