"""What the tool threads' lower priority gives: metric questions answered while an analysis tool runs.

In one process, uncached (the work a new question costs), for ``--seconds`` each, alternating
``--rounds`` times: metric questions one after another with nothing else running; the same while a
replenishment plan is asked again and again on an ordinary thread (what the server did before the tool
pool); and the same while it runs through :class:`agent.tool_slots.ToolSlots` (its own thread, nice +10
on Linux). Reports metric questions per second in each case and the ratios (slots over ordinary thread).

    python benchmarks/tool_priority_bench.py --db case.duckdb [--seconds 6] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from agent.assistant import Assistant
from agent.plan import ToolCall
from agent.tool_slots import ToolSlots

sys.path.insert(0, str(Path(__file__).parent))
from load_test import TOOL_QUESTIONS, question_mix  # noqa: E402


def metric_rate(assistant: Assistant, questions: list[str], seconds: float) -> float:
    done, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        assistant.ask(questions[done % len(questions)])
        done += 1
    return done / seconds


def beside(run_tool: Callable[[], object], measure: Callable[[], float]) -> float:
    """``measure()`` while ``run_tool()`` is called over and over on another thread."""
    stop = threading.Event()

    def tools() -> None:
        while not stop.is_set():
            run_tool()

    thread = threading.Thread(target=tools)
    thread.start()
    try:
        return measure()
    finally:
        stop.set()
        thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, required=True, help="A demo DuckDB file (case scale).")
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    assistant = Assistant.open(args.db, cache=False)
    slots = ToolSlots(running=1, waiting=0)
    try:
        mix = question_mix(assistant.model, assistant.master, 400, 14)
        tool_question = TOOL_QUESTIONS["zh"].format(category=assistant.master.members("category")[0].name)
        firsts = [turns[0] for turns in mix]
        questions = [q for q in firsts if not isinstance(assistant.plan_only(q), ToolCall)][:150]  # metrics only
        for question in [tool_question, *questions[:20]]:  # warm
            assistant.ask(question)
        alone: list[float] = []
        plain: list[float] = []
        slotted: list[float] = []
        for _ in range(args.rounds):
            alone.append(metric_rate(assistant, questions, args.seconds))
            measure = lambda: metric_rate(assistant, questions, args.seconds)  # noqa: E731
            plain.append(beside(lambda: assistant.ask(tool_question), measure))
            assistant.tool_slots = slots
            slotted.append(beside(lambda: assistant.ask(tool_question), measure))
            assistant.tool_slots = None
    finally:
        slots.close()
        assistant.close()
    a, p, s = (statistics.median(v) for v in (alone, plain, slotted))
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; {args.rounds} rounds of {args.seconds:g} s; "
          f"tool question: {tool_question}\n")  # fmt: skip
    print("| metric questions per second (median) | q/s | of alone |\n|---|---:|---:|")
    print(f"| alone | {a:.1f} | 1.00 |")
    print(f"| beside a tool run on an ordinary thread | {p:.1f} | {p / a:.2f} |")
    print(f"| beside a tool run in ToolSlots (nice +10) | {s:.1f} | {s / a:.2f} |")
    print(f"\ntool slots over an ordinary thread: {s / p:.2f}x")


if __name__ == "__main__":
    main()
