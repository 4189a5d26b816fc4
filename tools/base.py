"""What an analysis tool is to the agent: typed arguments in, a narrated table out.

Tools read data only through the Engine protocol (every statement passes the SQL guard) or,
for governed metrics, through MetricQuery and the compiler, so a number a tool reports is
the governed one. Each tool is pure computation between those reads; the agent turns a
ToolOutput into the answer object every channel renders.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

from presentation.language import Language
from semantic_layer.engine import Engine
from semantic_layer.errors import PolicyDeniedError, QueryError
from semantic_layer.master_data import MasterData
from semantic_layer.query import Principal
from semantic_layer.semantic_model import SemanticModel

if TYPE_CHECKING:
    from tools.reads import Reader

V = TypeVar("V")
#: ``remember(key, compute, cells)``: ``compute()``'s value, kept under ``key`` at the warehouse's data version.
Remember = Callable[[str, Callable[[], Any], Callable[[Any], int]], Any]


#: What one cell of a result kept as Python rows costs (a pointer and a small object), so a frame kept in
#: the result cache is sized against the same bound as rows of the same memory.
PY_CELL_BYTES = 56


def frame_cells(frame: Any) -> int:
    """A pandas frame's size in result-cache cells: its memory over :data:`PY_CELL_BYTES`."""
    return -(-int(frame.memory_usage(deep=True).sum()) // PY_CELL_BYTES)


def _compute(key: str, compute: Callable[[], V], cells: Callable[[V], int]) -> V:
    return compute()


@dataclass
class ToolContext:
    engine: Engine
    model: SemanticModel
    principal: Principal
    today: dt.date  # the reference date: the day after the latest data
    language: Language
    master: MasterData | None = None  # for display names
    #: Keeps an intermediate computed only from the data (the same for every asker and argument that reads
    #: it), so calls that differ only past it (another category) skip it: the server's result cache at the
    #: data version; by default nothing is kept. The key names the tool; ``cells`` sizes the value.
    remember: Remember = _compute

    @property
    def reader(self) -> Reader:
        """The model's reads, run on this engine for this asker (imported here: its reads are sqlglot
        trees, and a metric question asked from a new process needs no sqlglot)."""
        from tools.reads import Reader

        return Reader(self.engine, self.model, self.principal)


class ToolOutput(BaseModel):
    """A tool's result: text in the asker's language that states only numbers of ``rows`` or
    ``facts``, the table (``columns``/``rows``), a chart spec, the SQL that ran (the last one),
    the governed metrics it used and the period it covers."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    text: str
    columns: list[str]
    rows: list[list[Any]]
    chart: dict[str, Any] | None = None
    sql: str | None = None
    metrics: list[str] = []  # governed metric ids whose definitions the answer cites
    period: tuple[dt.date, dt.date] | None = None
    facts: dict[str, Any] = {}  # headline numbers the text quotes that are not table cells
    #: Column -> its header in the asker's language (``ToolContext.language``); a column without one keeps its name.
    labels: dict[str, str] = {}
    #: Column -> how its numbers read (a ``format_value`` format: ``cny``, ``count``, ``days``, ...); the chart's
    #: ``formats`` count too. A column without one reads as plain text or a plain number.
    formats: dict[str, str | None] = {}
    #: Coded column -> code -> its name in the asker's language (``action``: ``order_now`` -> 立即补货), so a
    #: cell reads as a word, while ``rows`` keep the code a filter or an export's reader can match.
    values: dict[str, dict[str, str]] = {}


def labels_in(labels: dict[str, tuple[str, str]], language: str) -> dict[str, str]:
    """A tool's (zh, en) column labels in the asker's language, for :attr:`ToolOutput.labels`."""
    return {column: zh if language == "zh" else en for column, (zh, en) in labels.items()}


class Sheet(BaseModel):
    """One sheet of a workbook a tool's answer exports as (a purchase order per supplier): ``formats`` are
    metric formats per column (``cny``, ``count``; None for text), turned into number formats by the exporter."""

    title: str
    headers: list[str]
    rows: list[list[Any]]
    formats: list[str | None]
    #: Lines written under the table: where a figure comes from, what the data does not hold.
    notes: list[str] = []


class Tool(Protocol):
    name: ClassVar[str]
    #: Governed metrics whose data the tool reads: the asker's role must be allowed all of them.
    reads: ClassVar[tuple[str, ...]]
    Arguments: ClassVar[type[BaseModel]]

    def run(self, arguments: BaseModel, context: ToolContext) -> ToolOutput: ...

    # Optional, read with getattr: ``key_columns`` (tuple of column names a narrow terminal shows first) and
    # ``export_sheets`` (Answer -> list[Sheet]: the workbook the answer downloads as, instead of its table).


def require(context: ToolContext, metric_ids: tuple[str, ...]) -> None:
    """Refuse a tool the asker's role may not use, as the compiler refuses a metric. (A role that sees
    only some rows is narrowed, or refused by name, read by read: tools/reads.py.)"""
    missing = [m for m in metric_ids if m not in context.model.metrics]
    if missing:  # a customer's model without stock or ledgers: this analysis has nothing to read
        raise QueryError(f"this analysis needs the metrics {', '.join(missing)}, which this model does not define")
    role = context.model.roles.get(context.principal.role)
    if role is None:
        raise PolicyDeniedError(f"unknown role '{context.principal.role}'")
    denied = [m for m in metric_ids if not role.grants(context.model.metrics[m])]
    if denied:
        raise PolicyDeniedError(f"role '{role.name}' may not read {', '.join(denied)}")
