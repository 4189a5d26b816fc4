"""The one answer object every channel renders: DESIGN.md's ``chatbi ask --json`` contract.

Rows keep Python values (dates, Decimals) while the answer is being composed; they become
JSON values only when serialised: dates as ISO strings, Decimals as JSON numbers.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from agent.plan import Verification
from presentation.cells import answer_cells

if TYPE_CHECKING:
    from semantic_layer.semantic_model import SemanticModel

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
    model_config = ConfigDict(arbitrary_types_allowed=True, defer_build=True)

    status: Status
    text: str
    language: Literal["zh", "en"]
    plan: dict[str, Any] | None = None
    sql: str | None = None
    columns: list[str] = Field(default_factory=list)
    rows: list[list[Any]] = Field(default_factory=list)
    #: Each column's header in the answer's language (presentation/cells.py), one per column.
    labels: list[str] = Field(default_factory=list)
    #: Each cell as a person reads it ("¥368.23万", "2025年3月", "—"), the same shape as ``rows``: channels
    #: show these verbatim and never format a raw value themselves.
    display: list[list[str]] = Field(default_factory=list)
    #: Each column's governed format (``cny``, ``percent``, ``days`` ...; None for keys and text): what a
    #: spreadsheet turns into its number format, since it keeps the raw numbers rather than ``display``.
    formats: list[str | None] = Field(default_factory=list)
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

    def with_cells(
        self,
        model: SemanticModel,
        *,
        formats: Mapping[str, str | None] | None = None,
        labels: Mapping[str, str] | None = None,
        values: Mapping[str, Mapping[str, str]] | None = None,
    ) -> Answer:
        """Fill ``labels`` and ``display`` from the columns and rows (``formats`` / ``labels`` / ``values``: a tool's own);
        returns the answer itself, so composition reads ``return Answer(...).with_cells(model)``."""
        cells = answer_cells(
            self.columns, self.rows, model, self.language, formats=formats, labels=labels, values=values
        )
        self.labels, self.display, self.formats = cells.labels, cells.display, cells.formats
        return self

    def has_cells(self) -> bool:
        """Whether ``labels`` and ``display`` match the table (an answer stored before they existed has none)."""
        columns = len(self.columns)
        return len(self.labels) == columns and len(self.formats) == columns and len(self.display) == len(self.rows)

    def ensure_cells(self, model: SemanticModel) -> Answer:
        """The answer with its cells, computed now if it lacks them (a tool's formats from its chart spec)."""
        if not self.has_cells():
            self.with_cells(model, formats=(self.chart or {}).get("formats"))
        return self

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
