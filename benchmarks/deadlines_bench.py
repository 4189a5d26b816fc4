"""How soon the deadlines bite: the checks the tests make functionally, timed here (tests never assert
wall-clock times; a busy machine would make them flaky).

1. DuckDB: a query that would run for minutes, ``timeout_s=0.3``: seconds until QueryTimeout.
2. The LLM planner: an endpoint that sleeps 2 s, deadline 0.3 s: seconds until the embedded planner's
   plan comes back with the timeout note.
3. With ``--pg URL`` (or ``$CHATBI_TEST_PG_URL``): the same query on PostgreSQL, and loading the demo
   DuckDB file into a scratch schema.

Each figure is reported against its deadline (the ratio is what the machine adds), median of ``--repeat``.

    python benchmarks/deadlines_bench.py --db small.duckdb [--repeat 5] [--pg postgresql://...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' own fixtures: time what they check

from agent.assistant import Assistant
from agent.llm.config import LLMConfig
from agent.llm.planner import LLMPlanner
from agent.plan import Conversation
from engines import connect
from semantic_layer.engine import QueryTimeout
from semantic_layer.query import Principal
from tests.test_engines import SLOW_SQL  # noqa: E402
from tests.test_llm_planner import TMALL_MARGIN, TODAY, ScriptedChat, call  # noqa: E402

TIMEOUT_S = 0.3


def timed(action: Callable[[], object], repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def query_timeout(target: str) -> Callable[[], None]:
    engine = connect(target)

    def run() -> None:
        try:
            engine.execute(SLOW_SQL, timeout_s=TIMEOUT_S)
        except QueryTimeout:
            return
        raise SystemExit(f"{target}: the slow query finished instead of timing out")

    return run


def llm_fallback(assistant: Assistant) -> Callable[[], None]:
    def run() -> None:
        slow = ScriptedChat(responses=[call("query_metrics", TMALL_MARGIN)], sleep=2.0)
        settings = LLMConfig(model="fake", api_key="k", deadline_s=TIMEOUT_S)
        planner = LLMPlanner(assistant.model, assistant.master, slow, settings)
        plan = planner.plan("上个月天猫的毛利率是多少?", Conversation(id=""), Principal(), TODAY)
        if plan.note is None:
            raise SystemExit("the hanging endpoint did not fall back")

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, required=True, help="A demo DuckDB file (small is enough).")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pg", default=os.environ.get("CHATBI_TEST_PG_URL"), help="A scratch PostgreSQL URL.")
    args = parser.parse_args()
    rows = [("DuckDB query timeout", TIMEOUT_S, timed(query_timeout(str(args.db)), args.repeat))]
    assistant = Assistant.open(args.db)
    try:
        rows.append(("LLM endpoint hangs -> embedded plan", TIMEOUT_S, timed(llm_fallback(assistant), args.repeat)))
    finally:
        assistant.close()
    if args.pg:
        from engines.load import load_demo

        rows.append(("PostgreSQL query timeout", TIMEOUT_S, timed(query_timeout(args.pg), args.repeat)))
        load = timed(lambda: load_demo(args.db, args.pg, schema="chatbi_deadlines_bench"), 1)
        rows.append(("pg_load of the demo file", float("nan"), load))
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}\n")
    print("| what | deadline (s) | took (s) | took / deadline |\n|---|---:|---:|---:|")
    for name, deadline, took in rows:
        print(f"| {name} | {deadline:.2f} | {took:.2f} | {took / deadline:.2f} |")


if __name__ == "__main__":
    main()
