"""Embedded ClickHouse adapter (chdb): ``chdb:///path/to/dir`` (optionally ``?database=NAME``).

Defence in depth under the SQL guard: every query runs on its own connection whose settings
(engines._clickhouse, shared with the ClickHouse server adapter) are fixed first with SET and then
locked with ``readonly=1``, which refuses writes, DDL, table functions that reach files or the
network (``file``, ``url``) and any further change of a setting, the time limit's included.

chdb runs one embedded server per process, on one directory: an engine keeps a connection open
(so the server is not restarted for every query) and queries are serialised by a process-wide
lock. The data version for the result cache is the model's freshness query.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from engines._clickhouse import CATALOG_SQL, DIALECT, TIMEOUT_CODE, query_settings, runnable
from engines._limits import cut, one_line
from engines._server import FreshnessVersioned
from engines.result_cache import ResultCache
from semantic_layer.engine import EngineError, QueryResult, QueryTimeout
from semantic_layer.semantic_model import Freshness

try:
    import chdb
except ImportError:  # pragma: no cover - exercised only without the extra installed
    chdb = None  # type: ignore[assignment]

_LOCK = threading.Lock()  # one embedded server per process
_TIMEOUT = f"Code: {TIMEOUT_CODE}."


def chdb_target(url: str) -> tuple[Path, str]:
    """The directory and database of ``chdb:///dir[?database=NAME]`` (database default: ``default``)."""
    parts = urlsplit(url)
    if parts.scheme != "chdb" or parts.netloc or not parts.path:
        raise EngineError("a chdb URL is chdb:///path/to/dir (an absolute path, three slashes)")
    database = parse_qs(parts.query).get("database", ["default"])[0]
    return Path(parts.path), database


def connect_chdb(path: Path, database: str) -> Any:
    if chdb is None:
        raise EngineError("ClickHouse (chdb) support needs chdb: pip install 'chatbi[engines]'")
    try:
        return chdb.connect(f"{path}?database={database}" if database != "default" else str(path))
    except Exception as exc:  # chdb raises plain RuntimeErrors
        raise EngineError(f"cannot open chdb directory {path}: {one_line(exc)}") from None


class ChdbEngine(FreshnessVersioned):
    """Read-only embedded ClickHouse engine on a directory written by ``chatbi demo load``."""

    catalog_sql = CATALOG_SQL
    dialect = DIALECT

    def __init__(
        self,
        url: str,
        *,
        allowed_tables: frozenset[str],
        cache: ResultCache | None = None,
        freshness: Freshness | None = None,
    ) -> None:
        self._path, self._database = chdb_target(url)
        if not self._path.is_dir():  # chdb would create an empty warehouse there
            raise EngineError(f"chdb directory not found: {self._path}")
        self.allowed_tables = allowed_tables
        self.identity = f"chdb:{self._path.resolve()}?database={self._database}"
        with _LOCK:
            self._anchor = connect_chdb(self._path, self._database)
        self._versioning(cache, freshness)

    def _run(self, text: str, row_limit: int, timeout_s: float) -> QueryResult:
        text = runnable(text)
        settings = query_settings(row_limit, timeout_s)  # in order: readonly comes last
        with _LOCK:
            conn = connect_chdb(self._path, self._database)
            cursor = conn.cursor()
            try:
                for name, value in settings.items():
                    cursor.execute(f"SET {name} = '{value}'")  # ClickHouse parses a setting from text
                cursor.execute(text)
                columns = [d[0] for d in cursor.description or []]
                rows = [tuple(row) for row in cursor.fetchall()]
            except Exception as exc:  # chdb raises plain RuntimeErrors
                if _TIMEOUT in str(exc):
                    raise QueryTimeout(f"query cancelled after {timeout_s:g} s") from None
                raise EngineError(f"ClickHouse: {one_line(exc)}") from None
            finally:
                cursor.close()
                conn.close()
        kept, truncated = cut(rows, row_limit)
        return QueryResult(columns=columns, rows=kept, truncated=truncated)

    def close(self) -> None:
        with _LOCK:
            self._anchor.close()
