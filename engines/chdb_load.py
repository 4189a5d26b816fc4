"""Copy a demo DuckDB warehouse into an embedded ClickHouse directory (chdb; the writer behind
`chatbi demo load`, see engines.load).

Tables are recreated as MergeTree tables with the equivalent types (a column DuckDB lets be NULL
is ``Nullable``: ClickHouse's plain types have no NULL) each Arrow record batch is written as a
Parquet file and inserted with ``INSERT ... SELECT * FROM file(...)`` (ClickHouse's own Parquet
reader; chdb's ``Python()`` table function misreads the nulls of Arrow date columns). A table the
model dates is sorted by its time column (when never NULL), so MergeTree can skip the granules
outside a question's period (the demo's two years gain little; a warehouse of many years more).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from engines._limits import one_line
from engines.chdb_engine import _LOCK, chdb_target, connect_chdb
from engines.load import DECIMAL, Column, OnRows, batches, source_columns, unmapped
from semantic_layer.engine import EngineError
from semantic_layer.semantic_model import load_model

_TYPES = {
    "BOOLEAN": "Bool",
    "TINYINT": "Int8",
    "SMALLINT": "Int16",
    "INTEGER": "Int32",
    "BIGINT": "Int64",
    "HUGEINT": "Int128",
    "UTINYINT": "UInt8",
    "USMALLINT": "UInt16",
    "UINTEGER": "UInt32",
    "UBIGINT": "UInt64",
    "FLOAT": "Float32",
    "DOUBLE": "Float64",
    "VARCHAR": "String",
    "DATE": "Date",  # 1970 to 2149; Date32 cannot be subtracted from Date (the tools' SQL does)
    "TIMESTAMP": "DateTime64(6)",
}


def clickhouse_type(column: Column) -> str:
    """The ClickHouse type of a DuckDB column (Nullable when the column may hold NULL)."""
    match = DECIMAL.match(column.duckdb_type)
    if match:
        base = f"Decimal({match.group(1)}, {match.group(2)})"
    elif column.duckdb_type in _TYPES:
        base = _TYPES[column.duckdb_type]
    else:
        raise unmapped(column.duckdb_type, "ClickHouse")
    return f"Nullable({base})" if column.nullable else base


def load_into_chdb(
    src: duckdb.DuckDBPyConnection, url: str, tables: list[str], schema: str | None, on_rows: OnRows
) -> dict[str, int]:
    """Replace `tables` in the database `schema` (created if missing; default: the URL's database)."""
    path, database = chdb_target(url)
    database = schema or database
    path.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    with _LOCK:
        conn = connect_chdb(path, "default")
        try:
            conn.query(f"CREATE DATABASE IF NOT EXISTS `{database}`")
            for table in tables:
                counts[table] = _copy_table(src, conn, database, table, on_rows)
        except EngineError:
            raise
        except Exception as exc:  # chdb raises plain RuntimeErrors
            raise EngineError(f"chdb load failed: {one_line(exc)}") from None
        finally:
            conn.close()
    return counts


def recreate_statements(database: str, table: str, columns: list[Column]) -> list[str]:
    """DROP and CREATE of `table` in `database` as the MergeTree table the ClickHouse writers fill
    (the embedded one here, the server's in engines.clickhouse_load)."""
    target = f"`{database}`.`{table}`"
    ddl = ", ".join(f"`{c.name}` {clickhouse_type(c)}" for c in columns)
    sort = _sort_key(table, columns)
    return [f"DROP TABLE IF EXISTS {target}", f"CREATE TABLE {target} ({ddl}) ENGINE = MergeTree ORDER BY {sort}"]


def _copy_table(src: duckdb.DuckDBPyConnection, conn: Any, database: str, table: str, on_rows: OnRows) -> int:
    columns = source_columns(src, table)
    target = f"`{database}`.`{table}`"
    for statement in recreate_statements(database, table, columns):
        conn.query(statement)
    rows = 0
    with tempfile.TemporaryDirectory(prefix="chatbi-chdb-load-") as tmp:
        parquet = Path(tmp) / "batch.parquet"
        for batch in batches(src, table, columns):
            pq.write_table(pa.Table.from_batches([batch]), parquet)
            conn.query(f"INSERT INTO {target} SELECT * FROM file('{parquet}', Parquet)")
            rows += batch.num_rows
            on_rows(batch.num_rows)
    return rows


def _sort_key(table: str, columns: list[Column]) -> str:
    """The MergeTree sorting key: the time column the model gives the relation, else none."""
    times = {e.table: e.time for e in load_model().entities.values() if e.time}
    time = next((c.name for c in columns if c.name == times.get(table) and not c.nullable), None)
    return f"`{time}`" if time else "tuple()"
