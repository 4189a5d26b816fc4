"""`chatbi eval`: run the eval cases against the assistant and report accuracy and latency.

Registered on the main app by :func:`register`. Everything heavy (the assistant, duckdb, the
case loader, rich) is imported inside the command so that `chatbi --help` stays fast.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import TYPE_CHECKING, cast

import typer

from api.console import fail

if TYPE_CHECKING:
    from agent.llm.config import PlannerChoice
    from evals.case_file import EvalCase, Suite
    from evals.runner import EvalRun

PLANNERS = ("embedded", "llm", "auto")
REPORT_SUFFIXES = (".md", ".json")


def eval_command(
    suite: str = typer.Option(
        "embedded",
        "--suite",
        help="embedded (all of evals/cases/), verified (the model folder's verified questions, answered without "
        "the verified shortcut), a case file name in evals/cases/, or a .yaml file or folder.",
    ),
    planner: str = typer.Option(
        "auto", "--planner", help="auto (the LLM planner when one is configured, else embedded), embedded or llm."
    ),
    report: list[Path] = typer.Option(
        [], "--report", help="Write a report: markdown if PATH ends in .md, JSON if .json; repeatable."
    ),
    db: Path | None = typer.Option(
        None, "--db", help="DuckDB file to run on (default: the small demo, seed 7, built once into the cache)."
    ),
    category: list[str] = typer.Option([], "--category", help="Only this category (e.g. lookup); repeatable."),
    lang: str | None = typer.Option(None, "--lang", help="Only cases in this language: zh, en or mixed."),
    floor: float | None = typer.Option(
        None, "--floor", help="Exit with code 1 when execution accuracy is below this share (e.g. 0.95)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the JSON report on stdout instead of the table."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
    time_plans: bool = typer.Option(
        False, "--time-plans", help="Also time planning alone (plan_only) on each single-turn question."
    ),
) -> None:
    """Score the assistant on the eval cases: plan and execution accuracy per category and language,
    family consistency, refusal/clarification precision, latency."""
    from evals.case_file import CATEGORIES, LANGUAGES, CaseFileError, load_suite, resolve_suite

    if planner not in PLANNERS:
        fail(f"--planner expects embedded or llm (or auto), got '{planner}'")
    if lang is not None and lang not in LANGUAGES:
        fail(f"--lang expects zh, en or mixed, got '{lang}'")
    unknown = [c for c in category if c not in CATEGORIES]
    if unknown:
        fail(f"unknown --category '{unknown[0]}': choose from {', '.join(CATEGORIES)}")
    bad_report = next((p for p in report if p.suffix not in REPORT_SUFFIXES), None)
    if bad_report is not None:
        fail(f"--report must end in .md or .json, got '{bad_report}'")
    if floor is not None and not 0 <= floor <= 1:
        fail(f"--floor expects a share between 0 and 1, got {floor}")
    try:
        if suite == "verified":
            loaded = _verified_suite()
        else:
            loaded = load_suite(resolve_suite(suite), name=suite if suite == "embedded" else None)
    except CaseFileError as exc:
        fail(str(exc))
    cases = [
        c
        for c in loaded.cases()
        if (not category or c.family.category in category) and (lang is None or c.case.lang == lang)
    ]
    if not cases:
        fail(f"no cases in suite '{loaded.name}' match the --category/--lang given")
    run = _run(
        loaded.name, cases, planner, db, progress=not (quiet or as_json), time_plans=time_plans,
        verified_first=suite != "verified",
    )  # fmt: skip
    _write_reports(run, report)
    if as_json:
        from evals.report import to_json

        typer.echo(to_json(run))
    else:
        from rich.console import Console

        from evals.report import print_summary

        print_summary(run, Console())
    accuracy = run.summary.overall.execution_accuracy
    if floor is not None and accuracy < floor:
        fail(f"execution accuracy {accuracy:.1%} is below --floor {floor:.1%}", 1)


def _verified_suite() -> Suite:
    """The model folder's verified questions as cases; phrasings whose dates cannot be read on the eval's
    reference day are left out, and said so."""
    from evals.case_file import CaseFileError
    from evals.verified_suite import verified_suite
    from semantic_layer.semantic_model import ModelError, load_model

    try:
        loaded, skipped = verified_suite(load_model())
    except ModelError as exc:
        raise CaseFileError(str(exc)) from None
    if skipped:
        typer.secho(f"left out (dates not readable on the eval's day): {'; '.join(skipped)}", err=True)
    return loaded


def _run(
    suite: str,
    cases: list[EvalCase],
    planner: str,
    db: Path | None,
    *,
    progress: bool,
    time_plans: bool,
    verified_first: bool = True,
) -> EvalRun:
    """Build or check the dataset, compute gold results, then run the cases on a fresh assistant."""
    import duckdb

    from evals.dataset import DatasetError, ensure_dataset
    from evals.runner import EvalRun, compute_gold, run_cases

    try:
        path = ensure_dataset(db, progress=progress)
        families = {c.family.id: c.family for c in cases}
        gold = compute_gold(families.values(), path)
    except DatasetError as exc:
        fail(str(exc))
    except duckdb.Error as exc:
        fail(f"cannot read {path}: {str(exc).splitlines()[0]}")
    try:
        from agent.assistant import Assistant

        # No result cache: the phrasings of a family share their SQL, and the reported latency is what
        # answering each question costs, not a cache hit.
        assistant = Assistant.open(
            path, planner=cast("PlannerChoice", planner), cache=False, verified_first=verified_first
        )
    except Exception as exc:  # a bad path, a missing LLM configuration, ...: one line for the user
        fail(f"cannot start the {planner} assistant: {(str(exc) or type(exc).__name__).splitlines()[0]}")
    started = dt.datetime.now().isoformat(timespec="seconds")
    clock = time.perf_counter()
    try:
        results = run_cases(cases, assistant, gold, time_plans=time_plans, progress=progress)
    finally:
        assistant.close()
    used = getattr(getattr(assistant, "planner", None), "name", planner)  # what auto chose
    return EvalRun(suite, used, str(path), started, time.perf_counter() - clock, results)


def _write_reports(run: EvalRun, paths: list[Path]) -> None:
    from evals.report import to_json, to_markdown

    for path in paths:
        text = to_markdown(run) if path.suffix == ".md" else to_json(run)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            fail(f"cannot write {path}: {exc.strerror or exc}")


def register(app: typer.Typer) -> None:
    """Add `eval` to the `chatbi` command."""
    app.command("eval")(eval_command)
