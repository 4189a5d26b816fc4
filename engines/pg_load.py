"""Copy a demo DuckDB warehouse into PostgreSQL (the writer behind `chatbi demo load`, see engines.load).

Tables are recreated with equivalent types (DECIMAL(18,2) stays NUMERIC(18,2);
DATE, BOOLEAN, BIGINT are kept) and bulk-loaded with COPY ... FROM STDIN in CSV:
DuckDB streams Arrow record batches, pyarrow writes them as CSV, PostgreSQL parses
them in C. The whole load is one transaction: a failure leaves the old tables.
"""

from __future__ import annotations

import io
from typing import Any

import duckdb
import pyarrow.csv as pa_csv

from engines._limits import one_line
from engines.load import DECIMAL, Column, OnRows, batches, source_columns, unmapped
from semantic_layer.engine import EngineError

try:
    import psycopg
    from psycopg import sql
except ImportError:  # pragma: no cover - exercised only without the extra installed
    psycopg = None  # type: ignore[assignment]

# DuckDB type -> PostgreSQL type. DECIMAL(p,s) is handled by pattern below.
_TYPES = {
    "BOOLEAN": "BOOLEAN",
    "TINYINT": "SMALLINT",
    "SMALLINT": "SMALLINT",
    "INTEGER": "INTEGER",
    "BIGINT": "BIGINT",
    "HUGEINT": "NUMERIC(38,0)",
    "UTINYINT": "SMALLINT",
    "USMALLINT": "INTEGER",
    "UINTEGER": "BIGINT",
    "UBIGINT": "NUMERIC(20,0)",
    "FLOAT": "REAL",
    "DOUBLE": "DOUBLE PRECISION",
    "VARCHAR": "TEXT",
    "DATE": "DATE",
    "TIMESTAMP": "TIMESTAMP",
    "TIMESTAMP WITH TIME ZONE": "TIMESTAMPTZ",
    "TIME": "TIME",
}


def pg_type(duckdb_type: str) -> str:
    """The PostgreSQL column type equivalent to a DuckDB one; EngineError for types we do not map."""
    upper = duckdb_type.upper()
    match = DECIMAL.match(upper)
    if match:
        return f"NUMERIC({match.group(1)},{match.group(2)})"
    if upper in _TYPES:
        return _TYPES[upper]
    raise unmapped(duckdb_type, "PostgreSQL")


def load_into_postgres(
    src: duckdb.DuckDBPyConnection, url: str, tables: list[str], schema: str | None, on_rows: OnRows
) -> dict[str, int]:
    """Replace `tables` in `schema` (default public) in one transaction; return row counts."""
    if psycopg is None:
        raise EngineError("loading into PostgreSQL needs psycopg: pip install 'chatbi[postgres]'")
    schema = schema or "public"
    counts: dict[str, int] = {}
    try:
        with psycopg.connect(url, connect_timeout=10) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
            for table in tables:
                counts[table] = _copy_table(src, conn, schema, table, on_rows)
            for table in tables:
                conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(schema, table)))
    except psycopg.Error as exc:
        raise EngineError(f"PostgreSQL load failed: {one_line(exc)}") from None
    return counts


def _copy_table(src: duckdb.DuckDBPyConnection, conn: Any, schema: str, table: str, on_rows: OnRows) -> int:
    columns = source_columns(src, table)
    target = sql.Identifier(schema, table)
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(target))
    conn.execute(sql.SQL("CREATE TABLE {} ({})").format(target, _ddl(columns)))
    names = sql.SQL(", ").join(sql.Identifier(c.name) for c in columns)
    rows = 0
    options = pa_csv.WriteOptions(include_header=False)
    copy_stmt = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(target, names)
    with conn.cursor() as cur, cur.copy(copy_stmt) as copy:
        for batch in batches(src, table, columns):
            buffer = io.BytesIO()
            pa_csv.write_csv(batch, buffer, options)
            copy.write(buffer.getvalue())
            rows += batch.num_rows
            on_rows(batch.num_rows)
    return rows


def _ddl(columns: list[Column]) -> Any:
    return sql.SQL(", ").join(
        sql.SQL("{} {}{}").format(
            sql.Identifier(c.name), sql.SQL(pg_type(c.duckdb_type)), sql.SQL("" if c.nullable else " NOT NULL")
        )
        for c in columns
    )
