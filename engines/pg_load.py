"""Copy a demo DuckDB warehouse into PostgreSQL, so the same metrics can be checked on both engines.

Tables are recreated with equivalent types (DECIMAL(18,2) stays NUMERIC(18,2);
DATE, BOOLEAN, BIGINT are kept) and bulk-loaded with COPY ... FROM STDIN in CSV:
DuckDB streams Arrow record batches, pyarrow writes them as CSV, PostgreSQL parses
them in C. The whole load is one transaction: a failure leaves the old tables.

    python -m engines.pg_load demo.duckdb postgresql://chatbi:chatbi@127.0.0.1:5432/chatbi
"""

from __future__ import annotations

import io
import re
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.csv as pa_csv

from engines._limits import one_line
from semantic_layer.engine import EngineError
from semantic_layer.tables import CONTRACT_TABLES

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
_DECIMAL = re.compile(r"^DECIMAL\((\d+),\s*(\d+)\)$")
_BATCH_ROWS = 200_000


def pg_type(duckdb_type: str) -> str:
    """The PostgreSQL column type equivalent to a DuckDB one; EngineError for types we do not map."""
    upper = duckdb_type.upper()
    match = _DECIMAL.match(upper)
    if match:
        return f"NUMERIC({match.group(1)},{match.group(2)})"
    if upper in _TYPES:
        return _TYPES[upper]
    raise EngineError(f"no PostgreSQL type for DuckDB type {duckdb_type}")


def load_duckdb_into_postgres(
    duckdb_path: str | Path,
    pg_url: str,
    *,
    tables: Iterable[str] | None = None,
    schema: str = "public",
) -> dict[str, int]:
    """Replace `tables` (default: the contract's tables in the file) in PostgreSQL; return row counts."""
    if psycopg is None:
        raise EngineError("loading into PostgreSQL needs psycopg: pip install 'chatbi[postgres]'")

    path = Path(duckdb_path)
    if not path.is_file():
        raise EngineError(f"DuckDB database not found: {path}")
    src = duckdb.connect(str(path), read_only=True)
    src.execute("SET enable_progress_bar = false")  # on in interactive sessions; keeps stdout clean
    try:
        present = {row[0] for row in src.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        wanted = sorted(present & CONTRACT_TABLES) if tables is None else list(tables)
        missing = [t for t in wanted if t not in present]
        if missing:
            raise EngineError(f"{path} has no table(s) {', '.join(missing)}")
        counts: dict[str, int] = {}
        try:
            with psycopg.connect(pg_url, connect_timeout=10) as conn:
                conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
                for table in wanted:
                    counts[table] = _copy_table(src, conn, schema, table)
                for table in wanted:
                    conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(schema, table)))
        except psycopg.Error as exc:
            raise EngineError(f"PostgreSQL load failed: {one_line(exc)}") from None
        return counts
    finally:
        src.close()


def _copy_table(src: duckdb.DuckDBPyConnection, conn: Any, schema: str, table: str) -> int:
    columns = src.execute(
        "SELECT column_name, data_type, is_nullable FROM duckdb_columns() WHERE table_name = ? ORDER BY column_index",
        [table],
    ).fetchall()
    target = sql.Identifier(schema, table)
    column_ddl = sql.SQL(", ").join(
        sql.SQL("{} {}{}").format(
            sql.Identifier(name), sql.SQL(pg_type(dtype)), sql.SQL("" if nullable else " NOT NULL")
        )
        for name, dtype, nullable in columns
    )
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(target))
    conn.execute(sql.SQL("CREATE TABLE {} ({})").format(target, column_ddl))
    names = sql.SQL(", ").join(sql.Identifier(name) for name, _, _ in columns)
    select_list = ", ".join(f'"{name}"' for name, _, _ in columns)
    reader = src.sql(f'SELECT {select_list} FROM "{table}"').to_arrow_reader(_BATCH_ROWS)
    if reader is None:
        raise EngineError(f"DuckDB returned no result for table {table}")
    rows = 0
    options = pa_csv.WriteOptions(include_header=False)
    copy_stmt = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(target, names)
    with conn.cursor() as cur, cur.copy(copy_stmt) as copy:
        for batch in reader:
            buffer = io.BytesIO()
            pa_csv.write_csv(batch, buffer, options)
            copy.write(buffer.getvalue())
            rows += batch.num_rows
    return rows


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: `python -m engines.pg_load DUCKDB_PATH POSTGRES_URL`."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m engines.pg_load DUCKDB_PATH POSTGRES_URL", file=sys.stderr)
        return 2
    start = time.perf_counter()
    try:
        counts = load_duckdb_into_postgres(args[0], args[1])
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - start
    print(f"loaded {len(counts)} tables, {sum(counts.values()):,} rows in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
