"""Copy a demo DuckDB warehouse into MySQL / MariaDB (the writer behind `chatbi demo load`, see engines.load).

Tables are recreated with equivalent types (strings as VARCHAR sized from the data, with a binary
utf8mb4 collation so that grouping and ordering compare bytes as DuckDB and PostgreSQL do) and
filled with multi-row INSERTs whose literals DuckDB renders (vectorised): escaping the values
one by one in Python (PyMySQL's executemany) took 28 s for the small demo.
"""

from __future__ import annotations

from typing import Any

import duckdb

from engines._limits import one_line
from engines.load import DECIMAL, Column, OnRows, source_columns, unmapped
from engines.mysql_engine import mysql_params, require_pymysql
from semantic_layer.engine import EngineError

try:
    import pymysql
except ImportError:  # pragma: no cover - exercised only without the extra installed
    pymysql = None

_TYPES = {
    "BOOLEAN": "BOOLEAN",
    "TINYINT": "TINYINT",
    "SMALLINT": "SMALLINT",
    "INTEGER": "INT",
    "BIGINT": "BIGINT",
    "HUGEINT": "DECIMAL(38,0)",
    "UTINYINT": "TINYINT UNSIGNED",
    "USMALLINT": "SMALLINT UNSIGNED",
    "UINTEGER": "INT UNSIGNED",
    "UBIGINT": "BIGINT UNSIGNED",
    "FLOAT": "FLOAT",
    "DOUBLE": "DOUBLE",
    "DATE": "DATE",
    "TIMESTAMP": "DATETIME(6)",
    "TIME": "TIME(6)",
}
_INSERT_ROWS = 5_000  # rows per INSERT statement: well under the default max_allowed_packet


def mysql_type(column: Column, longest: int) -> str:
    """The MySQL type of a DuckDB column; `longest`: its longest string, in characters."""
    match = DECIMAL.match(column.duckdb_type)
    if match:
        return f"DECIMAL({match.group(1)},{match.group(2)})"
    if column.duckdb_type == "VARCHAR":
        return f"VARCHAR({max(16, 2 * longest)})"
    if column.duckdb_type in _TYPES:
        return _TYPES[column.duckdb_type]
    raise unmapped(column.duckdb_type, "MySQL")


def load_into_mysql(
    src: duckdb.DuckDBPyConnection, url: str, tables: list[str], schema: str | None, on_rows: OnRows
) -> dict[str, int]:
    """Replace `tables` in the database `schema` (created if missing; default: the URL's database)."""
    require_pymysql()
    params = mysql_params(url)
    database = schema or params["database"]
    del params["database"]  # connect without one: it may not exist yet
    counts: dict[str, int] = {}
    try:
        conn = pymysql.connect(**params, autocommit=False)
    except pymysql.Error as exc:
        raise EngineError(f"cannot connect to MySQL: {one_line(exc)}") from None
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE IF NOT EXISTS `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
            cur.execute(f"USE `{database}`")
        for table in tables:
            counts[table] = _copy_table(src, conn, table, on_rows)
    except pymysql.Error as exc:
        raise EngineError(f"MySQL load failed: {one_line(exc)}") from None
    finally:
        conn.close()
    return counts


def _copy_table(src: duckdb.DuckDBPyConnection, conn: Any, table: str, on_rows: OnRows) -> int:
    columns = source_columns(src, table)
    texts = [c.name for c in columns if c.duckdb_type == "VARCHAR"]
    longest = dict(zip(texts, _longest(src, table, texts), strict=True))
    ddl = ", ".join(
        f"`{c.name}` {mysql_type(c, longest.get(c.name, 0))}{'' if c.nullable else ' NOT NULL'}" for c in columns
    )
    names = ", ".join(f"`{c.name}`" for c in columns)
    tuples = " || ',' || ".join(_literal(c) for c in columns)
    rendered = src.execute(f"SELECT '(' || {tuples} || ')' FROM \"{table}\"")
    rows = 0
    with conn.cursor() as cur:
        cur.execute("SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_BACKSLASH_ESCAPES'")  # quotes are all we escape
        cur.execute(f"DROP TABLE IF EXISTS `{table}`")
        cur.execute(f"CREATE TABLE `{table}` ({ddl}) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        while chunk := rendered.fetchmany(_INSERT_ROWS):
            cur.execute(f"INSERT INTO `{table}` ({names}) VALUES {','.join(row[0] for row in chunk)}")
            rows += len(chunk)
            on_rows(len(chunk))
        cur.execute(f"ANALYZE TABLE `{table}`")
        cur.fetchall()
    conn.commit()
    return rows


def _literal(column: Column) -> str:
    """DuckDB SQL rendering one value of `column` as a MySQL literal (NULL for NULL): the rows are
    written out by DuckDB's vectorised string functions, not value by value in Python."""
    name = f'"{column.name}"'
    if column.duckdb_type == "BOOLEAN":
        text = f"CASE WHEN {name} THEN '1' ELSE '0' END"
    elif column.duckdb_type in ("VARCHAR", "DATE", "TIMESTAMP", "TIME"):
        quote = "''''"  # one quote character, in DuckDB SQL
        text = f"{quote} || replace(CAST({name} AS VARCHAR), {quote}, {quote} || {quote}) || {quote}"
    else:
        text = f"CAST({name} AS VARCHAR)"
    return f"COALESCE({text}, 'NULL')"


def _longest(src: duckdb.DuckDBPyConnection, table: str, texts: list[str]) -> list[int]:
    if not texts:
        return []
    maxima = ", ".join(f'COALESCE(MAX(LENGTH("{name}")), 0)' for name in texts)
    (row,) = src.execute(f'SELECT {maxima} FROM "{table}"').fetchall()
    return [int(v) for v in row]
