"""What the adapters whose data version is the model's freshness query share (PostgreSQL, MySQL, chdb).

A subclass sets ``dialect``, ``identity`` and ``allowed_tables`` and implements ``_run`` (guarded
text in, rows out, within the time limit); this class guards every statement and, when a result
cache is kept, versions its entries with the freshness query's result, read at most every
``check_every_s`` seconds. Without a freshness query nothing is cached: a change could not be noticed.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from engines._limits import guarded_sql
from engines.result_cache import ResultCache, Throttled
from semantic_layer.engine import EngineError, QueryResult
from semantic_layer.prepared import GuardedSql
from semantic_layer.semantic_model import Freshness

if TYPE_CHECKING:
    from sqlglot import exp


class FreshnessVersioned(ABC):
    dialect: str
    identity: str
    allowed_tables: frozenset[str]

    def _versioning(self, cache: ResultCache | None, freshness: Freshness | None) -> None:
        """Keep `cache`, versioned by `freshness` (call once the engine can run queries)."""
        self.cache = cache
        self._version: Throttled | None = None
        if freshness is not None and cache is not None:  # read on the cache's clock, so tests can move both
            query = freshness.ast
            self._version = Throttled(lambda: self._read_version(query), freshness.check_every_s, cache.clock)

    def execute(
        self, sql: str | exp.Expr | GuardedSql, *, row_limit: int = 10_000, timeout_s: float = 30.0
    ) -> QueryResult:
        """Guard `sql`, run it with a server-side time limit and return at most `row_limit` rows (from the
        cache if one is kept and holds this SQL at the freshness query's current value)."""
        text = guarded_sql(sql, dialect=self.dialect, allowed_tables=self.allowed_tables, row_limit=row_limit)
        if self.cache is None or self._version is None:
            return self._run(text, row_limit, timeout_s)
        return self.cache.fetch(text, self.identity, self._version(), lambda: self._run(text, row_limit, timeout_s))

    def cache_version(self) -> str | None:
        """The version a result read now is kept under in the result cache (the freshness query's, read at
        most every ``check_every_s``); None without a cache or a freshness query, or when it fails."""
        return None if self.cache is None or self._version is None else self._version()

    def _read_version(self, query: exp.Expr) -> str | None:
        """The freshness query's result as text; None when it fails (then nothing is cached until it works)."""
        try:
            text = guarded_sql(query, dialect=self.dialect, allowed_tables=self.allowed_tables, row_limit=1)
            rows = self._run(text, 1, 5.0).rows
        except EngineError:
            return None
        return "|".join("" if value is None else str(value) for value in rows[0]) if rows else ""

    #: The warehouse's own catalog: (schema, relation, column, type) of every user relation, in order.
    catalog_sql: str

    def catalog(self, *, timeout_s: float = 60.0) -> list[tuple]:
        """What ``chatbi model init`` scaffolds a model from. The statement is this class's own fixed text
        over the system catalog, which the guard (rightly) refuses to every other statement."""
        return self._run(self.catalog_sql, 1_000_000, timeout_s).rows

    @abstractmethod
    def _run(self, text: str, row_limit: int, timeout_s: float) -> QueryResult:
        """Run guarded `text` read-only within `timeout_s`; at most `row_limit` rows, `truncated` set."""
