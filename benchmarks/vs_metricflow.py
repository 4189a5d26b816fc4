"""Side by side with dbt MetricFlow: the same queries through chatbi's semantic layer and MetricFlow, same DuckDB.

MetricFlow is installed into its own virtualenv (``--venv``, created once and reused; never a
project dependency). The script writes a dbt project whose semantic models carry the contract
metrics over a copy of the demo file (dbt-duckdb holds a write lock while it runs, and its views go
to their own schema ``mf``), plans each query in MetricFlow's Python engine inside that venv
(``benchmarks/_metricflow_driver.py``), then runs both generated SQL texts interleaved on one
read-only connection. Results must be equal (floats within a relative 1e-9) or the script exits 1.
MetricFlow's SQL is run twice: as planned (over the dbt views) and with the views swapped for the
base tables, since DuckDB does not push MetricFlow's date filter through a view.

    python benchmarks/vs_metricflow.py --db case.duckdb [--repeat 7] [--venv DIR]

Prints a markdown table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import decimal
import json
import math
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb

from benchmarks.semantic_layer_bench import CASES, _time
from semantic_layer.compiler import compile_query
from semantic_layer.semantic_model import load_model

CACHE = Path.home() / ".cache" / "chatbi-metricflow"
PACKAGES = ["dbt-metricflow", "dbt-duckdb", "dbt-core<1.12"]
TABLES = ["fact_sales", "fact_inventory_daily", "fact_traffic_daily", "dim_store", "dim_sku"]
WHERE = "{{{{ TimeDimension('metric_time', 'day') }}}} BETWEEN '{start}' AND '{end}'"

# The first ten cases of semantic_layer_bench.py, as MetricFlow requests (None: not expressible).
REQUESTS: dict[str, dict[str, Any] | None] = {
    "gmv, 2025": {"metrics": ["gmv"], "group_by": []},
    "gross margin by month": {"metrics": ["gross_margin"], "group_by": ["metric_time__month"]},
    "gmv + orders by channel, Q4": {"metrics": ["gmv", "orders"], "group_by": ["store__channel"]},
    "top 20 SKUs by gmv": {"metrics": ["gmv"], "group_by": ["sku"], "order_by": ["-gmv"], "limit": 20},
    "dio by category": {"metrics": ["dio"], "group_by": ["sku__category"]},
    "stockout rate by warehouse, month": {
        "metrics": ["stockout_rate"], "group_by": ["metric_time__month", "warehouse"]},
    "conversion rate by channel": {"metrics": ["conversion_rate"], "group_by": ["store__channel"]},
    "cash conversion cycle, 2025": None,
    "gmv by category, yoy": {
        "metrics": ["gmv", "gmv_previous", "gmv_growth"], "group_by": ["metric_time__year", "sku__category"]},
    "AR over 60 days by customer type": None,
}  # fmt: skip
WHY_NOT = {
    "cash conversion cycle, 2025": "dso/dpo average a daily AR/AP balance (documents open on each day of P) "
    "over P; a MetricFlow measure aggregates rows, it cannot count a document on every day it is open",
    "AR over 60 days by customer type": "the balance on `end` and the age `end - invoice_date` depend on the "
    "query's period end, which a MetricFlow measure cannot reference",
}
# chatbi output column -> MetricFlow output column.
COLUMNS = {"month": "metric_time__month", "channel": "store__channel", "category": "sku__category"}

SEMANTIC_YAML = """\
semantic_models:
  - name: sales
    model: ref('fact_sales')
    defaults: {agg_time_dimension: order_date}
    primary_entity: sale
    entities:
      - {name: store, type: foreign, expr: store_id}
      - {name: sku, type: foreign, expr: sku_id}
    dimensions:
      - {name: order_date, type: time, type_params: {time_granularity: day}}
    measures:
      - {name: revenue_sum, agg: sum, expr: revenue}
      - {name: cogs_sum, agg: sum, expr: cogs}
      - {name: order_count, agg: count_distinct, expr: order_id}
  - name: inventory
    model: ref('fact_inventory_daily')
    defaults: {agg_time_dimension: snapshot_date}
    primary_entity: inventory_row
    entities:
      - {name: sku, type: foreign, expr: sku_id}
      - {name: warehouse, type: foreign, expr: warehouse_id}
    dimensions:
      - {name: snapshot_date, type: time, type_params: {time_granularity: day}}
    measures:
      - {name: inventory_value_sum, agg: sum, expr: inventory_value}
      - {name: stockout_rows, agg: sum, expr: "CASE WHEN on_hand_qty = 0 THEN 1 ELSE 0 END"}
      - {name: inventory_rows, agg: sum, expr: "1"}
  - name: traffic
    model: ref('fact_traffic_daily')
    defaults: {agg_time_dimension: date}
    primary_entity: traffic_row
    entities:
      - {name: store, type: foreign, expr: store_id}
    dimensions:
      - {name: date, type: time, type_params: {time_granularity: day}}
    measures:
      - {name: visitors_sum, agg: sum, expr: visitors}
  - name: stores
    model: ref('dim_store')
    entities:
      - {name: store, type: primary, expr: store_id}
    dimensions:
      - {name: channel, type: categorical}
  - name: skus
    model: ref('dim_sku')
    entities:
      - {name: sku, type: primary, expr: sku_id}
    dimensions:
      - {name: category, type: categorical}

metrics:
  - {name: gmv, label: gmv, type: simple, type_params: {measure: revenue_sum}}
  - {name: cogs, label: cogs, type: simple, type_params: {measure: cogs_sum}}
  - {name: orders, label: orders, type: simple, type_params: {measure: order_count}}
  - {name: inventory_value, label: inventory_value, type: simple, type_params: {measure: inventory_value_sum}}
  - {name: stockout_row_count, label: stockout_row_count, type: simple, type_params: {measure: stockout_rows}}
  - {name: inventory_row_count, label: inventory_row_count, type: simple, type_params: {measure: inventory_rows}}
  - {name: visitors, label: visitors, type: simple, type_params: {measure: visitors_sum}}
  - name: gross_margin
    label: gross_margin
    type: derived
    type_params: {expr: (gmv - cogs) / gmv, metrics: [gmv, cogs]}
  - name: dio
    label: dio
    type: ratio
    type_params: {numerator: inventory_value, denominator: cogs}
  - name: stockout_rate
    label: stockout_rate
    type: ratio
    type_params: {numerator: stockout_row_count, denominator: inventory_row_count}
  - name: conversion_rate
    label: conversion_rate
    type: ratio
    type_params: {numerator: orders, denominator: visitors}
  - name: gmv_previous
    label: gmv_previous
    type: derived
    type_params: {expr: gmv_py, metrics: [{name: gmv, offset_window: 1 year, alias: gmv_py}]}
  - name: gmv_growth
    label: gmv_growth
    type: derived
    type_params: {expr: gmv / gmv_py - 1, metrics: [gmv, {name: gmv, offset_window: 1 year, alias: gmv_py}]}
"""

TIME_SPINE_YAML = """\
models:
  - name: time_spine
    time_spine:
      standard_granularity_column: date_day
    columns:
      - {name: date_day, granularity: day}
"""


def ensure_venv(venv: Path) -> Path:
    """The MetricFlow venv's python, created and filled on first use (a few minutes; pip's output is shown)."""
    python = venv / "bin" / "python"
    marker = venv / ".chatbi-installed"
    if marker.is_file():
        return python
    print(f"creating the MetricFlow virtualenv in {venv} (once) ...", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    print(f"installing {' '.join(PACKAGES)} ...", file=sys.stderr, flush=True)
    subprocess.run([str(python), "-m", "pip", "install", "--progress-bar", "on", *PACKAGES], check=True)
    marker.write_text(" ".join(PACKAGES))
    return python


def write_project(project: Path, db_copy: Path) -> None:
    """A dbt project: thin views of the contract tables in schema mf, a time spine, the semantic models."""
    models = project / "models"
    models.mkdir(parents=True, exist_ok=True)
    (project / "dbt_project.yml").write_text(
        "name: chatbi_vs_metricflow\nversion: '1.0'\nprofile: chatbi_vs_metricflow\n"
        "models:\n  chatbi_vs_metricflow:\n    +materialized: view\n"
    )
    (project / "profiles.yml").write_text(
        f"chatbi_vs_metricflow:\n  target: bench\n  outputs:\n    bench:\n      type: duckdb\n"
        f"      path: '{db_copy}'\n      schema: mf\n      threads: 1\n"
    )
    for table in TABLES:
        (models / f"{table}.sql").write_text(f"select * from main.{table}\n")
    (models / "time_spine.sql").write_text(
        "{{ config(materialized='table') }}\nselect cast(range as date) as date_day\n"
        "from range(date '2020-01-01', date '2031-01-01', interval 1 day)\n"
    )
    (models / "time_spine.yml").write_text(TIME_SPINE_YAML)
    (models / "semantic.yml").write_text(SEMANTIC_YAML)


def requests() -> list[tuple[str, dict[str, Any]]]:
    """The expressible cases as MetricFlow requests, each with the case's period as its where filter."""
    out = []
    for name, query, _ in CASES[:10]:
        spec = REQUESTS[name]
        if spec is not None and query.period is not None:
            out.append((name, {**spec, "where": WHERE.format(start=query.period.start, end=query.period.end)}))
    return out


def _value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool):
        return float(value)
    return value


def _rows(con: duckdb.DuckDBPyConnection, sql: str, columns: list[str]) -> list[tuple[Any, ...]]:
    result = con.execute(sql)
    names = [d[0] for d in result.description]
    index = [names.index(c) for c in columns]
    return sorted((tuple(_value(row[i]) for i in index) for row in result.fetchall()), key=repr)


def _same(a: list[tuple[Any, ...]], b: list[tuple[Any, ...]]) -> bool:
    if len(a) != len(b):
        return False
    for left, right in zip(a, b, strict=True):
        for x, y in zip(left, right, strict=True):
            if isinstance(x, float) and isinstance(y, float):
                if not math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9):
                    return False
            elif x != y:
                return False
    return True


def on_base_tables(sql: str) -> str:
    """MetricFlow's SQL with the dbt views (catalog.mf.table) replaced by the contract's base tables."""
    return re.sub(r'(?:"?[\w-]+"?\.)?"?mf"?\.(?="?(?:' + "|".join(TABLES) + r')\b)', "main.", sql)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=Path("chatbi.duckdb"), help="DuckDB demo warehouse (case scale).")
    parser.add_argument("--repeat", type=int, default=7, help="Timed runs per query, side and stage.")
    parser.add_argument("--venv", type=Path, default=CACHE / "venv", help="MetricFlow virtualenv (made once).")
    parser.add_argument("--workdir", type=Path, default=CACHE / "work", help="dbt project and the DB copy.")
    args = parser.parse_args(argv)
    if not args.db.is_file():
        print(f"error: database not found: {args.db}", file=sys.stderr)
        return 2
    python = ensure_venv(args.venv)
    project, db_copy = args.workdir / "project", args.workdir / "mf_copy.duckdb"
    print(f"copying {args.db} to {db_copy} ...", file=sys.stderr, flush=True)
    args.workdir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(args.db, db_copy)
    write_project(project, db_copy)
    print("dbt run (views, time spine, semantic manifest) ...", file=sys.stderr, flush=True)
    dbt = [str(args.venv / "bin" / "dbt"), "--quiet"]
    subprocess.run([*dbt, "run", "--project-dir", str(project), "--profiles-dir", str(project)], check=True)
    cases = requests()
    print(f"planning {len(cases)} queries in MetricFlow ...", file=sys.stderr, flush=True)
    driver = Path(__file__).with_name("_metricflow_driver.py")
    done = subprocess.run(
        [str(python), str(driver), str(project), str(args.repeat)], input=json.dumps([s for _, s in cases]),
        capture_output=True, text=True, cwd=project)  # fmt: skip
    if done.returncode != 0:
        print(done.stderr[-4000:], file=sys.stderr)
        return 1
    planned = dict(zip([n for n, _ in cases], json.loads(done.stdout), strict=True))

    model = load_model()
    con = duckdb.connect(str(db_copy), read_only=True)
    rows, compile_ratios, exec_ratios, base_ratios, failures = [], [], [], [], []
    for name, query, _ in CASES[:10]:
        if name not in planned:
            continue
        mf = planned[name]
        started = time.perf_counter()
        compiled = compile_query(query, model)
        first = time.perf_counter() - started
        warm = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            compile_query(query, model)
            warm.append(time.perf_counter() - started)
        ours_warm = statistics.median(warm)
        mf_base = on_base_tables(mf["sql"])
        columns = [COLUMNS.get(c, c) for c in compiled.columns]
        ours_rows = _rows(con, compiled.sql, list(compiled.columns))
        if not (_same(ours_rows, _rows(con, mf["sql"], columns)) and _same(ours_rows, _rows(con, mf_base, columns))):
            failures.append(name)
        ours_t, mf_t, base_t = [], [], []
        for _ in range(args.repeat):
            ours_t.append(_time(con, compiled.sql))
            mf_t.append(_time(con, mf["sql"]))
            base_t.append(_time(con, mf_base))
        o, m, b = statistics.median(ours_t), statistics.median(mf_t), statistics.median(base_t)
        compile_ratios.append(mf["warm"] / ours_warm)
        exec_ratios.append(m / o)
        base_ratios.append(b / o)
        rows.append(
            f"| {name} | {first * 1000:.1f} / {ours_warm * 1000:.1f} | {mf['first'] * 1000:.1f} / "
            f"{mf['warm'] * 1000:.1f} | {mf['warm'] / ours_warm:.1f}x | {o * 1000:.1f} | {m * 1000:.1f} | "
            f"{b * 1000:.1f} | {m / o:.2f} | {b / o:.2f} |"
        )
    con.close()
    print(f"chatbi vs MetricFlow on a copy of `{args.db}` (DuckDB {duckdb.__version__}, {args.repeat} runs each)\n")
    print("| query | chatbi compile first / warm (ms) | MetricFlow plan first / warm (ms) | plan ratio MF/chatbi "
          "| chatbi SQL (ms) | MF SQL on views (ms) | MF SQL on base tables (ms) | exec ratio views | "
          "exec ratio base |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    print(f"\nmedian ratios (MetricFlow / chatbi): plan {statistics.median(compile_ratios):.1f}x, SQL on views "
          f"{statistics.median(exec_ratios):.2f}, SQL on base tables {statistics.median(base_ratios):.2f}")
    for name, why in WHY_NOT.items():
        print(f"- left out, MetricFlow cannot express it: {name} ({why})")
    if failures:
        print(f"error: results differ from MetricFlow's for: {', '.join(failures)}", file=sys.stderr)
        return 1
    print("results equal on every compared query")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
