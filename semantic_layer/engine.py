"""The small protocol every SQL engine adapter implements, and its errors.

Pure typing: the semantic layer and the agent depend on this module only, so
they never import a database driver. Adapters live in `engines/`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class EngineError(Exception):
    """A query could not run (connection, SQL error, missing database). Message is one line."""


class QueryTimeout(EngineError):
    """The engine cancelled a query that ran longer than its time limit."""


@dataclass
class QueryResult:
    """Rows of one query. `truncated` is True when the row limit cut rows off."""

    columns: list[str]
    rows: list[tuple]
    truncated: bool


class Engine(Protocol):
    """A read-only SQL engine. Every `execute` passes the SQL through the SQL guard first."""

    dialect: str  # sqlglot dialect name: "duckdb" | "postgres"

    def execute(self, sql: str, *, row_limit: int = 10_000, timeout_s: float = 30.0) -> QueryResult: ...

    def close(self) -> None: ...
