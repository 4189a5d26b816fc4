"""What a download costs: an answer's XLSX (and CSV) against the JSON answer object of the same rows.

The baseline is ``Answer.to_json()`` on the same answer in the same run, which every answer pays
already; the ratios say what rendering the file adds when a user clicks a download button.
Answers: a metric breakdown by month and channel, and the replenishment plan of every SKU (its
purchase-order workbook, one sheet per supplier).

    python benchmarks/exports_bench.py --db small.duckdb [--repeat 20]

Prints markdown.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from agent.assistant import Assistant
from api.exports.table import to_csv, to_xlsx

QUESTIONS = ["去年各月各渠道的销售额", "给所有SKU做一份补货建议"]


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Median milliseconds of ``repeat`` calls."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", type=Path, required=True, help="A demo DuckDB file (chatbi demo build).")
    parser.add_argument("--repeat", type=int, default=20, help="Calls per measurement (the median is shown).")
    args = parser.parse_args()
    assistant = Assistant.open(args.db)
    model = assistant.model
    print("| question | rows | columns | JSON ms | CSV ms | XLSX ms | XLSX / JSON | XLSX KiB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for question in QUESTIONS:
        answer = assistant.ask(question)
        json_ms = timed(answer.to_json, args.repeat)
        csv_ms = timed(lambda a=answer: to_csv(a, model), args.repeat)
        xlsx_ms = timed(lambda a=answer, q=question: to_xlsx(a, model, q), args.repeat)
        size = len(to_xlsx(answer, model, question)) / 1024
        print(f"| {question} | {len(answer.rows)} | {len(answer.columns)} | {json_ms:.2f} | {csv_ms:.2f} | "
              f"{xlsx_ms:.1f} | {xlsx_ms / json_ms:.0f}x | {size:.0f} |")  # fmt: skip
    assistant.close()


if __name__ == "__main__":
    main()
