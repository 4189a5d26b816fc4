"""What the two ClickHouse adapters share: the embedded one (chdb, engines.chdb_engine) and the server
one over HTTP (clickhouse-connect, engines.clickhouse_engine) run the same engine, so they lock a query
down with the same settings, read the same catalog and tell a timeout by the same error code.
"""

from __future__ import annotations

from semantic_layer.dialects import named_outputs

DIALECT = "clickhouse"

#: ClickHouse's TIMEOUT_EXCEEDED: ``max_execution_time`` cancelled the query.
TIMEOUT_CODE = 159

#: (schema, relation, column, type) of every column of the connection's database, in order.
CATALOG_SQL = (
    "SELECT database, table, name, type FROM system.columns"
    " WHERE database = currentDatabase() ORDER BY database, table, position"
)


def query_settings(row_limit: int, timeout_s: float) -> dict[str, str]:
    """The settings every query runs under, ``readonly`` last.

    ``readonly=1`` refuses writes, DDL, table functions that reach files or the network and any change
    of a setting inside the SQL (SET, a SETTINGS clause), the time limit's included; whoever applies
    these in order must apply it last. ``max_result_rows`` backs up the guard's LIMIT (one row more
    than asked, so truncation shows); ``join_use_nulls=1`` gives outer joins SQL's NULLs rather than
    ClickHouse's type defaults, which the compiler's COALESCEs rely on."""
    return {
        "max_execution_time": f"{max(0.001, timeout_s):g}",
        "max_result_rows": str(row_limit + 1),
        "result_overflow_mode": "throw",
        "join_use_nulls": "1",
        "readonly": "1",
    }


def runnable(text: str) -> str:
    """Guarded `text` as ClickHouse should run it: every bare column projection named after itself, for
    SQL that does not come from the compiler (a tool's query; see semantic_layer.dialects)."""
    return named_outputs(text, DIALECT)
