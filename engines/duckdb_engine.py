"""DuckDB adapter: a read-only file connection that cannot reach files, network or extensions.

Defence in depth under the SQL guard: the database is opened read_only, external
access (file readers, COPY, ATTACH, INSTALL/LOAD, httpfs) is disabled and the
configuration is locked so a statement cannot turn it back on. Timeouts interrupt
the query from a timer thread (DuckDB has no statement_timeout setting).

The data version is the file's identity and modification time (one ``stat``, so every query
checks it). A warehouse is refreshed by writing a new file and renaming it over the old one
(a writer cannot open the file while this engine holds it), so when the version changes the
engine reopens the file once the queries running on the old one have finished: a long-running
``chatbi serve`` reads the new data, and cached results of the old file are not served.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from engines._limits import cut, guarded_sql, one_line
from engines.result_cache import ResultCache
from semantic_layer.engine import EngineError, QueryResult, QueryTimeout
from semantic_layer.prepared import GuardedSql

if TYPE_CHECKING:
    from sqlglot import exp

_HARDENED_CONFIG = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "lock_configuration": True,
}


#: The threads each query may use (default: DuckDB's, every core). `chatbi serve --workers N` sets it to
#: cores / N, so N processes each running a big query do not ask for N times the machine.
THREADS_ENV = "CHATBI_DUCKDB_THREADS"


def _threads() -> dict[str, int]:
    value = os.environ.get(THREADS_ENV, "")
    return {"threads": int(value)} if value.isdigit() and int(value) > 0 else {}


class DuckDBEngine:
    """Read-only DuckDB engine; safe to share between threads (one cursor per query)."""

    dialect = "duckdb"

    def __init__(self, path: str | Path, *, allowed_tables: frozenset[str], cache: ResultCache | None = None) -> None:
        self.path = Path(path)
        # Check first: duckdb.connect would create an empty database for a missing path.
        if not self.path.is_file():
            raise EngineError(f"DuckDB database not found: {self.path}")
        self.allowed_tables = allowed_tables
        self.cache = cache
        self.identity = f"duckdb:{self.path.resolve()}"
        self._state = threading.Condition()
        self._running = 0  # queries on the open connection; a reopen waits for them
        self._version = self.data_version()
        self._con = self._open()

    def _open(self) -> duckdb.DuckDBPyConnection:
        try:
            return duckdb.connect(str(self.path), read_only=True, config={**_HARDENED_CONFIG, **_threads()})
        except duckdb.Error as exc:
            raise EngineError(f"cannot open DuckDB database {self.path}: {one_line(exc)}") from None

    def data_version(self) -> str:
        """``<modification time>~<hash of device, inode, size, mtime>``: changes whenever the file does."""
        try:
            st = os.stat(self.path)
        except OSError as exc:
            raise EngineError(f"DuckDB database not readable: {self.path}: {exc.strerror}") from None
        stamp = f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}".encode()
        when = dt.datetime.fromtimestamp(st.st_mtime_ns / 1e9, dt.UTC).isoformat(timespec="microseconds")
        return f"{when.replace('+00:00', 'Z')}~{hashlib.sha1(stamp).hexdigest()[:8]}"

    def cache_version(self) -> str | None:
        """The version a result read now is kept under in the result cache (the file's); None without a cache."""
        return None if self.cache is None else self.data_version()

    def execute(
        self, sql: str | exp.Expr | GuardedSql, *, row_limit: int = 10_000, timeout_s: float = 30.0
    ) -> QueryResult:
        """Guard `sql`, run it with a time limit and return at most `row_limit` rows (from the cache if
        one is kept and holds this SQL at the file's current version)."""
        text = guarded_sql(sql, dialect=self.dialect, allowed_tables=self.allowed_tables, row_limit=row_limit)
        version = self._current()
        try:
            if self.cache is None:
                return self._run(text, row_limit, timeout_s)
            return self.cache.fetch(text, self.identity, version, lambda: self._run(text, row_limit, timeout_s))
        finally:
            with self._state:
                self._running -= 1
                self._state.notify_all()

    def catalog(self, *, timeout_s: float = 60.0) -> list[tuple]:
        """(schema, relation, column, type) of every relation, for ``chatbi model init``: this fixed statement
        over the system catalog, which the guard refuses to every other statement."""
        sql = (
            "SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns"
            " WHERE table_catalog = current_database() ORDER BY table_schema, table_name, ordinal_position"
        )
        self._current()
        try:
            return self._run(sql, 1_000_000, timeout_s).rows
        finally:
            with self._state:
                self._running -= 1
                self._state.notify_all()

    def _current(self) -> str:
        """The file's version, with the connection open on it; counts the caller as running."""
        with self._state:
            version = self.data_version()
            while version != self._version and self._running:
                self._state.wait()  # the queries on the old file finish first
                version = self.data_version()  # and another caller may have reopened meanwhile
            if version != self._version:
                self._con.close()
                self._con = self._open()
                self._version = version
            self._running += 1
            return self._version

    def _run(self, text: str, row_limit: int, timeout_s: float) -> QueryResult:
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
        with self._state:
            self._con.close()
