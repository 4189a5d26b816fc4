"""An eval run as a terminal table (rich), a markdown report and a JSON report.

All three show the same numbers from :class:`evals.runner.Summary`; markdown and JSON also
list every failing case with what was expected, what came back and why it did not match. Cases
answered wrong come first everywhere: a wrong number that looks right is the failure a user
cannot see, so it must be the one a reader of the report cannot miss.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from rich.console import Console
from rich.table import Table

from evals.runner import CaseResult, EvalRun, Latency, LLMSummary, Score, Summary

#: Failing cases printed on the terminal; the reports list all of them.
TERMINAL_FAILURES = 10


def to_json(run: EvalRun) -> str:
    """The run as one JSON object: metadata, summary, failing cases, then every case."""
    data: dict[str, Any] = {
        "suite": run.suite,
        "planner": run.planner,
        "db": run.db,
        "started": run.started,
        "seconds": round(run.seconds, 3),
        "summary": asdict(run.summary),
        "answered_wrong": [_failure(r) for r in run.results if r.answered_wrong],
        "failures": [_failure(r) for r in run.results if r.failed],
        "cases": [asdict(r) for r in run.results],
    }
    return json.dumps(data, ensure_ascii=False, indent=2)


def _failure(r: CaseResult) -> dict[str, Any]:
    return {
        "id": r.id,
        "category": r.category,
        "questions": r.questions,
        "expected": r.expected,
        "got": r.got,
        "outcome": r.outcome,
        "reason": r.reason or r.plan_reason,
        "plan_reason": r.plan_reason,
        "answer_text": r.answer_text,
        "answer_sql": r.answer_sql,
    }


def to_markdown(run: EvalRun) -> str:
    s = run.summary
    lines = [
        f"# chatbi eval: {run.suite}",
        "",
        f"Planner `{run.planner}` on `{run.db}`: {s.overall.n} cases, started {run.started}, {run.seconds:.1f} s.",
        "",
        "| | n | plan accuracy | execution accuracy | answered wrong | not answered |",
        "|---|---:|---:|---:|---:|---:|",
        *(_score_row(name, score) for section in _score_sections(s) for name, score in section),
        "",
        *(f"- {label}: {value}" for label, value in _rates(s)),
    ]
    wrong = [r for r in run.results if r.answered_wrong]
    lines += ["", f"## Answered wrong ({len(wrong)})", ""]
    if wrong:
        lines += ["| id | category | question | expected | got | why |", "|---|---|---|---|---|---|"]
        lines += [
            f"| {_cell(r.id)} | {r.category} | {_cell(_question(r))} | {r.expected} | "
            f"{_cell(_got(r))} | {_cell(r.reason or r.plan_reason)} |"
            for r in wrong
        ]
    else:
        lines.append("None.")
    weak = {fid: v for fid, v in s.family_scores.items() if v < 1.0}
    if weak:
        lines += ["", "## Families not all correct", "", "| family | score |", "|---|---:|"]
        lines += [f"| {_cell(fid)} | {_pct(v)} |" for fid, v in sorted(weak.items(), key=lambda kv: (kv[1], kv[0]))]
    failures = [r for r in run.results if r.failed]
    lines += ["", f"## Failing cases ({len(failures)})", ""]
    if failures:
        lines += ["| id | question | expected | got | outcome | reason |", "|---|---|---|---|---|---|"]
        lines += [
            f"| {_cell(r.id)} | {_cell(_question(r))} | {r.expected} | {r.got} | {r.outcome} | "
            f"{_cell(r.reason or r.plan_reason)} |"
            for r in failures
        ]
    else:
        lines.append("None.")
    costs = [r for r in run.results if r.llm is not None]
    if costs:
        lines += ["", "## LLM cost per case", "", "| id | calls | prompt tokens | completion tokens | last turn ms |"]
        lines += ["|---|---:|---:|---:|---:|"]
        lines += [
            f"| {_cell(r.id)} | {r.llm.calls} | {r.llm.prompt_tokens} | {r.llm.completion_tokens} | "
            f"{r.ask_seconds * 1000:.0f} |"
            for r in costs
            if r.llm is not None
        ]
    return "\n".join(lines) + "\n"


def print_summary(run: EvalRun, console: Console) -> None:
    """The summary table, the rates, and the first failing cases."""
    s = run.summary
    table = Table(title=f"chatbi eval: {run.suite} (planner {run.planner})")
    table.add_column("")
    for header in ("n", "plan acc.", "exec. acc.", "answered wrong", "not answered"):
        table.add_column(header, justify="right")
    for section in _score_sections(s):
        for name, score in section:
            table.add_row(
                name, str(score.n), _pct(score.plan_accuracy), _pct(score.execution_accuracy),
                str(score.answered_wrong), str(score.not_answered),
            )  # fmt: skip
        table.add_section()
    console.print(table)
    for label, value in _rates(s):
        console.print(f"{label}: {value}", highlight=False)
    failures = sorted((r for r in run.results if r.failed), key=lambda r: not r.answered_wrong)
    if failures:
        shown = f", the first {TERMINAL_FAILURES}" if len(failures) > TERMINAL_FAILURES else ""
        wrong = sum(r.answered_wrong for r in failures)
        console.print(f"\n{len(failures)} failing cases ({wrong} answered wrong, listed first){shown}:")
        for r in failures[:TERMINAL_FAILURES]:
            line = f"  {r.id} [{r.outcome}]: {r.reason or r.plan_reason}"
            console.print(line, highlight=False, markup=False, no_wrap=True, overflow="ellipsis")


def _score_sections(s: Summary) -> list[list[tuple[str, Score]]]:
    """Overall, then per category, then per language (``lang zh``)."""
    return [
        [("overall", s.overall)],
        list(s.by_category.items()),
        [(f"lang {lang}", score) for lang, score in s.by_language.items()],
    ]


def _rates(s: Summary) -> list[tuple[str, str]]:
    consistent = sum(v == 1.0 for v in s.family_scores.values())
    return [
        ("family consistency", f"{_pct(s.family_consistency)} ({consistent} of {len(s.family_scores)} families)"),
        ("refusal precision / recall", f"{_pct(s.refusal_precision)} / {_pct(s.refusal_recall)}"),
        ("clarification precision / recall", f"{_pct(s.clarification_precision)} / {_pct(s.clarification_recall)}"),
        ("ask latency, last turn p50 / p95", _ms(s.ask_latency)),
        ("ask latency, whole case p50 / p95", _ms(s.case_latency)),
        ("plan_only latency p50 / p95", _ms(s.plan_latency)),
        *(_llm_rates(s.llm) if s.llm is not None else []),
    ]


def _llm_rates(llm: LLMSummary) -> list[tuple[str, str]]:
    return [
        ("LLM calls per case (all its turns), mean / max", f"{llm.calls_mean:.2f} / {llm.calls_max}"),
        ("LLM prompt tokens per case, mean / p95", f"{llm.prompt_tokens_mean:.0f} / {llm.prompt_tokens_p95:.0f}"),
        ("LLM fallbacks to the embedded planner", str(llm.fallbacks)),
    ]


def _score_row(name: str, score: Score) -> str:
    return (
        f"| {name} | {score.n} | {_pct(score.plan_accuracy)} | {_pct(score.execution_accuracy)} | "
        f"{score.answered_wrong} | {score.not_answered} |"
    )


def _got(r: CaseResult) -> str:
    """What an answered-wrong case said, short enough for a table cell."""
    text = r.answer_text if len(r.answer_text) <= 160 else r.answer_text[:157] + "..."
    return f"{r.got}: {text}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _ms(latency: Latency | None) -> str:
    return "not measured" if latency is None else f"{latency.p50 * 1000:.0f} ms / {latency.p95 * 1000:.0f} ms"


def _question(r: CaseResult) -> str:
    return " → ".join(r.questions)


def _cell(text: str) -> str:
    """Text safe inside a markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")
