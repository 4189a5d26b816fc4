"""The LLM planner: a bounded tool-calling loop whose only outputs are validated plans.

For each question:

1. The embedded planner reads it first (milliseconds). What it declines outright (instruction
   overrides, data changes) and a pick of a pending clarification are final: no model call.
   Otherwise its reading goes into the context as a draft, and it is the fallback.
2. The model gets the rules, the retrieved catalog and the question, and calls functions: look-ups
   (answered here, then it is called again) or one plan. ``max_calls`` bounds the calls.
3. The plan is validated (:mod:`agent.llm.validation`). An invalid one, or a reply that calls no
   function, gets one repair round with the error; a second failure, a failing or slow endpoint
   (:mod:`agent.llm.client`) or running out of calls ends with the embedded planner's plan and a
   note the answer shows.

Nothing the model writes runs unvalidated, and nothing it writes reaches the role or the policy:
the principal is the caller's, and validation, the compiler and the SQL guard apply it.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.messages import ToolCall as ModelCall
from pydantic import SecretStr

from agent.answer import Answer
from agent.embedded_planner import EmbeddedPlanner
from agent.llm import narration, tokens
from agent.llm.catalog_search import CatalogIndex
from agent.llm.client import Caller, EndpointError
from agent.llm.config import LLMConfig
from agent.llm.llm_tools import RESOLVE, SEARCH, ResolveMembers, SearchCatalog, ToolSpec, analysis_tools, core_tools
from agent.llm.prompt import PromptBuilder, quote
from agent.llm.texts import say
from agent.llm.validation import Asked, PlanValidator, candidates
from agent.plan import AttributePlan, Clarify, Conversation, QueryPlan, Refuse, SqlPlan, ToolCall
from semantic_layer.master_data import MasterData
from semantic_layer.query import Principal
from semantic_layer.semantic_model import SemanticModel

log = logging.getLogger("chatbi.llm")

PlanT = QueryPlan | ToolCall | AttributePlan | Clarify | Refuse | SqlPlan
#: Refusals of the embedded planner that no model may talk round.
_FINAL_REFUSALS = ("injection", "data_change")
_NO_CALL = "Your reply called no function. Answer by calling exactly one function; never reply in prose."
_NOT_RUN = "Not run: fix the rejected call first."


@dataclass
class Usage:
    """What one question cost: model calls and tokens (the endpoint's counts, else tiktoken's); the eval
    report puts them beside the question's latency."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    fallback: str | None = None  # why the embedded planner answered, when it did

    def add(self, reply: AIMessage, estimated_prompt: int) -> None:
        self.calls += 1
        reported = reply.usage_metadata
        self.prompt_tokens += (reported["input_tokens"] if reported else 0) or estimated_prompt
        self.completion_tokens += reported["output_tokens"] if reported else 0


@dataclass
class _Round:
    """The state of one question's loop."""

    messages: list[BaseMessage]
    tools: dict[str, ToolSpec]
    asked: Asked
    usage: Usage
    deadline: float
    repaired: bool = False


class LLMPlanner:
    name = "llm"

    def __init__(
        self,
        model: SemanticModel,
        master: MasterData,
        chat: BaseChatModel,
        config: LLMConfig,
        *,
        dialect: str = "duckdb",
        caller: Caller | None = None,
    ) -> None:
        self.model = model
        self.master = master
        self.chat = chat
        self.config = config
        self.caller = caller or Caller(config)
        self.embedded = EmbeddedPlanner(model, master)
        self.verified = self.embedded.verified  # one set: a match settles the question, the nearest are examples
        self.validator = PlanValidator(model, master, self.embedded, dialect=dialect, sql_fallback=config.sql_fallback)
        self.core = {spec.name: spec for spec in core_tools(dialect, config.sql_fallback)}
        self.analysis = analysis_tools(self.embedded.vocabulary.phrases.tool_words)
        self.catalog = CatalogIndex.from_model(model, {name: spec.about for name, spec in self.analysis.items()})
        self.prompts = PromptBuilder(model, master, self.catalog, config.sql_fallback, self.verified)
        self._local = threading.local()

    @classmethod
    def from_config(cls, model: SemanticModel, master: MasterData, config: LLMConfig, *, dialect: str) -> LLMPlanner:
        """A planner on the configured OpenAI-compatible endpoint (Chat Completions, not the Responses API)."""
        from langchain_openai import ChatOpenAI

        chat = ChatOpenAI(
            model=config.model,
            api_key=config.api_key or SecretStr("not-needed"),  # vLLM and Ollama take any key; the client wants one
            base_url=config.base_url,
            timeout=config.request_timeout_s,
            max_retries=0,  # Caller retries within the question's deadline
            temperature=config.temperature,
            streaming=config.streaming,
            stream_usage=True,
            use_responses_api=False,
        )
        return cls(model, master, chat, config, dialect=dialect)

    @property
    def last_usage(self) -> Usage | None:
        """The usage of the last question planned (and narrated) on this thread."""
        return getattr(self._local, "usage", None)

    # -- planning ------------------------------------------------------------------------
    def plan(self, question: str, conversation: Conversation, user: Principal, today: dt.date) -> PlanT:
        usage = Usage()
        self._local.usage = usage
        self._local.deadline = self.caller.clock() + self.config.deadline_s
        return self._plan(question, conversation, user, today, usage)

    def _plan(self, question: str, conversation: Conversation, user: Principal, today: dt.date, usage: Usage) -> PlanT:
        draft = self.embedded.plan(question, conversation, user, today)
        if _settled(draft, conversation):
            return draft
        messages, tools, asked = self.request(question, conversation, user, today, draft)
        state = _Round(messages, tools, asked, usage, self._local.deadline)
        try:
            return self._loop(state)
        except EndpointError as exc:
            log.warning("LLM endpoint %s: %s; the embedded planner answers", self.config.describe(), exc)
            return self._fallback(state, exc.kind, exc.status)

    def request(
        self, question: str, conversation: Conversation, user: Principal, today: dt.date, draft: PlanT
    ) -> tuple[list[BaseMessage], dict[str, ToolSpec], Asked]:
        """The first call: its messages and functions (the core ones, plus the analysis tools retrieval or
        the draft points at), and what validation needs to know about the question."""
        language = self.embedded.language(question)
        context, wanted = self.prompts.context(question, conversation, user, today, draft)
        messages: list[BaseMessage] = [SystemMessage(self.prompts.system(user, today, language)), HumanMessage(context)]
        tools = {**self.core, **{n: self.analysis[n] for n in _tools_for(draft, wanted) if n in self.analysis}}
        return messages, tools, Asked(question, user, today, language, draft)

    def _loop(self, state: _Round) -> PlanT:
        for _ in range(self.config.max_calls):
            reply = self._call(state)
            calls = reply.tool_calls
            terminal = [c for c in calls if c["name"] not in (SEARCH, RESOLVE)]
            if calls and not terminal:
                for call in calls:
                    state.messages.append(ToolMessage(self._look_up(call, state), tool_call_id=call["id"]))
                continue
            if terminal:
                verdict = self.validator.check(terminal[0]["name"], terminal[0]["args"], self.analysis, state.asked)
                if verdict.plan is not None:
                    return verdict.plan
                error = verdict.error or "invalid plan"
            else:
                error = _NO_CALL + _bad_calls(reply)
            log.info("LLM plan rejected: %s", error)
            if state.repaired:
                return self._fallback(state, "invalid")
            state.repaired = True
            self._reject(state, reply, terminal[0] if terminal else None, error)
        return self._fallback(state, "steps")

    @staticmethod
    def _reject(state: _Round, reply: AIMessage, plan: ModelCall | None, error: str) -> None:
        """Tell the model why its reply was rejected; every call it made (even unparsable) gets an answer."""
        answered = False
        for call in [*reply.tool_calls, *reply.invalid_tool_calls]:
            if call.get("id"):
                text = (
                    f"Rejected: {error}. Fix it and call one function again."
                    if call is plan or plan is None
                    else _NOT_RUN
                )
                state.messages.append(ToolMessage(text, tool_call_id=call["id"]))
                answered = True
        if not answered:
            state.messages.append(HumanMessage(error))

    def _call(self, state: _Round) -> AIMessage:
        definitions = [spec.definition() for spec in state.tools.values()]
        reply = self.caller.call(self.chat.bind_tools(definitions), state.messages, state.deadline)
        state.usage.add(reply, tokens.count_prompt(state.messages, definitions))
        state.messages.append(reply)
        return reply

    def _look_up(self, call: ModelCall, state: _Round) -> str:
        """A look-up's result as text for the model; found analysis tools join the next call's functions."""
        from pydantic import ValidationError

        try:
            if call["name"] == SEARCH:
                words = SearchCatalog.model_validate(call["args"]).query
                hits = self.catalog.search(words, limit=12)
                for hit in hits:
                    if hit.entry.kind == "tool" and hit.entry.key in self.analysis:
                        state.tools[hit.entry.key] = self.analysis[hit.entry.key]
                lines = self.prompts.render(hits, state.asked.user)
                found = [f"analysis tool {h.entry.key}" for h in hits if h.entry.kind == "tool"]
                return "\n".join(lines + found) or "nothing found"
            mentions = ResolveMembers.model_validate(call["args"]).mentions
            return "\n".join(self._resolve(m) for m in mentions)
        except ValidationError as exc:
            return f"invalid arguments: {exc.errors()[0]['msg']}"

    def _resolve(self, mention: str) -> str:
        """One mention: how it resolved and the members it names. Member names are data, so quoted."""
        found = self.master.resolve(mention)
        keys = "; ".join(f"{c.member.kind} {c.member.key} {quote(c.member.name)}" for c in candidates(found)[:5])
        return f"{quote(mention)}: {found.status}" + (f": {keys}" if keys else "")

    def _fallback(self, state: _Round, kind: str, status: int | None = None) -> PlanT:
        """The embedded planner's plan, with a note the answer shows first."""
        language = state.asked.language
        state.usage.fallback = kind
        note = say("fallback", language, reason=say(kind, language, status=status or ""))
        return state.asked.draft.model_copy(update={"note": note})

    # -- narration -----------------------------------------------------------------------
    def narrate(self, question: str, answer: Answer) -> str | None:
        """The model's wording of ``answer``, if narration is on and every number in it checks out.

        It shares the question's deadline with planning, and is not tried once planning fell back: a
        slow endpoint must not hold the answer up twice."""
        usage = self.last_usage
        if not self.config.narrate or answer.status != "answer" or not answer.rows or usage is None or usage.fallback:
            return None
        messages: list[BaseMessage] = [HumanMessage(narration.prompt(question, answer))]
        try:
            reply = self.caller.call(self.chat, messages, self._local.deadline)
        except EndpointError as exc:
            log.info("narration skipped: %s", exc)
            return None
        usage.add(reply, tokens.count_prompt(messages))
        text = str(reply.text).strip()
        if text and narration.supported(text, answer, question):
            return text
        log.info("narration rejected: it states a number the result does not")
        return None


def _settled(draft: PlanT, conversation: Conversation) -> bool:
    """Plans the model is not asked about: a refusal no wording may undo, a pick of our own options, an
    attribute listing (the model has no function for one; the embedded reading of it is complete), or a
    verified question's plan (a person certified it; the role check already ran on it)."""
    if isinstance(draft, Refuse) and draft.reason in _FINAL_REFUSALS or isinstance(draft, AttributePlan):
        return True
    if isinstance(draft, QueryPlan) and draft.verified is not None:
        return True
    pending = conversation.pending_clarification()
    return pending is not None and any(draft == option.plan for option in pending.options)


def _tools_for(draft: PlanT, retrieved: list[str]) -> list[str]:
    """The analysis tools whose schemas go along: those retrieval found and the one the draft calls."""
    return [*retrieved, *([draft.tool] if isinstance(draft, ToolCall) else [])]


def _bad_calls(reply: AIMessage) -> str:
    bad = reply.invalid_tool_calls
    return f" ({len(bad)} call(s) had arguments that are not JSON)" if bad else ""
