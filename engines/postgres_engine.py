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

from engines._limits import cut, one_line
from engines._server import FreshnessVersioned
from engines.result_cache import ResultCache
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


class PostgresEngine(FreshnessVersioned):
    """Read-only PostgreSQL engine over one connection, serialised by a lock."""

    catalog_sql = (
        "SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = current_schema()"
        " ORDER BY table_schema, table_name, ordinal_position"
    )

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
        self.identity = "postgres:" + " ".join(
            f"{key}={value}"
            for key, value in sorted(conninfo_to_dict(url).items())
            if key in ("host", "hostaddr", "port", "dbname", "user", "options")
        )
        self._versioning(cache, freshness)

    def _open(self) -> Any:
        try:
            url_options = conninfo_to_dict(self._url).get("options") or ""
            options = f"{url_options} {_SESSION_OPTIONS}".strip()
            conn = psycopg.connect(self._url, options=options, connect_timeout=10)
        except psycopg.Error as exc:
            raise EngineError(f"cannot connect to PostgreSQL: {one_line(exc)}") from None
        conn.read_only = True
        return conn

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
