"""Run eval cases against an assistant and score them: per case, then per category, language and family.

Gold results come from running each family's hand-written SQL directly on the DuckDB file.
They are all computed (and the connection closed) before the assistant opens the file: DuckDB
refuses a second in-process connection to one file with a different configuration.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from agent.answer import Answer
from evals.case_file import CATEGORIES, LANGUAGES, STATUS_SEPARATOR, EvalCase, Expect, Family
from evals.compare import OK, Comparison, compare_plan, compare_tables, compare_tool
from evals.dataset import REFERENCE_DAY
from semantic_layer.query import Principal


class AssistantLike(Protocol):
    """What the runner needs of ``agent.assistant.Assistant`` (tests pass a fake)."""

    def ask(self, question: str, *, conversation_id: str, principal: Principal, today: Any) -> Answer: ...

    def plan_only(self, question: str, *, conversation_id: str, principal: Principal, today: Any) -> Any: ...


@dataclass(frozen=True)
class Gold:
    """A family's gold table, or why its SQL could not run (a case-file bug, reported per case)."""

    columns: list[str]
    rows: list[tuple[Any, ...]]
    error: str | None = None


def compute_gold(families: Iterable[Family], db: Path) -> dict[str, Gold]:
    """Run the gold SQL of every answer family once, read-only, on ``db``."""
    import duckdb

    gold: dict[str, Gold] = {}
    con = duckdb.connect(str(db), read_only=True)
    try:
        for family in families:
            if family.expect.sql is None:
                continue
            try:
                cursor = con.execute(family.expect.sql)
                gold[family.id] = Gold([d[0] for d in cursor.description or []], cursor.fetchall())
            except duckdb.Error as exc:
                gold[family.id] = Gold([], [], error=str(exc).splitlines()[0])
    finally:
        con.close()
    return gold


@dataclass
class LLMCost:
    """Model calls, tokens and fallbacks of one case (all its turns), from the planner's ``last_usage``."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    fallbacks: int = 0

    def add(self, usage: Any) -> None:
        self.calls += usage.calls
        self.prompt_tokens += usage.prompt_tokens
        self.completion_tokens += usage.completion_tokens
        self.fallbacks += usage.fallback is not None


def _planner_usage(assistant: AssistantLike) -> Any:
    """The usage object the LLM planner keeps for its last question; None for other planners."""
    return getattr(getattr(assistant, "planner", None), "last_usage", None)


#: The kinds of outcome a case can have, worst first. ``answered wrong`` is an answer that is
#: not the gold one, or any answer where the case expects the assistant to ask or refuse: the
#: user gets a number that looks right and is not. ``not answered``: a clarification, refusal or
#: error where an answer was expected (the user knows to look elsewhere). ``wrong non-answer``:
#: asked back where it should have refused (or the other way), or asked with the wrong options.
ANSWERED_WRONG, NOT_ANSWERED, WRONG_NON_ANSWER, CORRECT = (
    "answered wrong",
    "not answered",
    "wrong non-answer",
    "correct",
)
OUTCOMES = (ANSWERED_WRONG, NOT_ANSWERED, WRONG_NON_ANSWER, CORRECT)


def classify(expected: Sequence[str], got: str, execution_ok: bool) -> str:
    """Which of :data:`OUTCOMES` a case had, from its acceptable statuses and what came back."""
    if execution_ok:
        return CORRECT
    if got == "answer":
        return ANSWERED_WRONG
    return NOT_ANSWERED if "answer" in expected else WRONG_NON_ANSWER


@dataclass
class CaseResult:
    """One scored case. ``correct`` (used for family consistency) means execution-correct."""

    id: str
    family: str
    category: str
    lang: str
    questions: list[str]
    expected: str
    got: str
    plan_ok: bool
    execution_ok: bool
    reason: str
    plan_reason: str
    answer_text: str
    answer_sql: str | None
    ask_seconds: float
    case_seconds: float
    plan_only_seconds: float | None = None
    llm: LLMCost | None = None  # with the LLM planner: what the case's turns cost
    outcome: str = ""  # one of OUTCOMES; derived from expected, got and execution_ok when not given

    def __post_init__(self) -> None:
        if not self.outcome:
            self.outcome = classify(self.expected_statuses, self.got, self.execution_ok)

    @property
    def expected_statuses(self) -> tuple[str, ...]:
        return tuple(self.expected.split(STATUS_SEPARATOR))

    @property
    def answered_wrong(self) -> bool:
        return self.outcome == ANSWERED_WRONG

    @property
    def correct(self) -> bool:
        return self.execution_ok

    @property
    def failed(self) -> bool:
        return not (self.execution_ok and self.plan_ok)


def score(expect: Expect, answer: Answer, gold: Gold | None) -> tuple[Comparison, Comparison]:
    """(plan, execution) verdicts of one answer against its family's expectation."""
    if answer.status not in expect.statuses:
        miss = Comparison(False, f"expected {expect.label}, got {answer.status}: {_one_line(answer.text, 100)}")
        return miss, miss
    if answer.status == "clarification":
        options = [o.lower() for o in answer.options]
        lacking = [w for w in expect.options_include or [] if not any(w.lower() in o for o in options)]
        verdict = Comparison(False, f"options lack {', '.join(lacking)} (got: {'; '.join(answer.options)})")
        return (OK, OK) if not lacking else (verdict, verdict)
    if answer.status == "refusal":
        return OK, OK
    if expect.tool is not None:
        plan = compare_tool(expect.tool.name, expect.tool.arguments, answer.plan)
        lacking = [c for c in expect.tool.columns_include if c not in answer.columns]
        if lacking or not answer.rows:
            return plan, Comparison(False, f"tool table lacks {', '.join(lacking) or 'rows'}")
        if gold is None:
            return plan, OK
    assert gold is not None, "answer families have gold results"
    plan = compare_plan(expect.plan.given(), answer.plan) if expect.plan else OK
    if gold.error:
        return plan, Comparison(False, f"gold SQL failed: {gold.error}")
    table = compare_tables(gold.columns, gold.rows, answer.columns, answer.rows, order_matters=expect.order_matters)
    return plan, table


def run_case(item: EvalCase, assistant: AssistantLike, gold: Mapping[str, Gold], *, time_plan: bool) -> CaseResult:
    """Ask every turn in one fresh conversation and score the last answer."""
    family, questions = item.family, item.case.questions
    principal = Principal(role=family.role, store_id=family.store)
    today = family.today or REFERENCE_DAY
    conversation = uuid.uuid4().hex
    case_started = time.perf_counter()
    turn_seconds = 0.0
    cost: LLMCost | None = None
    for question in questions:
        started = time.perf_counter()
        before = _planner_usage(assistant)
        try:
            answer = assistant.ask(question, conversation_id=conversation, principal=principal, today=today)
        except Exception as exc:  # a crash is a wrong answer for this case, not the end of the run
            answer = Answer(status="error", text=f"assistant raised {type(exc).__name__}: {exc}", language="en")
        turn_seconds = time.perf_counter() - started
        usage = _planner_usage(assistant)
        if usage is not None and usage is not before:
            cost = cost or LLMCost()
            cost.add(usage)
        if answer.status == "error":
            break
    case_seconds = time.perf_counter() - case_started
    plan, execution = score(family.expect, answer, gold.get(family.id))
    return CaseResult(
        id=item.id, family=family.id, category=family.category, lang=item.case.lang, questions=questions,
        expected=family.expect.label, got=answer.status, plan_ok=plan.ok, execution_ok=execution.ok,
        reason=execution.reason, plan_reason=plan.reason, answer_text=_one_line(answer.text, 300),
        answer_sql=answer.sql, ask_seconds=turn_seconds, case_seconds=case_seconds,
        plan_only_seconds=_time_plan(assistant, questions[0], principal, today) if time_plan else None, llm=cost,
    )  # fmt: skip


def _time_plan(assistant: AssistantLike, question: str, principal: Principal, today: Any) -> float | None:
    """Wall time of planning alone, in a fresh conversation; None when planning raises."""
    started = time.perf_counter()
    try:
        assistant.plan_only(question, conversation_id=uuid.uuid4().hex, principal=principal, today=today)
    except Exception:
        return None
    return time.perf_counter() - started


def run_cases(
    cases: Sequence[EvalCase],
    assistant: AssistantLike,
    gold: Mapping[str, Gold],
    *,
    time_plans: bool = False,
    progress: bool = False,
) -> list[CaseResult]:
    """Run the cases in order, with a progress bar on stderr; ``time_plans`` times single-turn planning."""
    results = []
    with _progress() if progress else nullcontext(None) as bar:
        task = bar.add_task("eval", total=len(cases)) if bar is not None else None
        for item in cases:
            single = item.case.q is not None
            results.append(run_case(item, assistant, gold, time_plan=time_plans and single))
            if bar is not None:
                bar.update(task, advance=1, description=item.id)
    return results


def _progress() -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description:<40}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=Console(stderr=True), transient=True,
    )  # fmt: skip


@dataclass(frozen=True)
class Score:
    """Accuracies, and counts of the two ways of failing that matter most (see :data:`OUTCOMES`)."""

    n: int
    plan_accuracy: float
    execution_accuracy: float
    answered_wrong: int = 0
    not_answered: int = 0


@dataclass(frozen=True)
class Latency:
    """Seconds."""

    p50: float
    p95: float


@dataclass
class Summary:
    overall: Score
    by_category: dict[str, Score]
    by_language: dict[str, Score]
    family_consistency: float
    family_scores: dict[str, float]
    refusal_precision: float | None
    refusal_recall: float | None
    clarification_precision: float | None
    clarification_recall: float | None
    ask_latency: Latency | None
    case_latency: Latency | None
    plan_latency: Latency | None
    llm: LLMSummary | None = None


@dataclass(frozen=True)
class LLMSummary:
    """Per case, over the cases the LLM planner planned: calls, prompt tokens, and fallbacks in all."""

    calls_mean: float
    calls_max: int
    prompt_tokens_mean: float
    prompt_tokens_p95: float
    fallbacks: int


@dataclass
class EvalRun:
    """A finished run: what was run, on what, the per-case results and their summary."""

    suite: str
    planner: str
    db: str
    started: str
    seconds: float
    results: list[CaseResult]
    summary: Summary = field(init=False)

    def __post_init__(self) -> None:
        self.summary = summarize(self.results)


def summarize(results: Sequence[CaseResult]) -> Summary:
    """Accuracies overall, per category and per language; family consistency; refusal and
    clarification precision/recall; latency percentiles. ``results`` must not be empty."""
    if not results:
        raise ValueError("no results to summarize")
    families: dict[str, list[CaseResult]] = {}
    for r in results:
        families.setdefault(r.family, []).append(r)
    family_scores = {fid: sum(r.correct for r in rs) / len(rs) for fid, rs in families.items()}
    plan_times = [r.plan_only_seconds for r in results if r.plan_only_seconds is not None]
    return Summary(
        overall=_score(results),
        by_category=_grouped(results, "category", CATEGORIES),
        by_language=_grouped(results, "lang", LANGUAGES),
        family_consistency=sum(s == 1.0 for s in family_scores.values()) / len(family_scores),
        family_scores=family_scores,
        refusal_precision=_share(results, status="refusal", of="got"),
        refusal_recall=_share(results, status="refusal", of="expected"),
        clarification_precision=_share(results, status="clarification", of="got"),
        clarification_recall=_share(results, status="clarification", of="expected"),
        ask_latency=_latency([r.ask_seconds for r in results]),
        case_latency=_latency([r.case_seconds for r in results]),
        plan_latency=_latency(plan_times),
        llm=_llm_summary([r.llm for r in results if r.llm is not None]),
    )


def _llm_summary(costs: Sequence[LLMCost]) -> LLMSummary | None:
    if not costs:
        return None
    tokens = sorted(float(c.prompt_tokens) for c in costs)
    return LLMSummary(
        calls_mean=sum(c.calls for c in costs) / len(costs),
        calls_max=max(c.calls for c in costs),
        prompt_tokens_mean=sum(tokens) / len(tokens),
        prompt_tokens_p95=_percentile(tokens, 0.95),
        fallbacks=sum(c.fallbacks for c in costs),
    )


def _score(results: Sequence[CaseResult]) -> Score:
    n = len(results)
    return Score(
        n, sum(r.plan_ok for r in results) / n, sum(r.execution_ok for r in results) / n,
        answered_wrong=sum(r.outcome == ANSWERED_WRONG for r in results),
        not_answered=sum(r.outcome == NOT_ANSWERED for r in results),
    )  # fmt: skip


def answered_wrong(results: Iterable[CaseResult], categories: Iterable[str] | None = None) -> list[CaseResult]:
    """The cases answered wrong, in run order; only those of ``categories`` when given."""
    wanted = None if categories is None else set(categories)
    return [r for r in results if r.answered_wrong and (wanted is None or r.category in wanted)]


def _grouped(results: Sequence[CaseResult], attribute: str, order: Sequence[str]) -> dict[str, Score]:
    groups: dict[str, list[CaseResult]] = {}
    for r in results:
        groups.setdefault(getattr(r, attribute), []).append(r)
    return {key: _score(groups[key]) for key in order if key in groups}


def _share(results: Sequence[CaseResult], *, status: str, of: str) -> float | None:
    """Precision (``of="got"``: of the answers with ``status``, the share whose case accepts it) or
    recall (``of="expected"``: of the cases accepting ``status``, the share that got a status
    they accept: a case that accepts a clarification or a refusal is recalled by either)."""
    if of == "got":
        pool = [r for r in results if r.got == status]
    else:
        pool = [r for r in results if status in r.expected_statuses]
    if not pool:
        return None
    return sum(r.got in r.expected_statuses for r in pool) / len(pool)


def _latency(seconds: Sequence[float]) -> Latency | None:
    if not seconds:
        return None
    ordered = sorted(seconds)
    return Latency(_percentile(ordered, 0.50), _percentile(ordered, 0.95))


def _percentile(ordered: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _one_line(text: str, limit: int) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."
