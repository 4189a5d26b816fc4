"""The request and response bodies of the API, as pydantic models (they also make the OpenAPI document)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agent.answer import Answer

#: Conversation ids clients choose or receive: short, printable, safe in URLs and logs.
CONVERSATION_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
MAX_QUESTION_CHARS = 2000


#: A character that is not whitespace, spelled out rather than as \S: schema checkers read \S with
#: JavaScript's whitespace, the server strips with Python's (U+001C-U+001F, U+0085 differ).
_NOT_BLANK = r"[^\u0009-\u000d\u001c-\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"


class AskRequest(BaseModel):
    """``POST /v1/ask``: a question, and the conversation it continues (a new one when omitted)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"question": "上个月天猫的毛利率是多少?"}, {"question": "那京东呢?", "conversation_id": "c1"}]
        }
    )

    question: str = Field(
        min_length=1,
        max_length=MAX_QUESTION_CHARS,
        description="In Chinese or English; not blank.",
        json_schema_extra={"pattern": _NOT_BLANK},
    )
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
