"""How `chatbi serve` holds up under many users: concurrent askers against a real server on loopback.

1. Direct baseline: the same conversations through ``Assistant.ask`` in this process, one after
   another (``--rounds`` times), so the server's figures can be read against the work itself;
   run before and again after the server phases, as other work on the machine shifts the figures.
2. One HTTP user: the same conversations over HTTP, one request at a time: what HTTP, JSON and
   the threadpool add when nobody waits.
3. Load: ``--users`` concurrent users (bounded asyncio + httpx, one connection each) asking
   for ``--duration`` seconds. Each user runs conversations from a fixed mix (questions with
   follow-ups, a clarification then the pick, zh and en); every ``--sse-every``-th request
   streams (``Accept: text/event-stream``) and is timed to its ``done`` event.

The server is started here as a subprocess (``chatbi serve --db DB --host 127.0.0.1 --planner
embedded``, demo mode, conversations in a temporary ``CHATBI_HOME``) and stopped at the end.
Target: zero 5xx and zero failed requests. Prints markdown; exits 1 on any 5xx or failure.

    python benchmarks/load_test.py --db case.duckdb [--users 50] [--duration 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from agent.assistant import Assistant

#: Conversations: a question and its follow-ups, each turn with the answer status it must get.
CONVERSATIONS: list[list[tuple[str, str]]] = [
    [("上个月天猫的毛利率是多少?", "answer"), ("那京东呢?", "answer")],
    [("What was GMV last month?", "answer")],
    [("2025年各渠道的销售额和订单数", "answer")],
    [("days of inventory by category last year", "answer")],
    [("去年GMV前10的商品", "answer")],
    [("近30天销售额趋势", "answer")],
    [("2025年按月的毛利率", "answer")],
    [("12月GMV同比", "answer")],
    [("上个月缺货率最高的3个品类", "answer")],
    [("上海门店上个月客单价", "answer")],
    [("conversion rate by store last quarter", "answer")],
    [("上个月周转怎么样?", "clarification"), ("库存周转天数", "answer")],
    [("gross margin by channel last quarter", "answer")],
    [("上个月各门店的销售额", "answer")],
]

#: `chatbi serve ...` with this interpreter (the console script may not be on PATH).
SERVE = "from api.cli import app\napp(prog_name='chatbi')\n"


@dataclass
class Run:
    """What one phase measured: latencies of completed requests, HTTP statuses, answer statuses, failures."""

    latencies_ms: list[float] = field(default_factory=list)
    http: Counter[str] = field(default_factory=Counter)
    answers: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    wall_s: float = 0.0

    def record(self, started: float, status: int, answer: dict | None, expected: str) -> None:
        self.latencies_ms.append((time.perf_counter() - started) * 1000)
        self.http[str(status)] += 1
        if answer is None:
            self.failures[f"HTTP {status}"] += 1
            return
        self.answers[answer["status"]] += 1
        if answer["status"] != expected:
            self.failures[f"expected {expected}, got {answer['status']}"] += 1


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


# -- 1. direct ----------------------------------------------------------------------------


def direct(db: Path, rounds: int) -> Run:
    assistant = Assistant.open(db, conversations=":memory:")
    run = Run()
    try:
        for n in range(2):  # warm: master data, DuckDB's caches
            for i, turns in enumerate(CONVERSATIONS):
                _converse_directly(assistant, turns, Run(), f"warm-{n}-{i}")
        start = time.perf_counter()
        for n in range(rounds):
            for i, turns in enumerate(CONVERSATIONS):
                _converse_directly(assistant, turns, run, f"direct-{n}-{i}")
        run.wall_s = time.perf_counter() - start
    finally:
        assistant.close()
    return run


def _converse_directly(assistant: Assistant, turns: list[tuple[str, str]], run: Run, conversation: str) -> None:
    for question, expected in turns:
        started = time.perf_counter()
        answer = assistant.ask(question, conversation_id=conversation)
        run.record(started, 200, {"status": answer.status}, expected)


# -- 2 and 3. over HTTP -------------------------------------------------------------------


async def converse(
    client: httpx.AsyncClient, turns: list[tuple[str, str]], run: Run, conversation: str, stream: bool
) -> None:
    for question, expected in turns:
        body = {"question": question, "conversation_id": conversation}
        started = time.perf_counter()
        try:
            if stream:
                status, answer = await _ask_streaming(client, body)
            else:
                response = await client.post("/v1/ask", json=body)
                status, answer = response.status_code, response.json() if response.status_code == 200 else None
        except httpx.HTTPError as exc:
            run.failures[type(exc).__name__] += 1
            return
        run.record(started, status, answer, expected)


async def _ask_streaming(client: httpx.AsyncClient, body: dict) -> tuple[int, dict | None]:
    async with client.stream("POST", "/v1/ask", json=body, headers={"Accept": "text/event-stream"}) as response:
        if response.status_code != 200:
            await response.aread()
            return response.status_code, None
        event = ""
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                event = line[len("event: ") :]
            elif line.startswith("data: ") and event == "done":
                return 200, json.loads(line[len("data: ") :])
    return 200, None  # the stream ended without its done event


async def one_user(base: str, rounds: int) -> Run:
    run = Run()
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        start = time.perf_counter()
        for n in range(rounds):
            for i, turns in enumerate(CONVERSATIONS):
                await converse(client, turns, run, f"one-{n}-{i}", stream=False)
        run.wall_s = time.perf_counter() - start
    return run


async def load(base: str, users: int, duration: float, sse_every: int) -> Run:
    run = Run()
    deadline = time.perf_counter() + duration
    limits = httpx.Limits(max_connections=users, max_keepalive_connections=users)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:

        async def user(u: int) -> None:
            n = 0
            while time.perf_counter() < deadline:
                turns = CONVERSATIONS[(u + n) % len(CONVERSATIONS)]
                await converse(client, turns, run, f"load-{u}-{n}", stream=sse_every > 0 and n % sse_every == 0)
                n += 1

        start = time.perf_counter()
        await asyncio.gather(*(user(u) for u in range(users)))
        run.wall_s = time.perf_counter() - start
    return run


# -- the server ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(db: Path, home: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATBI_")}
    env["CHATBI_HOME"] = str(home)
    command = [sys.executable, "-c", SERVE, "serve", "--db", str(db), "--host", "127.0.0.1", "--port", str(port)]
    with (home / "serve.log").open("wb") as log:
        server = subprocess.Popen([*command, "--planner", "embedded"], stdout=log, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit("the server exited:\n" + (home / "serve.log").read_text())
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return server, base
        except httpx.TransportError:
            time.sleep(0.2)
    server.kill()
    sys.exit("the server did not become healthy in 120 s")


# -- report -------------------------------------------------------------------------------


def row(name: str, run: Run, concurrency: int, over_http: bool = True) -> str:
    done = len(run.latencies_ms)
    fivexx = sum(n for status, n in run.http.items() if status.startswith("5")) if over_http else "-"
    statuses = dict(sorted(run.http.items())) if over_http else "-"
    return (
        f"| {name} | {concurrency} | {done} | {done / run.wall_s:.1f} | {percentile(run.latencies_ms, 0.5):.1f} | "
        f"{percentile(run.latencies_ms, 0.95):.1f} | {max(run.latencies_ms, default=float('nan')):.1f} | "
        f"{statuses} | {fivexx} | {sum(run.failures.values())} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--db", type=Path, required=True, help="A demo DuckDB file (case scale for the README figures)."
    )
    parser.add_argument("--users", type=int, default=50, help="Concurrent users (default 50).")
    parser.add_argument("--duration", type=float, default=60, help="Seconds of load (default 60).")
    parser.add_argument("--rounds", type=int, default=5, help="Rounds of the mix for the direct and one-user phases.")
    parser.add_argument("--sse-every", type=int, default=5, help="Every Nth conversation of a user streams (0: none).")
    args = parser.parse_args()
    if not args.db.is_file():
        sys.exit(f"database not found: {args.db} (build one with: chatbi demo build --db {args.db})")

    load_before = os.getloadavg()
    before = direct(args.db, args.rounds)
    with tempfile.TemporaryDirectory(prefix="chatbi-load-") as home:
        server, base = start_server(args.db, Path(home))
        try:
            asyncio.run(one_user(base, 2))  # warm the server's caches
            single = asyncio.run(one_user(base, args.rounds))
            loaded = asyncio.run(load(base, args.users, args.duration, args.sse_every))
        finally:
            server.terminate()
            server.wait(timeout=30)
    after = direct(args.db, args.rounds)
    load_after = os.getloadavg()

    print(f"`chatbi serve` on {args.db} ({args.db.stat().st_size / 2**20:.0f} MiB), embedded planner, demo mode; ")
    print(f"{os.cpu_count()} CPUs, load average {load_before[0]:.2f} before and {load_after[0]:.2f} after ")
    print("(the load generator runs on the same machine).\n")
    print("| phase | users | requests | req/s | p50 ms | p95 ms | max ms | HTTP statuses | 5xx | failed |")
    print("|---|---:|---:|---:|---:|---:|---:|---|---:|---:|")
    print(row("direct `Assistant.ask`, before", before, 1, over_http=False))
    print(row("direct `Assistant.ask`, after", after, 1, over_http=False))
    print(row("HTTP, one user", single, 1))
    print(row(f"HTTP, {args.users} users, {args.duration:.0f} s", loaded, args.users))
    direct_p50 = percentile(before.latencies_ms + after.latencies_ms, 0.5)
    print(
        f"\nserver p50 / direct p50 (both direct runs: {direct_p50:.1f} ms): "
        f"{percentile(single.latencies_ms, 0.5) / direct_p50:.2f} with one user, "
        f"{percentile(loaded.latencies_ms, 0.5) / direct_p50:.2f} with {args.users} users. "
        f"Answers under load: {dict(loaded.answers)}."
    )
    failures = before.failures + after.failures + single.failures + loaded.failures
    fivexx = sum(n for run in (single, loaded) for status, n in run.http.items() if status.startswith("5"))
    if failures or fivexx:
        print(f"\nFAILED: {dict(failures)}; 5xx: {fivexx}")
        sys.exit(1)


if __name__ == "__main__":
    main()
