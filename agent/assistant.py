"""Question in, Answer out: the planner, the semantic layer and the conversation store together.

Every channel (the CLI, the HTTP API, the chat bots, the eval runner) asks through one
Assistant, so a question gets the same answer wherever it is asked.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal, TypeVar

from agent.answer import Answer, AnswerPeriod
from agent.conversation_store import ConversationStore, StoreUnavailable
from agent.messages import say
from agent.metric_runner import definitions, master_data_labeler, run_metric_query
from agent.plan import AttributePlan, Clarify, Conversation, Planner, QueryPlan, Refuse, SqlPlan, ToolCall, Turn
from agent.prepared_sql import approved_select
from agent.redaction import without_paths
from agent.tool_slots import RETRY_AFTER_S, ToolsBusy, ToolSlots
from presentation.language import join_names
from semantic_layer.engine import Engine, EngineError
from semantic_layer.master_data import MasterData
from semantic_layer.query import Principal
from semantic_layer.semantic_model import SemanticModel, load_model

if TYPE_CHECKING:
    from sqlglot import exp

    from engines.result_cache import ResultCache
    from tools.base import ToolOutput

V = TypeVar("V")
PlanT = QueryPlan | ToolCall | AttributePlan | Clarify | Refuse | SqlPlan
log = logging.getLogger("chatbi.assistant")

#: Added to an answer whose turn the conversation store could not keep.
_NOT_KEPT = {
    "zh": "(注意:本轮问答未能保存,追问时将无法沿用这次的上下文。)",
    "en": " (Note: this turn could not be saved, so a follow-up will not see its context.)",
}


class Assistant:
    def __init__(
        self,
        engine: Engine,
        *,
        model: SemanticModel | None = None,
        master: MasterData | None = None,
        planner: Planner | None = None,
        conversations: ConversationStore | None = None,
        tool_slots: ToolSlots | None = None,
        tool_cache: ResultCache | None = None,
    ) -> None:
        """``tool_slots``: how many analysis-tool runs may go at once (and wait), None for no limit (one
        asker at a time: the CLI, the evals); ``tool_cache``: keep tools' outputs per data version there."""
        from engines.members import load_master_data

        self.engine = engine
        self.model = model or load_model()
        self.master = master or load_master_data(engine, model=self.model)
        #: None until the first question that needs it: the embedded planner, built lazily (agent/first_plan.py).
        self._planner: Planner | None = planner
        #: Whether the embedded planner answers a question a verified question matches with its plan.
        self.verified_first = True
        self.conversations = conversations or ConversationStore(":memory:")
        self.labels = master_data_labeler(self.master, self.model)
        self.tool_slots = tool_slots
        self.tool_cache = tool_cache
        self._today: dt.date | None = None

    @classmethod
    def open(
        cls,
        target: str | os.PathLike[str],
        *,
        planner: Literal["embedded", "llm", "auto"] = "embedded",
        conversations: str | os.PathLike[str] | ConversationStore | None = ":memory:",
        cache: bool | ResultCache = True,
        tool_slots: ToolSlots | None = None,
        verified_first: bool = True,
    ) -> Assistant:
        """An assistant on a DuckDB file or an engine URL; conversations in memory unless a path (or store) is given.

        ``planner``: embedded, llm (configured in agent.llm.config, else ValueError), or auto (the LLM
        when one is configured). LangChain is imported only when the LLM planner is built.
        ``cache``: keep query results per (SQL, engine, data version) in a new cache (True), in the one
        given, or not at all (False: ``--no-cache``); analysis tools' outputs are kept there too.
        ``tool_slots``: the bound on analysis-tool runs at once (the server's), None for none.
        ``verified_first``: False to plan every question, even one a verified question matches (the
        verified eval suite: does the planner reach the certified answers by itself?).
        """
        from agent.llm.config import choose_planner
        from engines import connect
        from engines.result_cache import ResultCache

        llm = choose_planner(planner)
        results = ResultCache() if cache is True else None if cache is False else cache
        engine = connect(target, cache=results, freshness=load_model().freshness)
        try:
            store = conversations if isinstance(conversations, ConversationStore) else ConversationStore(conversations)
            assistant = cls(engine, conversations=store, tool_slots=tool_slots, tool_cache=results)
            if llm is not None:
                from agent.llm import build_planner

                assistant.planner = build_planner(assistant.model, assistant.master, llm, dialect=engine.dialect)
            assistant.verified_first = verified_first
            verified = getattr(assistant._planner, "verified", None)  # the LLM planner's embedded one's
            if verified is not None:
                verified.shortcut = verified_first
            return assistant
        except Exception:
            engine.close()
            raise

    @property
    def planner(self) -> Planner:
        """The planner given, else the embedded one, built at first use (a cold process whose first plan is
        on disk builds none)."""
        if self._planner is None:
            from agent.embedded_planner import EmbeddedPlanner

            planner = EmbeddedPlanner(self.model, self.master)
            planner.verified.shortcut = self.verified_first
            self._planner = planner
        return self._planner

    @planner.setter
    def planner(self, planner: Planner) -> None:
        self._planner = planner

    @property
    def today(self) -> dt.date:
        """The data's reference date: the day after the latest date of the model's ``reference_date``
        entity (the demo's order lines, DATA_CONTRACT.md); without one, the calendar's today."""
        if self._today is None:
            self._today = self._reference_date()
        return self._today

    def _reference_date(self) -> dt.date:
        entity = self.model.entities.get(self.model.reference_entity or "")
        if entity is None or entity.time is None:
            return dt.date.today()
        column, table = entity.physical(entity.time), entity.table

        def latest_tree() -> exp.Select:
            from sqlglot import exp

            # Built, not parsed: a new process's first sqlglot parse costs 0.1 s.
            return exp.select(exp.Max(this=exp.column(column))).from_(exp.to_table(table))

        # as the guard approved it in an earlier process (`chatbi ask` starts cold), else the tree
        name = f"reference date\0{column}\0{table}"
        latest = approved_select(name, latest_tree, self.model, self.engine, row_limit=1) or latest_tree()
        rows = self.engine.execute(latest, row_limit=1).rows
        if not rows or rows[0][0] is None:
            return dt.date.today()
        value = rows[0][0]
        return (value.date() if isinstance(value, dt.datetime) else value) + dt.timedelta(days=1)

    def plan_only(
        self,
        question: str,
        *,
        conversation_id: str | None = None,
        principal: Principal | None = None,
        today: dt.date | None = None,
    ) -> PlanT:
        conversation = self._conversation(conversation_id)
        return self.planner.plan(question, conversation, principal or Principal(), today or self.today)

    def ask(
        self,
        question: str,
        *,
        conversation_id: str | None = None,
        principal: Principal | None = None,
        today: dt.date | None = None,
        on_plan: Callable[[PlanT, Literal["zh", "en"]], None] | None = None,
        new_conversation: bool = False,
    ) -> Answer:
        """Plan and answer ``question``; ``on_plan`` hears the plan before it runs (streaming shows it).

        The turn is saved under ``conversation_id`` after the answer is made; if the store cannot keep
        it the answer still comes, saying so. ``new_conversation``: the id was just made, so there is
        nothing to read back (and a store that cannot be read does not stop the answer). A conversation
        that cannot be read raises :class:`StoreUnavailable`: answering without its context would
        answer a different question.
        """
        principal = principal or Principal()
        conversation = Conversation(id="") if new_conversation else self._conversation(conversation_id)
        plan, language = self._plan(question, conversation, principal, today or self.today)
        if on_plan is not None:
            on_plan(plan, language)
        answer = self._execute(plan, principal, language, question)
        if answer.status == "error":  # driver errors may quote the warehouse's path
            answer.text = without_paths(answer.text)
        if conversation_id:
            try:
                self.conversations.append(
                    conversation_id, Turn(question=question, language=language, plan=plan, status=answer.status)
                )
            except StoreUnavailable as exc:
                log.warning("conversation %s: turn not kept: %s", conversation_id, exc)
                answer.text += _NOT_KEPT[language]
        return answer

    def _plan(
        self, question: str, conversation: Conversation, principal: Principal, today: dt.date
    ) -> tuple[PlanT, Literal["zh", "en"]]:
        """The plan and the answer's language; a new process's first question from the disk when it was
        asked before (agent/first_plan.py), so that no planner is built for it."""

        def plan() -> tuple[PlanT, Literal["zh", "en"]]:
            from agent.vocabulary import detect_language

            return self.planner.plan(question, conversation, principal, today), detect_language(question, self.master)

        if self._planner is not None or conversation.turns:
            return plan()
        from agent.first_plan import plan_inputs
        from semantic_layer.disk_cache import cached

        inputs = plan_inputs(question, principal, today, self.model, self.engine, self.verified_first)
        return plan() if inputs is None else cached("plan", inputs, plan)

    def answer_plan(
        self, plan: QueryPlan | ToolCall, *, principal: Principal, language: Literal["zh", "en"] = "zh"
    ) -> Answer:
        """Answer a plan a client wrote itself (an MCP client's typed query or tool call) exactly as :meth:`ask`
        answers a planner's: the same runners, policies, tool slots and cache; no conversation turn is kept."""
        answer = self._execute(plan, principal, language)
        if answer.status == "error":
            answer.text = without_paths(answer.text)
        return answer

    def warehouse_check(self) -> None:
        """One row from every table the model reads (EngineError if any fails): cheap, for health checks."""
        from sqlglot import exp

        for table in sorted({entity.table for entity in self.model.entities.values()}):
            probe = exp.select(exp.Literal.number(1)).from_(exp.to_table(table)).limit(1)
            self.engine.execute(probe, row_limit=1, timeout_s=2.0)

    def close(self) -> None:
        if self.tool_slots is not None:
            self.tool_slots.close()
        self.conversations.close()
        self.engine.close()

    def _conversation(self, conversation_id: str | None) -> Conversation:
        return self.conversations.load(conversation_id) if conversation_id else Conversation(id="")

    def _execute(self, plan: PlanT, principal: Principal, language: Literal["zh", "en"], question: str = "") -> Answer:
        if isinstance(plan, QueryPlan):
            try:
                answer = run_metric_query(
                    plan.query,
                    self.engine,
                    principal=principal,
                    language=language,
                    model=self.model,
                    labels=self.labels,
                )
            except EngineError as exc:
                plan_dump = plan.query.model_dump(mode="json")
                answer = Answer(status="error", text=str(exc), language=language, plan=plan_dump)
            if answer.status == "answer":
                answer.text = self._narrated(question, answer)
            if plan.ignored and answer.status == "answer":
                answer.text = say("ignored", language, words=join_names(plan.ignored, language)) + answer.text
        elif isinstance(plan, AttributePlan):
            from agent.attribute_runner import run_attribute_query

            answer = run_attribute_query(
                plan.query, self.engine, principal=principal, language=language, model=self.model
            )
        elif isinstance(plan, Clarify):
            lines = [plan.text, *(f"{i}. {o.label}" for i, o in enumerate(plan.options, 1))]
            options = [o.label for o in plan.options]
            answer = Answer(status="clarification", text="\n".join(lines), language=language, options=options)
        elif isinstance(plan, Refuse):
            answer = Answer(status="refusal", text=plan.text, language=language)
        elif isinstance(plan, SqlPlan):  # the LLM planner's ungoverned fallback, guarded and marked as such
            from agent.llm.sql_fallback import run_sql_plan

            answer = run_sql_plan(plan, self.engine, self.model, principal, language)
        else:
            answer = self._run_tool(plan, principal, language)
        verified = getattr(plan, "verified", None)
        if verified is not None and answer.status == "answer":
            answer.verified = verified
            answer.text = say("verified", language, by=verified.by, day=verified.at.date().isoformat()) + answer.text
        if plan.note:
            answer.text = plan.note + answer.text
        return answer

    def _narrated(self, question: str, answer: Answer) -> str:
        """The planner's checked wording of the answer, if it offers one (the LLM planner may), else the template's."""
        narrate = getattr(self._planner, "narrate", None)
        return (narrate(question, answer) if narrate is not None else None) or answer.text

    def _run_tool(self, call: ToolCall, principal: Principal, language: Literal["zh", "en"]) -> Answer:
        """Validate the call's arguments against the tool's schema, run it, and wrap its output."""
        from pydantic import ValidationError

        from semantic_layer.errors import QueryError
        from tools.base import ToolContext
        from tools.registry import load

        plan = call.model_dump(mode="json", exclude={"note"})
        try:
            tool = load(call.tool)
        except KeyError:
            return Answer(status="refusal", text=say("unknown_tool", language, tool=call.tool), language=language)
        try:
            arguments = tool.Arguments.model_validate(call.arguments)
        except ValidationError as exc:
            reason = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            return Answer(status="refusal", text=say("invalid", language, reason=reason), language=language, plan=plan)
        plan["arguments"] = arguments.model_dump(mode="json", exclude_defaults=True)
        context = ToolContext(self.engine, self.model, principal, self.today, language, self.master, self._remember)
        try:
            output, cached, version = self._tool_output(
                call.tool, lambda: tool.run(arguments, context), plan, principal, language
            )
        except ToolsBusy as exc:
            log.info("tool %s refused: %s", call.tool, exc)
            text = say("tools_busy", language, seconds=RETRY_AFTER_S)
            return Answer(status="error", text=text, language=language, plan=plan, retry_after_s=RETRY_AFTER_S)
        except QueryError as exc:  # the role may not read what the tool needs, or a cut it cannot take
            return Answer(
                status="refusal", text=say("invalid", language, reason=str(exc)), language=language, plan=plan
            )
        except EngineError as exc:
            return Answer(status="error", text=str(exc), language=language, plan=plan)
        return Answer(
            status="answer",
            text=output.text,
            language=language,
            plan=plan,
            sql=output.sql,
            columns=output.columns,
            rows=output.rows,
            chart=output.chart,
            definitions=definitions(output.metrics, self.model, language),
            period=AnswerPeriod(start=output.period[0], end=output.period[1]) if output.period else None,
            cached=cached,
            data_version=version,
        ).with_cells(self.model, formats={**(output.chart or {}).get("formats", {}), **output.formats},
                     labels=output.labels, values=output.values)  # fmt: skip

    def _remember(self, key: str, compute: Callable[[], V], cells: Callable[[V], int]) -> V:
        """A tool's intermediate, kept in the result cache at the engine's data version (not without one)."""
        version = self.engine.cache_version()
        if self.tool_cache is None or version is None:
            return compute()
        value, _ = self.tool_cache.fetch_value("tool-step:" + key, self.engine.identity, version, compute,
                                               cells=cells, copy=copy.deepcopy)  # fmt: skip
        return value

    def _tool_output(
        self, name: str, run: Callable[[], ToolOutput], plan: dict, principal: Principal, language: str
    ) -> tuple[ToolOutput, bool, str | None]:
        """The tool's output, whether it came from the cache, and the data version it is kept under.

        Kept like a query result, per (tool, validated arguments, asker, language, reference date) at the
        engine's data version: a tool reads only the data, so the same call at the same version gives the
        same output, and a repeated analysis costs nothing. A hit needs no tool slot; a miss runs in one
        (:class:`ToolSlots`), and :class:`ToolsBusy` when none is free and the queue is full.
        """
        slots = self.tool_slots

        def slotted() -> ToolOutput:
            return run() if slots is None else slots.run(run)

        version = self.engine.cache_version() if self.tool_cache is not None else None
        if self.tool_cache is None or version is None:
            return slotted(), False, None
        key = "tool:" + json.dumps(  # never SQL text, which the same cache keys its results by
            [name, plan["arguments"], principal.model_dump(mode="json"), language, self.today.isoformat()],
            sort_keys=True,
            ensure_ascii=False,
        )
        output, hit = self.tool_cache.fetch_value(
            key,
            self.engine.identity,
            version,
            slotted,
            cells=lambda o: len(o.rows) * max(1, len(o.columns)),
            copy=lambda o: o.model_copy(update={"rows": [list(r) for r in o.rows], "columns": list(o.columns)}),
        )
        return output, hit, version
