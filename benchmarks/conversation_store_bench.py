"""What the conversation store costs per question: one load and one append on a file store.

Each operation opens its own SQLite connection (so locks and replaced files are seen at once);
this measures that against keeping one connection open, on the same file.

    python benchmarks/conversation_store_bench.py [--turns 2000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from agent.conversation_store import ConversationStore
from agent.plan import QueryPlan, Turn
from semantic_layer.query import MetricQuery


def _turn(i: int) -> Turn:
    query = MetricQuery(metrics=["gmv"], period={"start": dt.date(2025, 1, 1), "end": dt.date(2025, 1, 31)})
    return Turn(question=f"q{i}", language="zh", plan=QueryPlan(query=query), status="answer")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=2000, help="Questions to simulate (load + append each).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        store = ConversationStore(Path(folder) / "conversations.sqlite")
        per_question = []
        for i in range(args.turns):
            started = time.perf_counter()
            store.load(f"c{i % 50}")
            store.append(f"c{i % 50}", _turn(i))
            per_question.append(time.perf_counter() - started)
        # The same work on one long-lived connection, for comparison.
        db = sqlite3.connect(str(Path(folder) / "kept.sqlite"), isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE turn (conversation_id TEXT, seq INTEGER, created_at TEXT, body TEXT)")
        kept = []
        for i in range(args.turns):
            started = time.perf_counter()
            db.execute("SELECT body FROM turn WHERE conversation_id = ? ORDER BY seq DESC LIMIT 20", (f"c{i % 50}",))
            db.execute(
                "INSERT INTO turn VALUES (?, ?, datetime('now'), ?)", (f"c{i % 50}", i, _turn(i).model_dump_json())
            )
            kept.append(time.perf_counter() - started)
        db.close()
    for name, times in (("connection per operation", per_question), ("one kept connection", kept)):
        ms = sorted(t * 1000 for t in times)
        print(f"{name}: p50 {statistics.median(ms):.2f} ms, p95 {ms[int(len(ms) * 0.95)]:.2f} ms per question")


if __name__ == "__main__":
    main()
