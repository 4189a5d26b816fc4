"""PostgreSQL adapter (psycopg 3): read-only sessions with a server-side statement timeout.

Defence in depth under the SQL guard: every session has
default_transaction_read_only=on, each query runs in its own transaction that is
rolled back, and the time limit is the server's statement_timeout, set per query
with set_config(..., is_local => true) so it cannot outlive the transaction.

The data version, when a result cache is kept, is the result of the model's freshness query
(``freshness:`` in the model YAML), run at most every ``check_every_s`` seconds; without one
nothing is cached, since a change could not be noticed.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from sqlglot import exp

from engines._limits import cut, guarded_sql, one_line
from engines.result_cache import ResultCache, Throttled
from semantic_layer.engine import EngineError, QueryResult, QueryTimeout
from semantic_layer.semantic_model import Freshness

try:
    import psycopg
    from psycopg import errors as pg_errors
    from psycopg.conninfo import conninfo_to_dict
except ImportError:  # pragma: no cover - exercised only without the extra installed
    psycopg = None  # type: ignore[assignment]

# Appended after any `options` in the URL (e.g. -csearch_path=retail): later -c settings win,
# so a URL can choose the schema but cannot turn read-only off.
_SESSION_OPTIONS = "-c default_transaction_read_only=on -c statement_timeout=30000"


def _require_psycopg() -> None:
    if psycopg is None:
        raise EngineError("PostgreSQL support needs psycopg: pip install 'chatbi[postgres]'")


class PostgresEngine:
    """Read-only PostgreSQL engine over one connection, serialised by a lock."""

    dialect = "postgres"

    def __init__(
        self,
        url: str,
        *,
        allowed_tables: frozenset[str],
        cache: ResultCache | None = None,
        freshness: Freshness | None = None,
    ) -> None:
        _require_psycopg()
        self.allowed_tables = allowed_tables
        self._url = url
        self._lock = threading.Lock()
        self._conn = self._open()
        self.cache = cache
        self.identity = "postgres:" + " ".join(
            f"{key}={value}"
            for key, value in sorted(conninfo_to_dict(url).items())
            if key in ("host", "hostaddr", "port", "dbname", "user", "options")
        )
        self._version: Throttled | None = None
        if freshness is not None and cache is not None:  # read on the cache's clock, so tests can move both
            query = freshness.ast
            self._version = Throttled(lambda: self._read_version(query), freshness.check_every_s, cache.clock)

    def _open(self) -> Any:
        try:
            url_options = conninfo_to_dict(self._url).get("options") or ""
            options = f"{url_options} {_SESSION_OPTIONS}".strip()
            conn = psycopg.connect(self._url, options=options, connect_timeout=10)
        except psycopg.Error as exc:
            raise EngineError(f"cannot connect to PostgreSQL: {one_line(exc)}") from None
        conn.read_only = True
        return conn

    def execute(self, sql: str | exp.Expr, *, row_limit: int = 10_000, timeout_s: float = 30.0) -> QueryResult:
        """Guard `sql`, run it with a server-side time limit and return at most `row_limit` rows (from the
        cache if one is kept and holds this SQL at the freshness query's current value)."""
        text = guarded_sql(sql, dialect=self.dialect, allowed_tables=self.allowed_tables, row_limit=row_limit)
        if self.cache is None or self._version is None:  # no version: a change could not be noticed
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

    def _run(self, text: str, row_limit: int, timeout_s: float) -> QueryResult:
        timeout_ms = str(max(1, int(timeout_s * 1000)))
        with self._lock:
            if self._conn.closed or self._conn.broken:
                self._conn = self._open()
            try:
                with self._conn.cursor() as cur:
                    cur.execute("SELECT set_config('statement_timeout', %s, true)", (timeout_ms,))
                    # binary=True forces the extended query protocol, which runs exactly one
                    # statement: "COMMIT; BEGIN READ WRITE; ..." cannot run even if the guard missed it.
                    cur.execute(text, binary=True)
                    columns = [d.name for d in cur.description or []]
                    rows = cur.fetchall()
            except pg_errors.QueryCanceled:
                raise QueryTimeout(f"query cancelled after {timeout_s:g} s") from None
            except psycopg.Error as exc:
                raise EngineError(f"PostgreSQL: {one_line(exc)}") from None
            finally:
                with contextlib.suppress(psycopg.Error):  # a broken connection is reopened next time
                    self._conn.rollback()
        kept, truncated = cut(rows, row_limit)
        return QueryResult(columns=columns, rows=kept, truncated=truncated)

    def close(self) -> None:
        self._conn.close()
