"""How fast a question is answered: planning alone, an in-process ask, and `chatbi ask` from cold.

1. Planning: the embedded planner on every single-turn question of the eval suite
   (``plan_only``, warm), p50 / p95. Target: p95 < 20 ms.
2. In-process ask at case scale: representative questions, each asked ``--repeat`` times;
   the baseline is the same SQL run directly on the same engine in the same process, so the
   ratio is what planning, validation, compilation and answer composition add. Target: ask p50 < 300 ms.
3. Start-up: wall time of ``chatbi ask ... --json`` in a new process (the model and master data from
   the disk cache; its first run, with the cache empty, reported apart), against a new Python process
   that only opens DuckDB and runs the same SQL, alternating, in one run. Target: < 0.8 s and < 3x.

    python benchmarks/ask_bench.py --db case.duckdb [--repeat 5]

Prints markdown.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agent.assistant import Assistant
from evals.case_file import CASES_DIR, load_suite
from semantic_layer.query import Principal

TODAY = dt.date(2026, 1, 1)
QUESTIONS = [
    "上个月天猫的毛利率是多少?",
    "What was GMV last month?",
    "2025年各渠道的销售额和订单数",
    "days of inventory by category last year",
    "去年GMV前10的商品",
    "近30天销售额趋势",
    "2025年按月的毛利率",
    "12月GMV同比",
    "上个月缺货率最高的3个品类",
    "现金转换周期为什么变长了?",
    "上海门店上个月客单价",
    "conversion rate by store last quarter",
]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def planning(assistant: Assistant) -> list[float]:
    questions = [c.case.q for c in load_suite(CASES_DIR).cases() if c.case.q is not None and c.family.role == "admin"]
    for q in questions[:20]:
        assistant.plan_only(q, today=TODAY)  # warm caches
    timings = []
    for _ in range(3):
        for q in questions:
            start = time.perf_counter()
            assistant.plan_only(q, today=TODAY)
            timings.append((time.perf_counter() - start) * 1000)
    return timings


def in_process(assistant: Assistant, repeat: int) -> list[tuple[str, float, float]]:
    rows = []
    for question in QUESTIONS:
        answer = assistant.ask(question, principal=Principal(), today=TODAY)
        if answer.status != "answer" or answer.sql is None:
            raise SystemExit(f"benchmark question not answered: {question!r}: {answer.text}")
        asks, sqls = [], []
        for _ in range(repeat):
            start = time.perf_counter()
            assistant.ask(question, today=TODAY)
            asks.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            assistant.engine.execute(answer.sql)
            sqls.append((time.perf_counter() - start) * 1000)
        rows.append((question, statistics.median(asks), statistics.median(sqls)))
    return rows


def startup(db: Path, sql: str, repeat: int) -> tuple[float, float, float, float]:
    """`chatbi ask` in a new process: once with an empty disk cache (it parses the model and indexes master
    data, then stores them), then ``repeat`` times with it and ``repeat`` times with it off (the old path);
    and a bare python + duckdb running the same SQL, all alternating."""
    chatbi = shutil.which("chatbi") or sys.exit("chatbi is not on PATH: pip install -e . first")
    command = [chatbi, "ask", "What was GMV last month?", "--db", str(db), "--json"]
    baseline = f"import duckdb; duckdb.connect({str(db)!r}, read_only=True).execute({sql!r}).fetchall()"
    with tempfile.TemporaryDirectory(prefix="chatbi-ask-bench-") as cache:
        env = {**os.environ, "CHATBI_CACHE_DIR": cache}
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=env)
        empty = time.perf_counter() - start
        cli, off, bare = [], [], []
        for _ in range(repeat):
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True, env=env)
            cli.append(time.perf_counter() - start)
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True, env={**env, "CHATBI_CACHE_DIR": "off"})
            off.append(time.perf_counter() - start)
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", baseline], check=True, capture_output=True)
            bare.append(time.perf_counter() - start)
    return empty, statistics.median(cli), statistics.median(off), statistics.median(bare)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, required=True, help="A demo DuckDB file (case scale for the README figures).")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    start = time.perf_counter()
    assistant = Assistant.open(args.db)
    opened = time.perf_counter() - start
    try:
        plans = planning(assistant)
        rows = in_process(assistant, args.repeat)
        gmv_sql = assistant.ask("What was GMV last month?", today=TODAY).sql or ""
    finally:
        assistant.close()
    load_before = os.getloadavg()[0]
    empty, cli, off, bare = startup(args.db, gmv_sql, args.repeat)

    print(f"assistant opened (model, master data, engine) in {opened * 1000:.0f} ms\n")
    print(f"planning, {len(plans)} plans: p50 {_percentile(plans, 0.5):.2f} ms, p95 {_percentile(plans, 0.95):.2f} ms, "
          f"max {max(plans):.1f} ms\n")  # fmt: skip
    print("| question | ask (ms) | SQL alone (ms) | ratio |\n|---|---:|---:|---:|")
    for question, ask_ms, sql_ms in rows:
        print(f"| {question} | {ask_ms:.1f} | {sql_ms:.1f} | {ask_ms / sql_ms:.2f} |")
    asks = [r[1] for r in rows]
    print(f"\nask p50 {statistics.median(asks):.1f} ms, max {max(asks):.1f} ms; "
          f"median ratio {statistics.median(r[1] / r[2] for r in rows):.2f}")  # fmt: skip
    print(f"\n`chatbi ask` cold (new process, median of {args.repeat}): {cli:.2f} s; python + duckdb + the same SQL: "
          f"{bare:.2f} s; ratio {cli / bare:.2f}; the first run, with an empty disk cache: {empty:.2f} s "
          f"({os.cpu_count()} CPUs, load average {load_before:.2f} before); with the disk cache off: {off:.2f} s, "
          f"ratio {off / bare:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
