"""What a planner decides for one question: run a query, call a tool, ask back, or decline.

Every planner (the embedded one, an LLM) returns one of these typed plans; nothing else
reaches the semantic layer. A :class:`Clarify` carries, for each option, the plan that
picking it would run, so the answer to "which one?" needs no second guess.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from presentation.language import Language
from semantic_layer.query import AttributeQuery, MetricQuery, Principal

RefusalReason = Literal[
    "out_of_scope",  # weather, chit-chat, anything that is not about the business's data
    "unknown_metric",  # a metric word the governed model does not define (with suggestions)
    "unsupported",  # understood, but the model cannot answer it (a cut it cannot take, ...)
    "data_change",  # asks to insert, update or delete data
    "injection",  # tries to override instructions or reach raw tables
    "permission",  # the asker's role may not see it
    "no_data",  # the period named has no days before the reference date
]


class _Noted(BaseModel):
    """A plan may carry a note the answer must show before anything else (why a fallback answered)."""

    note: str | None = Field(
        default=None,
        description="Shown first in the answer, e.g. that the embedded planner answered because the LLM timed out.",
    )


class Verification(BaseModel):
    """Who vouched for a plan: set by the verified-question match (agent/verified.py), never by a model,
    so the answer can say whose certified answer it is."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    by: str
    at: dt.datetime
    question: str = Field(description="The verified question's canonical phrasing.")


class _Verifiable(_Noted):
    verified: Verification | None = Field(default=None, description="Set only when a verified question matched.")


class QueryPlan(_Verifiable):
    """Run one governed MetricQuery."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    kind: Literal["query"] = "query"
    query: MetricQuery
    ignored: list[str] = Field(
        default_factory=list, description="Words of the question this plan does not use; the answer says so."
    )


class AttributePlan(_Verifiable):
    """List a dimension's members by their descriptive attributes, without a metric ("账期最长的供应商")."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    kind: Literal["attributes"] = "attributes"
    query: AttributeQuery


class ToolCall(_Noted):
    """Run one analysis tool (replenishment, elasticity, cash conversion cycle) with arguments."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    kind: Literal["tool"] = "tool"
    tool: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class ClarifyOption(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    label: str = Field(description="What the user sees and may type back, e.g. '库存周转天数 (dio)'.")
    plan: QueryPlan | ToolCall | AttributePlan


class Clarify(_Noted):
    """Ask the user to pick: the question can mean several things."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    kind: Literal["clarify"] = "clarify"
    text: str
    options: list[ClarifyOption] = Field(min_length=1)


class Refuse(_Noted):
    """Decline politely, saying why and what can be asked instead."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    kind: Literal["refuse"] = "refuse"
    reason: RefusalReason
    text: str
    suggestions: list[str] = Field(default_factory=list)


class SqlPlan(_Noted):
    """Run one read-only SELECT over the model's relations: the LLM planner's fallback for questions no
    MetricQuery can express (listing rows, say). It passes the SQL guard and the answer says it is not
    a governed metric."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    kind: Literal["sql"] = "sql"
    sql: str = Field(description="One SELECT over the relations the catalog lists.")
    reason: str = Field(description="Why no governed metric query can answer the question.")


Plan = Annotated[QueryPlan | ToolCall | AttributePlan | Clarify | Refuse | SqlPlan, Field(discriminator="kind")]


class Turn(BaseModel):
    """One exchange of a conversation, as planners need it for follow-ups."""

    question: str
    language: Language
    plan: QueryPlan | ToolCall | AttributePlan | Clarify | Refuse | SqlPlan = Field(discriminator="kind")
    status: str  # the answer's status


class Conversation(BaseModel):
    """The turns so far (oldest first). Planners read it; the conversation store keeps it."""

    id: str
    turns: list[Turn] = Field(default_factory=list)

    def last_query(self) -> MetricQuery | None:
        """The last query that was answered: what a follow-up ("那京东呢?") modifies."""
        for turn in reversed(self.turns):
            if isinstance(turn.plan, QueryPlan) and turn.status == "answer":
                return turn.plan.query
        return None

    def pending_clarification(self) -> Clarify | None:
        """The question we asked back, if the last turn was one."""
        if self.turns and isinstance(self.turns[-1].plan, Clarify):
            return self.turns[-1].plan
        return None


class Planner(Protocol):
    """(question, conversation, catalog, user) -> Plan. ``today`` anchors relative time words."""

    name: str

    def plan(
        self, question: str, conversation: Conversation, user: Principal, today: dt.date
    ) -> QueryPlan | ToolCall | AttributePlan | Clarify | Refuse | SqlPlan: ...
