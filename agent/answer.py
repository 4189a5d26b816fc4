"""The one answer object every channel renders: DESIGN.md's ``chatbi ask --json`` contract.

Rows keep Python values (dates, Decimals) while the answer is being composed; they become
JSON values only when serialised: dates as ISO strings, Decimals as JSON numbers.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from agent.plan import Verification

Status = Literal["answer", "clarification", "refusal", "error"]


class Definition(BaseModel):
    """The governed definition of a metric used in the answer."""

    metric: str
    name: str
    definition: str


class AnswerPeriod(BaseModel):
    start: dt.date
    end: dt.date


class Answer(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    status: Status
    text: str
    language: Literal["zh", "en"]
    plan: dict[str, Any] | None = None
    sql: str | None = None
    columns: list[str] = Field(default_factory=list)
    rows: list[list[Any]] = Field(default_factory=list)
    chart: dict[str, Any] | None = None
    definitions: list[Definition] = Field(default_factory=list)
    period: AnswerPeriod | None = None
    options: list[str] = Field(default_factory=list)
    #: The rows came from the engine's result cache (the same SQL at the same data version), not the database.
    cached: bool = False
    #: The warehouse version the rows were read at (DuckDB: the file's modification time and identity;
    #: PostgreSQL: the model's freshness query); None when no result cache is kept.
    data_version: str | None = None
    #: Set when every analysis-tool slot was taken (status ``error``): ask again after about this many seconds.
    #: Metric questions are answered meanwhile; only tool runs wait for a slot (agent/tool_slots.py).
    retry_after_s: int | None = None
    #: Set by the server for an answer with rows: the key of its downloads (``GET /v1/answers/{id}.csv``,
    #: ``.xlsx``) and of its feedback, kept in the answer store (agent/answer_store.py); None elsewhere.
    answer_id: str | None = None
    #: Set when the answer is a verified question's certified plan: who verified it, when, and its wording.
    verified: Verification | None = None

    @field_serializer("rows")
    def _json_rows(self, rows: list[list[Any]]) -> list[list[Any]]:
        return [[json_value(v) for v in row] for row in rows]

    def to_json(self, indent: int | None = None) -> str:
        """The answer as one JSON object (non-ASCII text kept readable)."""
        return json.dumps(self.model_dump(mode="json"), ensure_ascii=False, indent=indent)


def json_value(value: Any) -> Any:
    """A cell as a JSON value: Decimal -> number, date -> ISO string, NaN/inf -> null."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
