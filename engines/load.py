"""Copy a demo DuckDB warehouse into another engine, so the same metrics run (and are checked) there.

`load_demo(duckdb_path, url)` picks the writer from the URL's scheme, as `engines.connect` picks
the adapter: PostgreSQL (`engines.pg_load`), MySQL/MariaDB (`engines.mysql_load`), a ClickHouse
server (`clickhouse://`, `engines.clickhouse_load`), embedded ClickHouse (`chdb:///dir`,
`engines.chdb_load`) and Spark (`spark://local/dir`, `engines.spark_load`, where DuckDB writes each
table as a Parquet file itself). The others recreate the tables with the
equivalent column types and bulk-load Arrow record batches streamed from DuckDB, so a table never
sits in memory whole. The source helpers here are what the writers share.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from semantic_layer.engine import EngineError
from semantic_layer.tables import CONTRACT_TABLES

BATCH_ROWS = 200_000
DECIMAL = re.compile(r"^DECIMAL\((\d+),\s*(\d+)\)$")

#: Called with the number of rows just written, for a progress bar.
OnRows = Callable[[int], None]


@dataclass(frozen=True)
class Column:
    """One source column: its name, DuckDB type (upper case) and whether it may hold NULL."""

    name: str
    duckdb_type: str
    nullable: bool


def open_source(path: str | Path) -> duckdb.DuckDBPyConnection:
    """The demo file, read-only; EngineError when it is missing (duckdb would create it)."""
    path = Path(path)
    if not path.is_file():
        raise EngineError(f"DuckDB database not found: {path}")
    src = duckdb.connect(str(path), read_only=True)
    src.execute("SET enable_progress_bar = false")  # on in interactive sessions; keeps stdout clean
    return src


def source_tables(src: duckdb.DuckDBPyConnection, tables: Iterable[str] | None) -> list[str]:
    """`tables`, or the contract's tables present in the file; EngineError naming any missing one."""
    present = {row[0] for row in src.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    wanted = sorted(present & CONTRACT_TABLES) if tables is None else list(tables)
    missing = [t for t in wanted if t not in present]
    if missing:
        raise EngineError(f"the DuckDB file has no table(s) {', '.join(missing)}")
    return wanted


def source_columns(src: duckdb.DuckDBPyConnection, table: str) -> list[Column]:
    rows = src.execute(
        "SELECT column_name, data_type, is_nullable FROM duckdb_columns() WHERE table_name = ? ORDER BY column_index",
        [table],
    ).fetchall()
    return [Column(name, dtype.upper(), bool(nullable)) for name, dtype, nullable in rows]


def row_count(src: duckdb.DuckDBPyConnection, tables: Iterable[str]) -> int:
    """Rows in `tables` altogether: the progress bar's total."""
    return sum(src.execute(f'SELECT COUNT(*) FROM "{table}"').fetchall()[0][0] for table in tables)


def batches(src: duckdb.DuckDBPyConnection, table: str, columns: list[Column]) -> Iterator[pa.RecordBatch]:
    """The table's rows as Arrow record batches of at most BATCH_ROWS rows, columns in `columns` order."""
    select_list = ", ".join(f'"{c.name}"' for c in columns)
    reader = src.sql(f'SELECT {select_list} FROM "{table}"').to_arrow_reader(BATCH_ROWS)
    if reader is None:
        raise EngineError(f"DuckDB returned no result for table {table}")
    yield from reader


def unmapped(duckdb_type: str, engine: str) -> EngineError:
    return EngineError(f"no {engine} type for DuckDB type {duckdb_type}")


def load_demo(
    duckdb_path: str | Path,
    url: str,
    *,
    tables: Iterable[str] | None = None,
    schema: str | None = None,
    progress: bool = False,
) -> dict[str, int]:
    """Replace `tables` (default: the contract's tables in the file) in the engine at `url`; return
    row counts. `schema`: where inside the target (PostgreSQL's schema, default public; MySQL's or
    ClickHouse's database, created if missing, default the URL's). `progress`: a progress bar on stderr."""
    loader = _loader(url)
    with open_source(duckdb_path) as src:
        wanted = source_tables(src, tables)
        if not progress:
            return loader(src, url, wanted, schema, lambda _: None)
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        columns = (TextColumn("loading rows"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task("load", total=row_count(src, wanted))
            return loader(src, url, wanted, schema, lambda n: bar.advance(task, n))


Loader = Callable[[duckdb.DuckDBPyConnection, str, list[str], "str | None", OnRows], dict[str, int]]


def _loader(url: str) -> Loader:
    """The writer for `url`'s scheme (imported only when used: each needs its own driver)."""
    if url.startswith(("postgresql://", "postgres://")):
        from engines.pg_load import load_into_postgres

        return load_into_postgres
    if url.startswith("mysql://"):
        from engines.mysql_load import load_into_mysql

        return load_into_mysql
    if url.startswith(("clickhouse://", "clickhouses://")):
        from engines.clickhouse_load import load_into_clickhouse

        return load_into_clickhouse
    if url.startswith("chdb://"):
        from engines.chdb_load import load_into_chdb

        return load_into_chdb
    if url.startswith(("spark://", "sc://")):
        from engines.spark_load import load_into_spark

        return load_into_spark
    raise EngineError("the target must be a postgresql://, mysql://, clickhouse://, chdb:/// or spark://local/ URL")
