"""DuckDB adapter: a read-only file connection that cannot reach files, network or extensions.

Defence in depth under the SQL guard: the database is opened read_only, external
access (file readers, COPY, ATTACH, INSTALL/LOAD, httpfs) is disabled and the
configuration is locked so a statement cannot turn it back on. Timeouts interrupt
the query from a timer thread (DuckDB has no statement_timeout setting).
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

import duckdb

from engines._limits import cut, guarded_sql, one_line
from semantic_layer.engine import EngineError, QueryResult, QueryTimeout

_HARDENED_CONFIG = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "lock_configuration": True,
}


class DuckDBEngine:
    """Read-only DuckDB engine; safe to share between threads (one cursor per query)."""

    dialect = "duckdb"

    def __init__(self, path: str | Path, *, allowed_tables: frozenset[str]) -> None:
        self.path = Path(path)
        # Check first: duckdb.connect would create an empty database for a missing path.
        if not self.path.is_file():
            raise EngineError(f"DuckDB database not found: {self.path}")
        self.allowed_tables = allowed_tables
        try:
            self._con = duckdb.connect(str(self.path), read_only=True, config=dict(_HARDENED_CONFIG))
        except duckdb.Error as exc:
            raise EngineError(f"cannot open DuckDB database {self.path}: {one_line(exc)}") from None

    def execute(self, sql: str, *, row_limit: int = 10_000, timeout_s: float = 30.0) -> QueryResult:
        """Guard `sql`, run it with a time limit and return at most `row_limit` rows."""
        text = guarded_sql(sql, dialect=self.dialect, allowed_tables=self.allowed_tables, row_limit=row_limit)
        cursor = self._con.cursor()
        timed_out = threading.Event()

        def interrupt() -> None:
            timed_out.set()
            with contextlib.suppress(duckdb.Error):  # the query may have just finished
                cursor.interrupt()

        timer = threading.Timer(timeout_s, interrupt)
        timer.daemon = True
        timer.start()
        try:
            cursor.execute(text)
            columns = [d[0] for d in cursor.description or []]
            rows = cursor.fetchall()
        except duckdb.InterruptException:
            raise QueryTimeout(f"query cancelled after {timeout_s:g} s") from None
        except duckdb.Error as exc:
            if timed_out.is_set():
                raise QueryTimeout(f"query cancelled after {timeout_s:g} s") from None
            raise EngineError(f"DuckDB: {one_line(exc)}") from None
        finally:
            timer.cancel()
            cursor.close()
        kept, truncated = cut(rows, row_limit)
        return QueryResult(columns=columns, rows=kept, truncated=truncated)

    def close(self) -> None:
        self._con.close()
