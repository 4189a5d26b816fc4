"""How `chatbi serve` holds up under many users: concurrent askers against a real server on loopback.

The question mix is generated from the model and master data (``--conversations``, default 400,
seeded): metric names from the YAML (zh and en) x periods as people say them x members of the
dimensions each metric takes (channels, categories, brands, cities, regions, stores), a follow-up
on a third of them (another member, another period), and about 1% analysis-tool questions (a
replenishment plan over every SKU: seconds each at case scale).

1. Direct: the whole mix through ``Assistant.ask`` in this process, one after another (the work itself).
2. Baseline, uncached, back to back: the old path. With ``--baseline-src DIR`` (a checkout of the code
   before issue 14, e.g. ``git worktree add --detach /tmp/chatbi-old d58b1a2``) a server of that code,
   one process, no result cache, no tool pool, the guard re-parsing the rendered SQL: what a single
   process did before. Without it: this code with ``--workers 1 --no-cache``, which already has this
   issue's AST guard, compile cache and tool pool, so the ratio against it understates the change.
3. For each ``--workers`` count, a fresh ``chatbi serve --workers N --planner embedded`` (demo mode,
   conversations in a temporary ``CHATBI_HOME``), warmed: uncached (``--no-cache``) back to back, the
   throughput compared with the baseline's; then with the result cache, back to back (``--users``, no
   think time) and realistic (``--realistic-users``, a uniform think time of ``--think`` seconds after
   every answer, arrivals spread over the first think interval). Each phase lasts ``--duration`` s.

Reported per phase: requests, throughput (requests finished within the ``--duration`` window, per
second: a tool run still in flight at the end is measured but not counted), p50 / p95 / max latency,
the p95 without the analysis-tool answers and those answers' count and p50 (what the tail is made of), errors (transport errors, non-200,
answers with status ``error`` that are not "busy"), busy answers (a tool question refused at once because
the worker's tool slots and queue were full: status ``error`` with ``retry_after_s``, by design, not an
error) and the cache hit rate when answers carry a ``cached`` field ("absent" otherwise); then the
errors of each phase by kind. Also per phase: the CPU the load generator itself used (share of one core:
it runs on the same machine, one asyncio process with an aiohttp keep-alive pool: httpx's async client
spent about 11 ms of CPU a request here, 57-79% of a core at 65 requests a second, taken from the server
it measures; aiohttp's about a fifth of that) and the workers uvicorn's
supervisor replaced (its log's "Child process [PID] died": a worker that missed the health ping).
Last, a targets table: per worker count, the issue's three targets (uncached throughput >= 2x the
baseline; back to back with the cache, p95 < 1 s and 0 errors; realistic, p95 < 500 ms), met or not.
``--serve-arg`` passes more flags to this code's ``chatbi serve`` (e.g. ``--serve-arg=--tool-slots=2``).
Prints markdown; exits 1 on any error.

    python benchmarks/load_test.py --db case.duckdb [--baseline-src DIR] [--workers 1 2] [--users 50]
        [--realistic-users 200] [--duration 60]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import httpx

from agent.assistant import Assistant
from semantic_layer.master_data import MasterData, Member
from semantic_layer.semantic_model import SemanticModel

#: Periods as people say them, zh and en (the planner's conventions turn them into dates).
PERIODS = {
    "zh": ["上个月", "2025年", "去年", "2025年Q3", "近30天", "12月", "上个季度", "今年上半年"],
    "en": ["last month", "in 2025", "last year", "Q3 2025", "last 30 days", "in December", "last quarter"],
}
#: Member kinds a question may filter on, with the model dimension that takes them.
FILTER_KINDS = ("channel", "category", "brand", "city", "region", "store")
#: Follow-ups: another member of the same kind, or another period.
FOLLOW_MEMBER = {"zh": "那{name}呢?", "en": "what about {name}?"}
FOLLOW_PERIOD = {"zh": "{period}呢?", "en": "and {period}?"}
#: Decisions rather than numbers (each runs an analysis tool; a few per hundred questions).
TOOL_QUESTIONS = {"zh": "给{category}做一份补货建议", "en": "which {category} SKUs should we reorder now?"}
TOOL_SHARE = 0.01
#: Seconds the client keeps an idle connection: below the server's keep-alive (api/serve_cli.py).
CLIENT_KEEP_ALIVE_S = 5.0


def question_mix(model: SemanticModel, master: MasterData, conversations: int, seed: int) -> list[list[str]]:
    """Conversations built from the model's metric names and master data's members, zh and en:
    metric x period x member, a follow-up on a third of them, a few tool questions. Deterministic."""
    rng = random.Random(seed)
    metrics = [m for m in model.metrics.values() if not m.components]  # composites are slow analyses, kept out
    members = {kind: master.members(kind) for kind in FILTER_KINDS}
    mix: list[list[str]] = []
    for _ in range(conversations):
        language = rng.choice(["zh", "en"])
        if rng.random() < TOOL_SHARE:
            category = rng.choice(members["category"])
            mix.append([TOOL_QUESTIONS[language].format(category=_name(category, language))])
            continue
        metric = rng.choice(metrics)
        name = metric.name_zh if language == "zh" else metric.name_en
        period = rng.choice(PERIODS[language])
        kinds = [k for k in FILTER_KINDS if k in model.metric_dimensions(metric.id) and members[k]]
        member = rng.choice(members[rng.choice(kinds)]) if kinds and rng.random() < 0.7 else None
        if language == "zh":
            first = f"{period}{_name(member, language) if member else ''}的{name}是多少?"
        else:
            first = f"What was {name}{' for ' + _name(member, language) if member else ''} {period}?"
        turns = [first]
        if rng.random() < 1 / 3:
            if member is not None and len(members[member.kind]) > 1:
                other = rng.choice([m for m in members[member.kind] if m != member])
                turns.append(FOLLOW_MEMBER[language].format(name=_name(other, language)))
            else:
                turns.append(FOLLOW_PERIOD[language].format(period=rng.choice(PERIODS[language])))
        mix.append(turns)
    return mix


def _name(member: Member | None, language: str) -> str:
    if member is None:
        return ""
    return member.name_en if language == "en" and member.name_en else member.name


#: `chatbi serve ...` with this interpreter (the console script may not be on PATH).
SERVE = "from api.cli import app\napp(prog_name='chatbi')\n"


@dataclass
class Run:
    """What one phase measured: latencies of answered requests, answer statuses, errors, cache hits."""

    latencies_ms: list[float] = field(default_factory=list)
    #: The latencies of answers an analysis tool gave (seconds of work each when not kept): the table shows
    #: them apart, and the p95 of the rest, so a reader sees what the whole mix's tail is made of.
    tool_ms: list[float] = field(default_factory=list)
    answers: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)  # the questions behind the errors
    busy: int = 0  # tool questions refused at once: the tool slots were full
    cached: int = 0
    has_cached_field: bool = False
    workers: set[str] = field(default_factory=set)
    #: The phase's window: requests finished after it (a tool run in flight at the end) are measured
    #: but not counted in the throughput, which would otherwise depend on how long the tail takes.
    deadline: float = float("inf")
    window_s: float = 0.0
    in_window: int = 0
    #: CPU seconds the load generator itself spent in the phase (it shares the cores with the server).
    client_cpu_s: float = 0.0
    #: Workers uvicorn's supervisor found dead or unresponsive and replaced during the phase (its log says so).
    restarts: int = 0

    @property
    def rate(self) -> float:
        """Requests finished within the window, per second of it."""
        return self.in_window / self.window_s if self.window_s else float("nan")

    def record(self, started: float, status: int, answer: dict | None, question: str) -> None:
        now = time.perf_counter()
        self.latencies_ms.append((now - started) * 1000)
        self.in_window += now <= self.deadline
        if answer is None:
            self.errors[f"HTTP {status}"] += 1
            self.failed[question] += 1
            return
        self.answers[answer["status"]] += 1
        if (answer.get("plan") or {}).get("kind") == "tool":
            self.tool_ms.append(self.latencies_ms[-1])
        if answer["status"] == "error" and answer.get("retry_after_s") is not None:
            self.busy += 1
        elif answer["status"] == "error":
            self.errors["answer status error: " + answer["text"][:60]] += 1
            self.failed[question] += 1
        if "cached" in answer:
            self.has_cached_field = True
            self.cached += bool(answer["cached"])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


# -- direct: the work itself, in this process -----------------------------------------------


def direct(assistant: Assistant, mix: list[list[str]]) -> Run:
    run = Run()
    start = time.perf_counter()
    for i, turns in enumerate(mix):
        for question in turns:
            started = time.perf_counter()
            answer = assistant.ask(question, conversation_id=f"direct-{i}")
            run.record(started, 200, answer.model_dump(mode="json"), question)
    run.window_s = time.perf_counter() - start
    return run


# -- over HTTP ---------------------------------------------------------------------------------


async def converse(
    client: aiohttp.ClientSession, turns: list[str], run: Run, conversation: str, think: Callable[[], float]
) -> None:
    for question in turns:
        body = {"question": question, "conversation_id": conversation}
        started = time.perf_counter()
        try:
            async with client.post("/v1/ask", json=body) as response:
                answer = await response.json() if response.status == 200 else None
                worker = response.headers.get("x-chatbi-worker", "?")
        except (TimeoutError, aiohttp.ClientError) as exc:
            run.errors[type(exc).__name__] += 1
            run.failed[question] += 1
            return
        run.record(started, response.status, answer, question)
        run.workers.add(worker)
        pause = think()
        if pause:
            await asyncio.sleep(pause)


async def load(
    base: str, mix: list[list[str]], users: int, duration: float, think: tuple[float, float], seed: int
) -> Run:
    """``users`` users, each walking the mix from its own offset for ``duration`` seconds, pausing a uniform
    ``think`` interval after each answer (0, 0: back to back)."""
    rng = random.Random(seed)
    deadline = time.perf_counter() + duration
    run = Run(deadline=deadline, window_s=duration)
    cpu = time.process_time()
    # An idle connection is dropped by the client before the server would close it (KEEP_ALIVE_S): with
    # both at 5 s (httpx's and uvicorn's defaults), a request sent just as the server closed got ReadError.
    connector = aiohttp.TCPConnector(limit=users, keepalive_timeout=CLIENT_KEEP_ALIVE_S)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(base, connector=connector, timeout=timeout) as client:

        async def user(u: int) -> None:
            if think[1]:
                await asyncio.sleep(rng.uniform(0, think[1]))  # arrivals spread, not all at once
            n = 0
            while time.perf_counter() < deadline:
                turns = mix[(u * 7 + n) % len(mix)]
                await converse(client, turns, run, f"load-{u}-{n}", lambda: rng.uniform(*think) if think[1] else 0)
                n += 1

        await asyncio.gather(*(user(u) for u in range(users)))
    run.client_cpu_s = time.process_time() - cpu
    return run


# -- the server ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Setup:
    """One server: this code with ``--workers`` and flags, or (``src``) another checkout's, one process."""

    workers: int | None = None
    flags: list[str] = field(default_factory=list)
    src: Path | None = None


def start_server(db: Path, home: Path, setup: Setup) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATBI_")}
    env["CHATBI_HOME"] = str(home)
    if setup.src is not None:  # its packages first: the checkout's code, this environment's libraries
        env["PYTHONPATH"] = os.pathsep.join([str(setup.src.resolve()), *filter(None, [env.get("PYTHONPATH")])])
    workers = [] if setup.workers is None else ["--workers", str(setup.workers)]
    command = [sys.executable, "-c", SERVE, "serve", "--db", str(db.resolve()), "--host", "127.0.0.1",
               "--port", str(port), "--planner", "embedded", *workers, *setup.flags]  # fmt: skip
    with (home / "serve.log").open("wb") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=setup.src)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit("the server exited:\n" + (home / "serve.log").read_text())
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return server, base
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    server.kill()
    sys.exit("the server did not become healthy in 180 s")


def measure(db: Path, setup: Setup, mix: list[list[str]], args: argparse.Namespace, realistic: bool) -> list[Run]:
    """A fresh server for ``setup``, warmed, then back to back and (``realistic``) with think time."""
    with tempfile.TemporaryDirectory(prefix="chatbi-load-") as home:
        server, base = start_server(db, Path(home), setup)
        log = Path(home) / "serve.log"
        try:
            asyncio.run(warm(base, mix, setup.workers or 1))
            phases = [(args.users, (0.0, 0.0))] + [(args.realistic_users, (args.think[0], args.think[1]))] * realistic
            runs = []
            for users, think in phases:
                before = restarts(log)
                runs.append(asyncio.run(load(base, mix, users, args.duration, think, args.seed)))
                runs[-1].restarts = restarts(log) - before
        finally:
            server.terminate()
            server.wait(timeout=60)
    return runs


def restarts(log: Path) -> int:
    """Workers the supervisor replaced so far: uvicorn logs "Child process [PID] died" for each one it killed
    because it did not answer the health ping in time, or found dead."""
    return log.read_text(errors="replace").count("] died") if log.is_file() else 0


def source_name(src: Path) -> str:
    """The checkout's commit (short), for the report."""
    done = subprocess.run(["git", "-C", str(src), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() or src.name


async def warm(base: str, mix: list[list[str]], workers: int) -> None:
    """Every worker answers a few questions first (its first question pays the lazy loads)."""
    async with aiohttp.ClientSession(base, timeout=aiohttp.ClientTimeout(total=120)) as client:

        async def ask(question: str) -> None:
            async with client.post("/v1/ask", json={"question": question}) as response:
                await response.read()

        for turns in mix[: 4 * workers]:
            await asyncio.gather(*(ask(q) for q in turns))


# -- report -------------------------------------------------------------------------------


def row(name: str, run: Run, users: int) -> str:
    done = len(run.latencies_ms)
    hits = f"{run.cached / done:.1%}" if run.has_cached_field and done else "absent"
    others = list((Counter(run.latencies_ms) - Counter(run.tool_ms)).elements())
    tools = f"{len(run.tool_ms)}, {percentile(run.tool_ms, 0.5):.0f}" if run.tool_ms else "0"
    return (
        f"| {name} | {users} | {done} | {run.rate:.1f} | {percentile(run.latencies_ms, 0.5):.0f} | "
        f"{percentile(run.latencies_ms, 0.95):.0f} | {percentile(others, 0.95):.0f} | {tools} | "
        f"{max(run.latencies_ms, default=float('nan')):.0f} | "
        f"{sum(run.errors.values())} | {run.busy} | {hits} | {run.client_cpu_s / run.window_s:.0%} | {run.restarts} |"
    )


#: The issue's targets (issue 14), checked per worker count in the summary.
TARGET_P95_BACK_MS = 1000.0
TARGET_P95_REALISTIC_MS = 500.0
TARGET_UNCACHED_RATIO = 2.0


def summary(targets: list[tuple[int, float, Run, Run]]) -> list[str]:
    """One line per target and worker count, met or not: the table to paste, the details above it."""
    lines = ["| target | workers | measured | met |", "|---|---:|---|---|"]

    def line(target: str, workers: int, measured: str, met: bool) -> None:
        lines.append(f"| {target} | {workers} | {measured} | {'met' if met else '**not met**'} |")

    for workers, ratio, back, real in targets:
        p95, errors = percentile(back.latencies_ms, 0.95), sum(back.errors.values())
        line(f"uncached throughput >= {TARGET_UNCACHED_RATIO:g}x the baseline", workers, f"{ratio:.2f}x",
             ratio >= TARGET_UNCACHED_RATIO)  # fmt: skip
        line(f"back to back, cache on: p95 < {TARGET_P95_BACK_MS:.0f} ms and 0 errors", workers,
             f"p95 {p95:.0f} ms, {errors} errors", p95 < TARGET_P95_BACK_MS and not errors)  # fmt: skip
        p95 = percentile(real.latencies_ms, 0.95)
        line(f"realistic: p95 < {TARGET_P95_REALISTIC_MS:.0f} ms", workers, f"p95 {p95:.0f} ms, "
             f"{sum(real.errors.values())} errors", p95 < TARGET_P95_REALISTIC_MS)  # fmt: skip
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, required=True, help="A demo DuckDB file (case scale for the README).")
    parser.add_argument("--baseline-src", type=Path, help="A checkout of the code before issue 14: the old path.")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="Server runs, one per count (1 2).")
    parser.add_argument("--users", type=int, default=50, help="Back-to-back users (default 50).")
    parser.add_argument("--realistic-users", type=int, default=200, help="Users with think time (default 200).")
    parser.add_argument("--think", type=float, nargs=2, default=[2.0, 10.0], help="Think time range, s (2 10).")
    parser.add_argument("--duration", type=float, default=60, help="Seconds per load phase (default 60).")
    parser.add_argument("--conversations", type=int, default=400, help="Conversations in the mix (default 400).")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--serve-arg", action="append", default=[], help="Extra `chatbi serve` argument (repeat).")
    args = parser.parse_args()
    if not args.db.is_file():
        sys.exit(f"database not found: {args.db} (build one with: chatbi demo build --db {args.db})")
    if args.baseline_src is not None and not (args.baseline_src / "api" / "cli.py").is_file():
        sys.exit(f"--baseline-src {args.baseline_src} is not a chatbi checkout (no api/cli.py)")

    load_before = os.getloadavg()
    assistant = Assistant.open(args.db, conversations=":memory:")
    try:
        mix = question_mix(assistant.model, assistant.master, args.conversations, args.seed)
        distinct = len({q for turns in mix for q in turns})
        direct(assistant, mix[:20])  # warm
        baseline_direct = direct(assistant, mix)
    finally:
        assistant.close()

    d = f"{args.duration:g} s"
    if args.baseline_src is not None:
        base = Setup(src=args.baseline_src)
        base_name = f"before ({source_name(args.baseline_src)}), one process, uncached, back to back, {d}"
    else:
        base = Setup(1, ["--no-cache", *args.serve_arg])
        base_name = f"baseline: --workers 1 --no-cache, back to back, {d}"
    (baseline,) = measure(args.db, base, mix, args, realistic=False)
    phases: list[tuple[str, Run, int]] = [(base_name, baseline, args.users)]
    targets: list[tuple[int, float, Run, Run]] = []
    for workers in args.workers:
        if workers == 1 and base.src is None:
            uncached = baseline  # the baseline is this very setup
        else:
            (uncached,) = measure(args.db, Setup(workers, ["--no-cache", *args.serve_arg]), mix, args, False)
            phases.append((f"--workers {workers} --no-cache, back to back, {d}", uncached, args.users))
        back, real = measure(args.db, Setup(workers, list(args.serve_arg)), mix, args, realistic=True)
        targets.append((workers, uncached.rate / baseline.rate, back, real))
        seen = len(back.workers | real.workers)
        phases.append((f"--workers {workers} ({seen} answered), back to back, {d}", back, args.users))
        think = f"think {args.think[0]:g}-{args.think[1]:g} s"
        phases.append((f"--workers {workers}, {think}, {d}", real, args.realistic_users))
    load_after = os.getloadavg()

    questions = sum(len(t) for t in mix)
    follow_ups = sum(len(t) - 1 for t in mix)
    print(f"`chatbi serve` on {args.db} ({args.db.stat().st_size / 2**20:.0f} MiB), embedded planner, demo mode; "
          f"{os.cpu_count()} CPUs, load average {load_before[0]:.2f} before and {load_after[0]:.2f} after "
          "(the load generator runs on the same machine).\n")  # fmt: skip
    print(f"Question mix: {len(mix)} conversations, {questions} questions ({distinct} distinct, {follow_ups} "
          f"follow-ups), seed {args.seed}; answers in the direct run: {dict(baseline_direct.answers)}.\n")  # fmt: skip
    print("| phase | users | requests | req/s | p50 ms | p95 ms | p95 ms without tools | tool answers, p50 ms "
          "| max ms | errors | busy | cache hits | client CPU | restarts |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(row("direct `Assistant.ask`, one after another", baseline_direct, 1))
    for name, run, users in phases:
        print(row(name, run, users))
    print()
    named = [("direct", baseline_direct), *((name, run) for name, run, _ in phases)]
    failing = [(name, run) for name, run in named if run.errors]
    for name, run in failing:
        print(f"- ERRORS in {name}: {dict(run.errors)}; most failed questions: {run.failed.most_common(3)}")
    print(f"\nTargets (load average {load_before[0]:.2f} before, {load_after[0]:.2f} after):\n")
    print("\n".join(summary(targets)))
    if failing:
        sys.exit(1)


if __name__ == "__main__":
    main()
