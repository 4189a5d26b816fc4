"""Recognisers' speed on the case demo: master-data mentions and time expressions, per question.

``find_mentions`` (the phrase index over every member name and alias) is timed against a naive
loop that tests each member's names against the question, in the same process; ``find_periods``
(the time-expression table) per question, with the planner's whole reading as the yardstick it
has to fit in. These were timed unit tests once; on a loaded 2-core machine a timed test fails
for the machine's reasons, so the figures live here.

    python -m benchmarks.recognition_bench --db case.duckdb [--repeat 50]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from agent.time_expressions import find_periods
from engines import connect
from engines.members import load_master_data
from semantic_layer.master_data import MasterData
from semantic_layer.semantic_model import load_model

TODAY = dt.date(2026, 1, 15)
QUESTIONS = [
    "上个月天猫的毛利率是多少?",
    "品牌7水润修护面膜12号在京东和上海南京路店卖了多少, 和去年同期比呢",
    "how did Tmall and JD do in East China last quarter compared with the same period last year, by month",
    "品牌3面膜套装 的库存周转天数",
    "给面膜做个补货建议",
    "2025年Q4各渠道的GMV, 环比Q3",
    "双11期间天猫的GMV同比",
    "last 8 weeks revenue by week for Douyin",
    "现在北京仓还有多少库存",
    "去年618京东卖了多少件",
]


def _per_call(fn: Callable[[str], object], repeat: int) -> list[float]:
    timings = []
    for _ in range(repeat):
        for question in QUESTIONS:
            started = time.perf_counter()
            fn(question)
            timings.append(time.perf_counter() - started)
    return timings


def _naive(md: MasterData) -> Callable[[str], object]:
    """Every member's names tested against the question: what an index has to beat."""
    names = [n.lower() for kind in md.kinds for m in md.members(kind) for n in (m.name, m.name_en) if n]

    def scan(question: str) -> list[str]:
        text = question.lower()
        return [n for n in names if n in text]

    return scan


def _row(label: str, timings: list[float], baseline: list[float] | None = None) -> str:
    p50, worst = statistics.median(timings) * 1000, max(timings) * 1000
    ratio = f"{statistics.median(timings) / statistics.median(baseline):.2f}" if baseline else ""
    return f"| {label} | {p50:.3f} | {worst:.2f} | {ratio} |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="The case demo warehouse.")
    parser.add_argument("--repeat", type=int, default=50, help="Passes over the questions.")
    args = parser.parse_args(argv)
    if not args.db.is_file():
        print(f"error: database not found: {args.db}", file=sys.stderr)
        return 2
    engine = connect(args.db)
    try:
        md = load_master_data(engine, model=load_model())
    finally:
        engine.close()
    naive = _naive(md)
    for question in QUESTIONS:  # warm-up: regexes compiled, indexes touched
        md.find_mentions(question), naive(question), find_periods(question, TODAY)
    mentions = _per_call(md.find_mentions, args.repeat)
    scans = _per_call(naive, args.repeat)
    periods = _per_call(lambda q: find_periods(q, TODAY), args.repeat)
    print(f"Recognisers on `{args.db}` ({md.size:,} member names and aliases), "
          f"{len(QUESTIONS)} questions x {args.repeat}\n")  # fmt: skip
    print("| recogniser | p50 (ms) | max (ms) | ratio to the naive scan |")
    print("|---|---:|---:|---:|")
    print(_row("master-data mentions (phrase index)", mentions, scans))
    print(_row("naive scan of every member's names", scans))
    print(_row("time expressions", periods))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
