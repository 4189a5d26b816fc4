"""Prompt tokens the LLM planner sends per question, on the demo model and on a 300-metric model.

For every question of the eval suite (each turn of a conversation, with the turns before it as
history), the first model call is built exactly as the planner builds it (system message, context
message, function definitions) and counted with tiktoken's cl100k_base, offline
(:mod:`agent.llm.tokens`). No endpoint is called. The same is done with a synthetic model: the demo
model plus generated metrics up to 300, whose names and synonyms share words with the real ones
("会员复购销售额", "member repeat GMV"), so retrieval has to discriminate.

It also reports recall: for every eval family that names its expected metrics, the share whose
metrics all appear in its first case's prompt (retrieved catalog, rule-based reading or history),
and the share among the retrieved catalog lines alone.

Last, a scripted run of the whole eval suite through the LLM path: a fake chat model that replays
the rule-based reading it is shown as its function call. It measures the machinery, not a model's
understanding: model calls and prompt tokens per question, fallbacks, and that validation lets
every good plan through (execution accuracy should equal the embedded planner's).

    python benchmarks/llm_prompt_tokens.py [--db PATH] [--metrics 300]

Prints markdown. Target: p95 and max under 3,000 tokens for both models.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path

from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from agent.llm import tokens
from agent.llm.config import LLMConfig
from agent.llm.planner import LLMPlanner
from agent.plan import Conversation, Turn
from evals.case_file import CASES_DIR, EvalCase, load_suite
from evals.dataset import REFERENCE_DAY, ensure_dataset
from evals.runner import CaseResult, compute_gold, run_cases, summarize
from semantic_layer.master_data import MasterData
from semantic_layer.query import Principal
from semantic_layer.semantic_model import Metric, SemanticModel, load_model

BUDGET = 3000
_FACETS = [
    ("新客", "new customer"), ("复购", "repeat"), ("会员", "member"), ("直播", "livestream"), ("私域", "private domain"),
    ("大促", "festival"), ("小样", "sample size"), ("礼盒", "gift box"), ("跨境", "cross-border"), ("团购", "group buy"),
    ("门店自提", "click and collect"), ("达人", "influencer"), ("搜索", "search"), ("短视频", "short video"),
]  # fmt: skip
_BASES = [
    ("销售额", "GMV", "revenue", "sales", "cny"), ("销量", "units", "quantity", "sales", "count"),
    ("订单数", "orders", "order_count", "sales", "count"), ("毛利", "gross profit", "revenue - cost_of_goods", "sales", "cny"),
    ("库存金额", "inventory value", "inventory_value_sum", "inventory", "cny"),
    ("访客数", "visitors", "visitors", "traffic", "count"), ("投放花费", "ad spend", "spend", "marketing", "cny"),
    ("互动量", "engagements", "engagements", "marketing", "count"),
]  # fmt: skip
_FORMS = [("", "", "{f}"), ("均值", "average", "{f} / days"), ("日均", "daily", "{f} / days")]


def synthetic_model(base: SemanticModel, size: int) -> SemanticModel:
    """``base`` plus generated metrics (over its measures) until it has ``size`` metrics."""
    metrics = dict(base.metrics)
    for (zh, en), (bzh, ben, formula, domain, fmt), (fzh, fen, form) in itertools.product(_FACETS, _BASES, _FORMS):
        if len(metrics) >= size:
            break
        name_zh, name_en = f"{zh}{bzh}{fzh}", " ".join(w for w in (en, ben, fen) if w)
        metric_id = "_".join(name_en.lower().replace("-", " ").split())
        metrics[metric_id] = Metric(
            id=metric_id, name_zh=name_zh, name_en=name_en, synonyms=[name_zh, name_en],
            description_zh=f"{zh}场景的{bzh}{fzh}(合成指标)。", description_en=f"{ben} of {en} business, {fen or 'total'}.",
            formula=form.format(f=f"({formula})"), format=fmt, domain=domain, owner="benchmark",
        )  # fmt: skip
    return base.model_copy(update={"metrics": metrics})


@dataclass
class Measured:
    counts: list[int]
    recall: float  # expected metrics anywhere in the prompt
    retrieved: float  # expected metrics among the retrieved catalog lines
    families: int


_READING = re.compile(r"^Rule-based reading \(may be wrong or partial\): (\w+) (\{.*\})$", re.MULTILINE)


class ReplayChat(FakeMessagesListChatModel):
    """A chat model that calls the function the context's rule-based reading names, as it is."""

    def bind_tools(self, tools: object, **kwargs: object) -> ReplayChat:
        return self

    def _generate(
        self, messages: list[BaseMessage], stop: object = None, run_manager: object = None, **kwargs: object
    ) -> ChatResult:
        found = _READING.search(str(messages[1].content))
        calls = (
            [{"name": found.group(1), "args": json.loads(found.group(2)), "id": "r0", "type": "tool_call"}]
            if found
            else []
        )
        if calls and calls[0]["name"] == "refuse":
            calls[0]["args"]["text"] = ""
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content="", tool_calls=calls))])


def replay(db: Path, cases: list[EvalCase]) -> list[CaseResult]:
    """The eval suite through the LLM planner with :class:`ReplayChat`, scored."""
    from agent.assistant import Assistant

    gold = compute_gold({c.family.id: c.family for c in cases}.values(), db)
    assistant = Assistant.open(db)
    try:
        config = LLMConfig(model="replay", api_key="unused")
        assistant.planner = LLMPlanner(assistant.model, assistant.master, ReplayChat(responses=[]), config)
        return run_cases(cases, assistant, gold)
    finally:
        assistant.close()


def measure(model: SemanticModel, master: MasterData, cases: list[EvalCase]) -> Measured:
    """First-call prompt tokens of every turn of ``cases``, and retrieval recall of expected metrics."""
    chat = FakeMessagesListChatModel(responses=[])
    planner = LLMPlanner(model, master, chat, LLMConfig(model="benchmark", api_key="unused"))
    counts: list[int] = []
    hits = retrieved = families = 0
    seen: set[str] = set()
    for case in cases:
        user = Principal(role=case.family.role, store_id=case.family.store)
        today = case.family.today or REFERENCE_DAY
        conversation = Conversation(id="bench")
        for question in case.case.questions:
            draft = planner.embedded.plan(question, conversation, user, today)
            messages, tools, _ = planner.request(question, conversation, user, today, draft)
            counts.append(tokens.count_prompt(messages, [spec.definition() for spec in tools.values()]))
            conversation.turns.append(Turn(question=question, language="zh", plan=draft, status="answer"))
        expected = case.family.expect.plan.metrics if case.family.expect.plan else None
        if expected and case.family.id not in seen:  # the family's first case: is each metric in the prompt?
            seen.add(case.family.id)
            families += 1
            context = str(messages[1].content)
            hits += all(re.search(rf"\b{m}\b", context) for m in expected)
            retrieved += all(f"metric {m}:" in context for m in expected)
    return Measured(counts, hits / max(families, 1), retrieved / max(families, 1), families)


def _row(name: str, metrics: int, m: Measured) -> str:
    ordered = sorted(m.counts)
    p50, p95 = ordered[len(ordered) // 2], ordered[int(0.95 * (len(ordered) - 1))]
    under = sum(c < BUDGET for c in ordered) / len(ordered)
    mean = sum(ordered) / len(ordered)
    return (
        f"| {name} | {metrics} | {len(ordered)} | {mean:.0f} | {p50} | {p95} | {ordered[-1]} | {under:.1%} | "
        f"{m.recall:.1%} / {m.retrieved:.1%} ({m.families}) |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, default=None, help="Demo DuckDB (default: the eval dataset, built once).")
    parser.add_argument("--metrics", type=int, default=300, help="Size of the synthetic model.")
    args = parser.parse_args()
    from engines import connect
    from engines.members import load_master_data

    base = load_model()
    engine = connect(ensure_dataset(args.db))
    try:
        master = load_master_data(engine, model=base)
    finally:
        engine.close()
    cases = load_suite(CASES_DIR).cases()
    big = synthetic_model(base, args.metrics)
    print(f"First-call prompt tokens (cl100k_base, offline), {len(cases)} eval cases, every turn; budget {BUDGET}.\n")
    print(
        "| model | metrics | prompts | mean | p50 | p95 | max | under budget | expected metrics in prompt / retrieved (families) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(_row("demo", len(base.metrics), measure(base, master, cases)))
    print(_row("synthetic", len(big.metrics), measure(big, master, cases)))
    results = replay(ensure_dataset(args.db), cases)
    summary = summarize(results)
    single = [r.llm for r in results if len(r.questions) == 1 and r.llm is not None]
    assert summary.llm is not None and single
    tokens_single = sorted(c.prompt_tokens for c in single)
    print(
        f"\nScripted run (replaying the rule-based reading), {summary.overall.n} cases: execution accuracy "
        f"{summary.overall.execution_accuracy:.1%}; fallbacks {summary.llm.fallbacks}. Per case (all its turns): "
        f"{summary.llm.calls_mean:.2f} model calls, {summary.llm.prompt_tokens_mean:.0f} prompt tokens. Per "
        f"single-turn question ({len(single)}): {sum(c.calls for c in single) / len(single):.2f} model calls, "
        f"prompt tokens mean {sum(tokens_single) / len(single):.0f}, p95 {tokens_single[int(0.95 * (len(single) - 1))]}, "
        f"max {tokens_single[-1]}."
    )


if __name__ == "__main__":
    main()
