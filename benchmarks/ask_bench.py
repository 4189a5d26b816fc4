"""How fast a question is answered: planning alone, an in-process ask, and `chatbi ask` from cold.

1. Planning: the embedded planner on every single-turn question of the eval suite
   (``plan_only``, warm), p50 / p95. Target: p95 < 20 ms.
2. In-process ask at case scale: representative questions, each asked ``--repeat`` times;
   the baseline is the same SQL run directly on the same engine in the same process, so the
   ratio is what planning, validation, compilation and answer composition add. Target: ask p50 < 300 ms.
3. Start-up: wall time of ``chatbi ask ... --json`` in a new process (the model and master data from
   the disk cache; its first run, with the cache empty, reported apart), against a new Python process
   that only opens DuckDB and runs the same SQL, alternating, in one run. Target: < 0.8 s and < 3x.
4. Result cache and guard: the same questions asked again with the result cache on (the answer
   comes from the cache: the SQL is the same and the file has not changed) against the uncached
   asks of 2.; and compiling + guarding each question's MetricQuery the old way (render the SQL,
   parse it again in the guard) against the new way (the guard checks the compiler's AST); and the
   guard on a repeated question, whose compiled tree is the shared one of the compile cache: checked
   and rendered again against the text the engine kept from the first time (``engines/_limits.py``).

Steps 1-2 run with the result cache off, so they measure the work a new question costs.

    python benchmarks/ask_bench.py --db case.duckdb [--repeat 5] [--startup-only]

``--startup-only`` runs 3. alone (what a change to start-up needs, in a fraction of the time).

Prints markdown.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlglot

from agent.assistant import Assistant
from agent.plan import QueryPlan
from engines._limits import guarded_sql
from evals.case_file import CASES_DIR, load_suite
from semantic_layer.compiler import compile_query
from semantic_layer.guard import guard_ast, guard_sql
from semantic_layer.query import MetricQuery, Principal
from semantic_layer.tables import CONTRACT_TABLES

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
        # The same SQL as the engine gets it from the compiler (an AST, guarded as it is), parsed once here.
        tree = sqlglot.parse_one(answer.sql, read=assistant.engine.dialect)
        asks, sqls = [], []
        for _ in range(repeat):
            start = time.perf_counter()
            assistant.ask(question, today=TODAY)
            asks.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            assistant.engine.execute(tree)
            sqls.append((time.perf_counter() - start) * 1000)
        rows.append((question, statistics.median(asks), statistics.median(sqls)))
    return rows


def cached_asks(db: Path, repeat: int) -> list[float]:
    """Median ms per question when it is asked again and its rows come from the result cache."""
    assistant = Assistant.open(db)
    try:
        medians = []
        for question in QUESTIONS:
            assistant.ask(question, today=TODAY)  # fills the cache
            asks = []
            for _ in range(repeat):
                start = time.perf_counter()
                answer = assistant.ask(question, today=TODAY)
                asks.append((time.perf_counter() - start) * 1000)
            if answer.status == "answer" and answer.plan is not None and "metrics" in answer.plan and not answer.cached:
                raise SystemExit(f"expected a cached answer for {question!r}")
            medians.append(statistics.median(asks))
        return medians
    finally:
        assistant.close()


def compile_and_guard(queries: list[MetricQuery], model, repeat: int) -> dict[str, float]:  # noqa: ANN001
    """Total ms to compile and guard every query, and to guard alone: the SQL text re-parsed by the guard
    (before) vs the compiler's AST checked as it is (after). Medians of ``repeat`` rounds."""
    tables = set(CONTRACT_TABLES)
    compiled = [compile_query(query, model, Principal(), dialect="duckdb") for query in queries]
    texts = [c.ast.sql(dialect="duckdb") for c in compiled]

    def reparse(query: MetricQuery) -> str:
        compiled = compile_query(query, model, Principal(), dialect="duckdb")
        return guard_sql(compiled.ast.sql(dialect="duckdb"), dialect="duckdb", allowed_tables=tables, row_limit=10_001)

    def ast(query: MetricQuery) -> str:
        compiled = compile_query(query, model, Principal(), dialect="duckdb")
        return guard_ast(compiled.ast, dialect="duckdb", allowed_tables=tables, row_limit=10_001)

    for query in queries:  # the same text either way, and warm
        if reparse(query) != ast(query):
            raise SystemExit(f"the two guard paths disagree on {query}")
    for c in compiled:  # the engine's kept text is the guard's, and kept from here on
        if guarded_sql(c.ast, dialect="duckdb", allowed_tables=frozenset(tables), row_limit=10_000) != guard_ast(
            c.ast, dialect="duckdb", allowed_tables=tables, row_limit=10_001
        ):
            raise SystemExit("the kept guard text differs from the guard's")
    rounds = {
        "compile + guard, re-parse": lambda: [reparse(q) for q in queries],
        "compile + guard, AST": lambda: [ast(q) for q in queries],
        "guard alone, re-parse": lambda: [
            guard_sql(t, dialect="duckdb", allowed_tables=tables, row_limit=10_001) for t in texts
        ],
        "guard alone, AST": lambda: [
            guard_ast(c.ast, dialect="duckdb", allowed_tables=tables, row_limit=10_001) for c in compiled
        ],
        "guard alone, AST kept": lambda: [  # what an engine does: the same tree's text from the first run
            guarded_sql(c.ast, dialect="duckdb", allowed_tables=frozenset(tables), row_limit=10_000) for c in compiled
        ],
    }
    totals: dict[str, list[float]] = {name: [] for name in rounds}
    for _ in range(repeat):
        for name, run in rounds.items():
            start = time.perf_counter()
            run()
            totals[name].append((time.perf_counter() - start) * 1000)
    return {name: statistics.median(values) for name, values in totals.items()}


#: The variable that stops Python writing bytecode: removed for the cold runs (see startup()).
BYTECODE_OFF = "PYTHONDONTWRITEBYTECODE"


def _timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one run of ``command``. On a shared machine the
    CPU time is the steadier figure: waiting for a core counts in the wall time only."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def startup(db: Path, sql: str, repeat: int) -> dict[str, tuple[float, float]]:
    """`chatbi ask` in a new process: once with an empty disk cache (it parses the model and indexes master
    data, then stores them), then ``repeat`` times with it and ``repeat`` times with it off (the old path);
    and a bare python + duckdb running the same SQL, all alternating. Medians of (wall, CPU) seconds."""
    chatbi = shutil.which("chatbi") or sys.exit("chatbi is not on PATH: pip install -e . first")
    command = [chatbi, "ask", "What was GMV last month?", "--db", str(db), "--json"]
    baseline = f"import duckdb; duckdb.connect({str(db)!r}, read_only=True).execute({sql!r}).fetchall()"
    runs: dict[str, list[tuple[float, float]]] = {"empty": [], "cached": [], "off": [], "bare": []}
    # Both as a user's shell runs them, with Python's bytecode cache: under PYTHONDONTWRITEBYTECODE=1 (set on
    # our build machines) every run compiles an editable install's modules from source again (0.16 s for
    # chatbi's), while the bare run's duckdb has the bytecode pip wrote when it installed it.
    shell = {k: v for k, v in os.environ.items() if k != BYTECODE_OFF}
    with tempfile.TemporaryDirectory(prefix="chatbi-ask-bench-") as cache:
        env = {**shell, "CHATBI_CACHE_DIR": cache}
        runs["empty"].append(_timed(command, env))
        for _ in range(repeat):
            runs["cached"].append(_timed(command, env))
            runs["off"].append(_timed(command, {**env, "CHATBI_CACHE_DIR": "off"}))
            runs["bare"].append(_timed([sys.executable, "-c", baseline], shell))
    return {
        name: (statistics.median(w for w, _ in timed), statistics.median(c for _, c in timed))
        for name, timed in runs.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--db", type=Path, required=True, help="A demo DuckDB file (case scale for the README figures)."
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--startup-only", action="store_true", help="Only time `chatbi ask` from cold (step 3).")
    args = parser.parse_args()
    if args.startup_only:
        assistant = Assistant.open(args.db, cache=False)
        try:
            gmv_sql = assistant.ask("What was GMV last month?", today=TODAY).sql or ""
        finally:
            assistant.close()
        print_startup(args.db, gmv_sql, args.repeat)
        return
    start = time.perf_counter()
    assistant = Assistant.open(args.db, cache=False)
    opened = time.perf_counter() - start
    try:
        plans = planning(assistant)
        rows = in_process(assistant, args.repeat)
        gmv_sql = assistant.ask("What was GMV last month?", today=TODAY).sql or ""
        queries = [p.query for q in QUESTIONS if isinstance(p := assistant.plan_only(q, today=TODAY), QueryPlan)]
        model = assistant.model
    finally:
        assistant.close()
    cached = cached_asks(args.db, args.repeat)
    guard_ms = compile_and_guard(queries, model, args.repeat)

    print(f"assistant opened (model, master data, engine) in {opened * 1000:.0f} ms\n")
    print(f"planning, {len(plans)} plans: p50 {_percentile(plans, 0.5):.2f} ms, p95 {_percentile(plans, 0.95):.2f} ms, "
          f"max {max(plans):.1f} ms\n")  # fmt: skip
    print("| question | ask (ms) | SQL alone (ms) | ratio |\n|---|---:|---:|---:|")
    for question, ask_ms, sql_ms in rows:
        print(f"| {question} | {ask_ms:.1f} | {sql_ms:.1f} | {ask_ms / sql_ms:.2f} |")
    asks = [r[1] for r in rows]
    print(f"\nask p50 {statistics.median(asks):.1f} ms, max {max(asks):.1f} ms; "
          f"median ratio {statistics.median(r[1] / r[2] for r in rows):.2f}")  # fmt: skip
    uncached_p50, cached_p50 = statistics.median(asks), statistics.median(cached)
    print(f"\nask p50 uncached {uncached_p50:.1f} ms, cached {cached_p50:.1f} ms: "
          f"ratio {uncached_p50 / cached_p50:.1f}x")  # fmt: skip
    print(f"\n| {len(queries)} metric questions, total ms | guard re-parses the rendered SQL (before) | "
          "guard checks the compiler's AST (after) | ratio |\n|---|---:|---:|---:|")  # fmt: skip
    for step in ("compile + guard", "guard alone"):
        before, after = guard_ms[f"{step}, re-parse"], guard_ms[f"{step}, AST"]
        print(f"| {step} | {before:.1f} | {after:.1f} | {before / after:.2f} |")
    again, kept = guard_ms["guard alone, AST"], guard_ms["guard alone, AST kept"]
    print(f"\nthe guard on a repeated question ({len(queries)} queries, total): the AST checked and rendered again "
          f"{again:.2f} ms, the text kept from the first run {kept:.3f} ms; ratio {again / kept:.0f}x")  # fmt: skip
    print_startup(args.db, gmv_sql, args.repeat)


def print_startup(db: Path, sql: str, repeat: int) -> None:
    load_before = os.getloadavg()[0]
    timed = startup(db, sql, repeat)
    (cli, cli_cpu), (off, off_cpu), (bare, bare_cpu) = timed["cached"], timed["off"], timed["bare"]
    print(f"\n`chatbi ask` cold (new process, median of {repeat}): {cli:.2f} s; python + duckdb + the same SQL: "
          f"{bare:.2f} s; ratio {cli / bare:.2f}; the first run, with an empty disk cache: {timed['empty'][0]:.2f} s "
          f"({os.cpu_count()} CPUs, load average {load_before:.2f} before); with the disk cache off: {off:.2f} s, "
          f"ratio {off / bare:.2f}")  # fmt: skip
    print(f"\nCPU time (user + system, medians): `chatbi ask` {cli_cpu:.2f} s, bare {bare_cpu:.2f} s, ratio "
          f"{cli_cpu / bare_cpu:.2f}; with the disk cache off {off_cpu:.2f} s, ratio {off_cpu / bare_cpu:.2f}; "
          f"empty cache {timed['empty'][1]:.2f} s")  # fmt: skip
    if os.environ.get(BYTECODE_OFF):
        print(f"\n({BYTECODE_OFF} is set here; the cold runs were made without it, as a user's shell runs them)")
    print(f"\nload average while running: {' / '.join(f'{v:.2f}' for v in os.getloadavg())} (1 / 5 / 15 min), "
          f"{os.cpu_count()} cores")  # fmt: skip


if __name__ == "__main__":
    main()
