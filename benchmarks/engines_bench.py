"""The semantic layer on each engine: compiled SQL against hand-written SQL, one engine after another.

The first ten queries of ``semantic_layer_bench.py`` run on every engine given, each query's
compiled SQL (compiled for that engine's dialect) interleaved with the hand-written SQL of the
same question, ``--repeat`` times each after a warm-up, in one process. The hand-written SQL is
the DuckDB text of ``semantic_layer_bench.py`` transpiled by sqlglot to the engine's dialect (what
an analyst porting it would start from); where that transpiled text does not run or gives other
rows, the query reports it and stays out of the ratio. Both texts go through the engine's
``execute`` (guarded, no result cache), so the guard's parse is on both sides.

    python -m benchmarks.engines_bench --db case.duckdb \
        --engine chdb:///tmp/chdb?database=case --engine spark://local/tmp/spark-case [--repeat 5]

The DuckDB file is always the first engine (and the source the others were loaded from with
``chatbi demo load``). Prints a markdown table per engine and a summary line per engine.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

import sqlglot

from benchmarks.semantic_layer_bench import CASES
from engines import connect
from semantic_layer.compiler import compile_query
from semantic_layer.engine import Engine, EngineError
from semantic_layer.semantic_model import load_model

QUERIES = CASES[:10]
_CH_Y = "'2025-01-01' AND '2025-12-31'"
_CH_DAYS = f"(SELECT DISTINCT snapshot_date AS day FROM fact_inventory_daily WHERE snapshot_date BETWEEN {_CH_Y})"


def _ch_avg_balance(table: str, opened: str) -> str:
    return f"""(SELECT CAST(SUM(t.amount) AS Float64) FROM {_CH_DAYS} AS d CROSS JOIN {table} AS t
        WHERE t.{opened} <= d.day AND (t.paid_date IS NULL OR t.paid_date > d.day)) / 365.0"""


#: Hand-written SQL where the transpiled DuckDB text is not what a ClickHouse analyst would write:
#: ClickHouse keeps a Decimal's scale through division (0.28 for 0.2834), has no GENERATE_SERIES,
#: and refuses two outputs of one name (and the guard refuses what it does not know, e.g. numbers()).
HANDWRITTEN = {
    "clickhouse": {
        "gross margin by month": f"""SELECT toStartOfMonth(order_date) AS m,
            (CAST(SUM(revenue) AS Float64) - CAST(SUM(cogs) AS Float64)) / CAST(SUM(revenue) AS Float64)
            FROM fact_sales WHERE order_date BETWEEN {_CH_Y} GROUP BY m ORDER BY m""",
        "cash conversion cycle, 2025": f"""SELECT
            (SELECT CAST(SUM(inventory_value) AS Float64) / 365.0 FROM fact_inventory_daily WHERE snapshot_date BETWEEN {_CH_Y})
              / (SELECT CAST(SUM(cogs) AS Float64) / 365.0 FROM fact_sales WHERE order_date BETWEEN {_CH_Y})
            + {_ch_avg_balance("fact_receivable", "invoice_date")}
              / (SELECT CAST(SUM(revenue) AS Float64) / 365.0 FROM fact_sales WHERE order_date BETWEEN {_CH_Y})
            - {_ch_avg_balance("fact_payable", "bill_date")}
              / (SELECT CAST(SUM(cogs) AS Float64) / 365.0 FROM fact_sales WHERE order_date BETWEEN {_CH_Y})""",
        "gmv by category, yoy": f"""WITH
            c AS (SELECT k.category AS category, SUM(s.revenue) AS v FROM fact_sales AS s
                  JOIN dim_sku AS k ON k.sku_id = s.sku_id WHERE s.order_date BETWEEN {_CH_Y} GROUP BY category),
            p AS (SELECT k.category AS category, SUM(s.revenue) AS v FROM fact_sales AS s
                  JOIN dim_sku AS k ON k.sku_id = s.sku_id
                  WHERE s.order_date BETWEEN '2024-01-01' AND '2024-12-31' GROUP BY category)
            SELECT c.category, c.v AS current, p.v AS previous, CAST(c.v AS Float64) / CAST(p.v AS Float64) - 1
            FROM c LEFT JOIN p ON p.category = c.category ORDER BY c.category""",
        "AR over 60 days by customer type": """SELECT c.customer_type,
            CAST(SUM(CASE WHEN r.invoice_date < '2025-11-01' THEN r.amount ELSE 0 END) AS Float64)
              / CAST(SUM(r.amount) AS Float64)
            FROM fact_receivable AS r JOIN dim_customer AS c ON c.customer_id = r.customer_id
            WHERE r.invoice_date <= '2025-12-31' AND (r.paid_date IS NULL OR r.paid_date > '2025-12-31')
            GROUP BY c.customer_type ORDER BY c.customer_type""",
    },
}
ROW_LIMIT = 100_000
TIMEOUT_S = 600.0


def _timed(engine: Engine, sql: str) -> tuple[float, list[tuple]]:
    started = time.perf_counter()
    rows = engine.execute(sql, row_limit=ROW_LIMIT, timeout_s=TIMEOUT_S).rows
    return time.perf_counter() - started, rows


def _normalised(rows: list[tuple]) -> list[tuple]:
    """Rows comparable across engines: sorted, numbers rounded to 9 significant digits, dates as text."""

    def cell(value: object) -> object:
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, (int, float)) or type(value).__name__ == "Decimal":
            number = float(value)  # type: ignore[arg-type]
            return 0.0 if number == 0 or math.isnan(number) else float(f"{number:.9g}")
        return str(value)[:10] if type(value).__name__ in {"date", "datetime", "Timestamp"} else str(value)

    return sorted((tuple(cell(v) for v in row) for row in rows), key=repr)


def bench_engine(engine: Engine, repeat: int) -> list[dict]:
    """One row per query: compiled and hand-written medians (s), or why the hand-written side is out."""
    model = load_model()
    out = []
    for name, query, handwritten in QUERIES:
        compiled_sql = compile_query(query, model, dialect=engine.dialect).sql
        hand_sql = HANDWRITTEN.get(engine.dialect, {}).get(name) or (
            handwritten
            if engine.dialect == "duckdb"
            else sqlglot.transpile(handwritten, read="duckdb", write=engine.dialect)[0]
        )
        _, compiled_rows = _timed(engine, compiled_sql)
        try:
            _, hand_rows = _timed(engine, hand_sql)
        except EngineError as error:
            out.append({"query": name, "compiled": _median(engine, compiled_sql, repeat), "note": str(error)[:80]})
            continue
        if _normalised(compiled_rows) != _normalised(hand_rows):
            note = "the transpiled hand-written SQL gives other rows"
            out.append({"query": name, "compiled": _median(engine, compiled_sql, repeat), "note": note})
            continue
        compiled, hand = [], []
        for _ in range(repeat):
            compiled.append(_timed(engine, compiled_sql)[0])
            hand.append(_timed(engine, hand_sql)[0])
        out.append({"query": name, "compiled": statistics.median(compiled), "hand": statistics.median(hand)})
    return out


def _median(engine: Engine, sql: str, repeat: int) -> float:
    return statistics.median(_timed(engine, sql)[0] for _ in range(repeat))


def report(label: str, rows: list[dict]) -> str:
    lines = [f"### {label}", "", "| query | compiled (ms) | hand-written (ms) | ratio |", "|---|---:|---:|---:|"]
    ratios = []
    for row in rows:
        if "hand" in row:
            ratio = row["compiled"] / row["hand"]
            ratios.append(ratio)
            lines.append(f"| {row['query']} | {row['compiled'] * 1000:.1f} | {row['hand'] * 1000:.1f} | {ratio:.2f} |")
        else:
            lines.append(f"| {row['query']} | {row['compiled'] * 1000:.1f} | n/a: {row['note']} | |")
    times = [row["compiled"] * 1000 for row in rows]
    summary = f"time per query p50 {statistics.median(times):.1f} ms, max {max(times):.1f} ms"
    if ratios:
        summary += f"; ratio median {statistics.median(ratios):.2f}, worst {max(ratios):.2f} ({len(ratios)} queries)"
    return "\n".join([*lines, "", summary, ""])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="The DuckDB demo warehouse (and the reference).")
    parser.add_argument("--engine", action="append", default=[], help="Another engine's URL (repeatable).")
    parser.add_argument("--repeat", type=int, default=5, help="Timed runs per query and side.")
    args = parser.parse_args(argv)
    if not args.db.is_file():
        print(f"error: database not found: {args.db}", file=sys.stderr)
        return 2
    for target in [str(args.db), *args.engine]:
        try:
            engine = connect(target)
        except EngineError as error:
            print(f"error: {target}: {error}", file=sys.stderr)
            return 2
        try:
            started = time.perf_counter()
            rows = bench_engine(engine, args.repeat)
            label = f"{engine.dialect}: `{target}` ({time.perf_counter() - started:.0f} s, {args.repeat} runs each)"
            print(report(label, rows), flush=True)
        finally:
            engine.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
