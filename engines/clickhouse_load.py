"""Copy a demo DuckDB warehouse into a ClickHouse server over HTTP (the writer behind
`chatbi demo load --engine clickhouse://...`, see engines.load).

The tables are the embedded writer's (engines.chdb_load: the same types and MergeTree sorting keys);
each Arrow record batch is sent as a Parquet body of ``INSERT INTO ... FORMAT Parquet``, so the
server's own Parquet reader converts the values, nulls of date columns included, as chdb's does.
"""

from __future__ import annotations

import io
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from engines.chdb_load import recreate_statements
from engines.clickhouse_engine import ClickHouseError, clickhouse_params, open_client, reason
from engines.load import OnRows, batches, source_columns
from semantic_layer.engine import EngineError


def load_into_clickhouse(
    src: duckdb.DuckDBPyConnection, url: str, tables: list[str], schema: str | None, on_rows: OnRows
) -> dict[str, int]:
    """Replace `tables` in the database `schema` (created if missing; default: the URL's database)."""
    params = clickhouse_params(url)
    database = schema or params["database"]
    client = open_client({**params, "database": "default"})  # the target may not exist yet
    counts: dict[str, int] = {}
    try:
        client.command(f"CREATE DATABASE IF NOT EXISTS `{database}`")
        for table in tables:
            counts[table] = _copy_table(src, client, database, table, on_rows)
    except ClickHouseError as exc:
        raise EngineError(f"ClickHouse load failed: {reason(exc)}") from None
    finally:
        client.close()
    return counts


def _copy_table(src: duckdb.DuckDBPyConnection, client: Any, database: str, table: str, on_rows: OnRows) -> int:
    columns = source_columns(src, table)
    for statement in recreate_statements(database, table, columns):
        client.command(statement)
    rows = 0
    for batch in batches(src, table, columns):
        body = io.BytesIO()
        pq.write_table(pa.Table.from_batches([batch]), body)
        client.raw_insert(f"`{database}`.`{table}`", insert_block=body.getvalue(), fmt="Parquet")
        rows += batch.num_rows
        on_rows(batch.num_rows)
    return rows
