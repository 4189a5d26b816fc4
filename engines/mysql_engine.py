"""MySQL / MariaDB adapter (PyMySQL): read-only transactions with a server-side statement timeout.

Defence in depth under the SQL guard: the session's transactions are READ ONLY, each query runs
in its own ``START TRANSACTION READ ONLY`` that is rolled back, PyMySQL sends one statement per
call (multi-statements are off), and LOAD DATA LOCAL is refused by the client. The time limit is
the server's: MariaDB's ``max_statement_time`` (seconds), MySQL's ``max_execution_time``
(milliseconds, for SELECT), set for the session before each query. StarRocks and Doris speak
this protocol too. The data version for the result cache is the model's freshness query.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any
from urllib.parse import unquote, urlsplit

from engines._limits import cut, one_line
from engines._server import FreshnessVersioned
from engines.result_cache import ResultCache
from semantic_layer.engine import EngineError, QueryResult, QueryTimeout
from semantic_layer.semantic_model import Freshness

try:
    import pymysql
except ImportError:  # pragma: no cover - exercised only without the extra installed
    pymysql = None

#: Server errors that mean the time limit cancelled the statement (MariaDB, MySQL, "interrupted").
_TIMEOUT_ERRORS = {1969, 3024, 1317}


def mysql_params(url: str) -> dict[str, Any]:
    """PyMySQL's connect() arguments for ``mysql://user:password@host:port/database``."""
    parts = urlsplit(url)
    database = unquote(parts.path.lstrip("/"))
    if parts.scheme != "mysql" or not database:
        raise EngineError("a MySQL URL is mysql://user:password@host:port/database")
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 3306,
        "user": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
        "database": database,
        "charset": "utf8mb4",
        "connect_timeout": 10,
        "local_infile": False,
    }


def require_pymysql() -> None:
    if pymysql is None:
        raise EngineError("MySQL support needs PyMySQL: pip install 'chatbi[engines]'")


class MySQLEngine(FreshnessVersioned):
    """Read-only MySQL/MariaDB engine over one connection, serialised by a lock."""

    catalog_sql = (
        "SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = DATABASE() ORDER BY table_schema, table_name, ordinal_position"
    )

    dialect = "mysql"

    def __init__(
        self,
        url: str,
        *,
        allowed_tables: frozenset[str],
        cache: ResultCache | None = None,
        freshness: Freshness | None = None,
    ) -> None:
        require_pymysql()
        self.allowed_tables = allowed_tables
        self._params = mysql_params(url)
        self._lock = threading.Lock()
        self._conn, self._timeout_var = self._open()
        p = self._params
        self.identity = f"mysql:host={p['host']} port={p['port']} database={p['database']} user={p['user']}"
        self._versioning(cache, freshness)

    def _open(self) -> tuple[Any, str]:
        """A connection whose transactions are read-only, and the name of its statement-timeout variable."""
        try:
            conn = pymysql.connect(**self._params)
            with conn.cursor() as cur:
                cur.execute("SET SESSION TRANSACTION READ ONLY")
                cur.execute("SELECT VERSION()")
                mariadb = "mariadb" in str(cur.fetchone()[0]).lower()
                if mariadb:  # hash joins: the tools' joins of unindexed aggregates take a fifth of the time
                    cur.execute("SET SESSION join_cache_level = 4")
        except pymysql.Error as exc:
            raise EngineError(f"cannot connect to MySQL: {one_line(exc)}") from None
        return conn, "max_statement_time" if mariadb else "max_execution_time"

    def _timeout_value(self, timeout_s: float) -> float | int:
        return max(0.001, timeout_s) if self._timeout_var == "max_statement_time" else max(1, int(timeout_s * 1000))

    def _run(self, text: str, row_limit: int, timeout_s: float) -> QueryResult:
        with self._lock:
            if not self._conn.open:
                self._conn, self._timeout_var = self._open()
            try:
                with self._conn.cursor() as cur:
                    cur.execute(f"SET SESSION {self._timeout_var} = %s", (self._timeout_value(timeout_s),))
                    cur.execute("START TRANSACTION READ ONLY")
                    cur.execute(text)  # no arguments: PyMySQL sends the text as it is
                    columns = [d[0] for d in cur.description or []]
                    rows = [tuple(row) for row in cur.fetchall()]
            except pymysql.err.OperationalError as exc:
                if exc.args and exc.args[0] in _TIMEOUT_ERRORS:
                    raise QueryTimeout(f"query cancelled after {timeout_s:g} s") from None
                raise EngineError(f"MySQL: {one_line(exc)}") from None
            except pymysql.Error as exc:
                raise EngineError(f"MySQL: {one_line(exc)}") from None
            finally:
                self._rollback()
        kept, truncated = cut(rows, row_limit)
        return QueryResult(columns=columns, rows=kept, truncated=truncated)

    def _rollback(self) -> None:
        """End the read-only transaction; a broken connection is closed, and reopened next time."""
        try:
            self._conn.rollback()
        except pymysql.Error:
            with contextlib.suppress(pymysql.Error):
                self._conn.close()

    def close(self) -> None:
        if self._conn.open:
            self._conn.close()
