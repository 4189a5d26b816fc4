"""The request and response bodies of the API, as pydantic models (they also make the OpenAPI document)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agent.answer import Answer

#: Conversation ids clients choose or receive: short, printable, safe in URLs and logs.
CONVERSATION_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
MAX_QUESTION_CHARS = 2000


class AskRequest(BaseModel):
    """``POST /v1/ask``: a question, and the conversation it continues (a new one when omitted)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"question": "上个月天猫的毛利率是多少?"}, {"question": "那京东呢?", "conversation_id": "c1"}]
        }
    )

    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS, description="In Chinese or English.")
    conversation_id: str | None = Field(
        default=None,
        pattern=CONVERSATION_ID,
        description="Send back the id of an earlier answer so follow-ups keep the context.",
    )

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("the question is empty")
        return value


class AskResponse(Answer):
    """The answer object of DESIGN.md, plus the conversation it belongs to."""

    conversation_id: str


class TurnView(BaseModel):
    question: str
    language: str
    status: str
    plan: dict[str, Any]


class ConversationView(BaseModel):
    """``GET /v1/conversations/{id}``: the turns the planner sees for follow-ups, oldest first."""

    conversation_id: str
    turns: list[TurnView]


class Health(BaseModel):
    """``GET /healthz``: ``ok``, or ``degraded`` (HTTP 503) when a check fails; each check says why."""

    status: Literal["ok", "degraded"]
    warehouse: str = Field(description='"ok", or "unavailable: " and the reason.')
    conversations: str = Field(description='"ok", or "unavailable: " and the reason.')
    demo_mode: bool
