"""Engine adapters (DuckDB, PostgreSQL, MySQL/MariaDB, ClickHouse server and embedded, Spark) behind the semantic layer's small engine protocol.

`connect(target)` is the only entry point callers need: it picks the adapter from
the target's form and returns a read-only, guarded Engine.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from semantic_layer.engine import Engine, EngineError
from semantic_layer.semantic_model import load_model

if TYPE_CHECKING:
    from engines.result_cache import ResultCache
    from semantic_layer.semantic_model import Freshness

_PG_PREFIXES = ("postgresql://", "postgres://")
_DUCKDB_PREFIX = "duckdb://"
_MYSQL_PREFIX = "mysql://"
_CHDB_PREFIX = "chdb://"
_CLICKHOUSE_PREFIXES = ("clickhouse://", "clickhouses://")
_SPARK_PREFIXES = ("spark://", "sc://")


def connect(
    target: str | os.PathLike[str],
    *,
    allowed_tables: set[str] | None = None,
    cache: ResultCache | None = None,
    freshness: Freshness | None = None,
) -> Engine:
    """Open a read-only engine on `target`.

    target: a DuckDB file path, "duckdb:///path/to/file.duckdb",
    "postgresql://user:pw@host:port/db", "mysql://user:pw@host:port/db" or
    "clickhouse://user:pw@host:port/db" (a ClickHouse server over HTTP; clickhouses:// for TLS),
    "chdb:///path/to/dir" (embedded ClickHouse), "spark://local/path/to/dir" (a local Spark session on
    a folder of Parquet files) or "sc://host:port" (Spark Connect). `allowed_tables` (default: the relations of
    the model, `load_model()`) is the guard's allow-list for every query on this engine.
    `cache`: keep results there (default: none); `freshness`: the model's freshness
    query, which versions a server engine's cached results (DuckDB uses its file).
    """
    tables = frozenset(load_model().relations if allowed_tables is None else allowed_tables)
    text = os.fspath(target)
    if text.startswith(_PG_PREFIXES):
        from engines.postgres_engine import PostgresEngine

        return PostgresEngine(text, allowed_tables=tables, cache=cache, freshness=freshness)
    if text.startswith(_MYSQL_PREFIX):
        from engines.mysql_engine import MySQLEngine

        return MySQLEngine(text, allowed_tables=tables, cache=cache, freshness=freshness)
    if text.startswith(_CLICKHOUSE_PREFIXES):
        from engines.clickhouse_engine import ClickHouseEngine

        return ClickHouseEngine(text, allowed_tables=tables, cache=cache, freshness=freshness)
    if text.startswith(_CHDB_PREFIX):
        from engines.chdb_engine import ChdbEngine

        return ChdbEngine(text, allowed_tables=tables, cache=cache, freshness=freshness)
    if text.startswith(_SPARK_PREFIXES):
        from engines.spark_engine import SparkEngine

        return SparkEngine(text, allowed_tables=tables, cache=cache, freshness=freshness)
    if text.startswith(_DUCKDB_PREFIX):
        text = text[len(_DUCKDB_PREFIX) :]
    if not text or text == ":memory:":
        raise EngineError("a DuckDB target must be an existing database file")
    from engines.duckdb_engine import DuckDBEngine

    return DuckDBEngine(text, allowed_tables=tables, cache=cache)
