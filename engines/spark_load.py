"""Copy a demo DuckDB warehouse into a Spark warehouse folder (the writer behind `chatbi demo load
--engine spark://local/DIR`, see engines.load).

Each table becomes ``DIR/NAME.parquet``, written by DuckDB's own ``COPY ... (FORMAT parquet)``: no JVM is
started to load, and DuckDB's types map onto Parquet's (DECIMAL(18,2) stays a decimal, DATE a date), which
Spark reads as the same types. A file is written beside its target and renamed over it, so an engine
reading the folder never sees half a table.
"""

from __future__ import annotations

import contextlib
import os

import duckdb

from engines._limits import one_line
from engines.load import OnRows, row_count
from engines.spark_engine import spark_target
from semantic_layer.engine import EngineError


def load_into_spark(
    src: duckdb.DuckDBPyConnection, url: str, tables: list[str], schema: str | None, on_rows: OnRows
) -> dict[str, int]:
    """Replace `tables` as Parquet files in the URL's folder (created if missing)."""
    kind, folder = spark_target(url)
    if kind != "local" or folder is None:
        raise EngineError(
            "load the demo into a folder, spark://local/path/to/dir; a Spark Connect server reads its own"
        )
    if schema is not None:
        raise EngineError("--schema does not apply to Spark: the folder in the URL is the warehouse")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EngineError(f"cannot create {folder}: {one_line(exc)}") from None
    counts: dict[str, int] = {}
    for table in tables:
        if (folder / table).is_dir():
            raise EngineError(f"{folder / table} is a folder: remove it to load {table} as a Parquet file")
        target, temporary = folder / f"{table}.parquet", folder / f".{table}.parquet.loading"
        escaped = str(temporary).replace("'", "''")
        try:
            src.execute(f"COPY \"{table}\" TO '{escaped}' (FORMAT parquet)")
            os.replace(temporary, target)
        except (duckdb.Error, OSError) as exc:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise EngineError(f"cannot write {target}: {one_line(exc)}") from None
        counts[table] = row_count(src, [table])
        on_rows(counts[table])
    return counts
