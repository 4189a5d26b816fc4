"""The governed semantic model: schema, loader and the questions the compiler asks of it.

The model lives in YAML (``semantic_layer/model/*.yaml``) so that adding a metric, a
synonym or a role needs no code change. It is validated when loaded: every entry is
checked on its own with pydantic, then cross-references (formulas, columns, joins,
dimensions) are resolved, and any problem is reported as a :class:`ModelError` that
names the file, the entry and what is wrong.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from semantic_layer.query import Period

if TYPE_CHECKING:
    from sqlglot import exp

MODEL_DIR = Path(__file__).parent / "model"
GRAINS = ("day", "week", "month", "quarter", "year")
Format = Literal["cny", "count", "percent", "days", "times_per_year", "ratio"]
#: Names a formula may use besides measures and metrics.
DAYS = "days"
#: The pseudo-column a balance expression uses for the day the balance is taken on.
AS_OF = "as_of"


#: The environment variable naming the model folder every command reads (``chatbi --model DIR``).
MODEL_ENV = "CHATBI_MODEL"


class ModelError(ValueError):
    """The model files are broken; the message names the file, the entry and the problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Join(_Strict):
    column: str
    to: str


class Document(_Strict):
    opened: str
    closed: str


class Entity(_Strict):
    name: str
    table: str
    description: str = ""
    key: str | None = None
    time: str | None = None
    document: Document | None = None
    columns: list[str]
    joins: list[Join] = []
    #: The warehouse's names for columns whose names differ from the model's: {logical: physical}.
    column_map: dict[str, str] = {}

    def physical(self, column: str) -> str:
        return self.column_map.get(column, column)


class Member(_Strict):
    code: str
    name_zh: str
    name_en: str
    synonyms: list[str] = []


class Label(_Strict):
    zh: str
    en: str


#: How an attribute's values read: a metric format, or plain text / a date.
AttributeFormat = Literal["cny", "count", "percent", "days", "ratio", "text", "date"]


class Attribute(_Strict):
    """A descriptive column of a dimension's members (a supplier's payment terms, a SKU's list price):
    listed, sorted and filtered without a metric. ``domain`` is the metric domain a role needs."""

    name: str
    column: str
    name_zh: str
    name_en: str
    synonyms: list[str] = []
    format: AttributeFormat
    domain: Literal["sales", "inventory", "finance", "marketing", "traffic"]
    #: Which way is good, for "best" / "worst" (a short lead time is good; a customer's long terms are not).
    better: Literal["higher", "lower"] = "higher"

    def display_name(self, language: str) -> str:
        return self.name_zh if language == "zh" else self.name_en


class Aliases(_Strict):
    """Other systems' names of a dimension's members: a column of an entity that reaches the members
    (the finance system's "面膜套装" for a SKU), and optionally the column naming the system."""

    name: str
    source: str | None = None


class MemberIndex(_Strict):
    """How master data finds a dimension's members by what people call them, beyond the key and the
    label: a dimension with an ``index`` is resolved by master data (exact, fuzzy, ambiguous)."""

    aliases: Aliases | None = None
    #: Dimensions whose member names a name may start with; it is also said without it
    #: ("上海南京路店" -> "南京路店"; "天猫双11" -> "双11").
    drop_prefix: list[str] = []
    #: Endings a name is also said without once its prefix is dropped ("南京路店" -> "南京路").
    drop_suffix: list[str] = []
    #: Forms of the dropped prefix that name the member too, "{}" standing for it ("上海仓").
    prefix_forms: list[str] = []
    #: More ways to write each name, "{}" standing for it ("{}市": "上海市").
    forms: list[str] = []
    #: English names are also said in the plural ("Face masks").
    plural_en: bool = False
    #: A name is also said without a leading year ("2024天猫双11"), and by the model's event it
    #: begins with, in all that event's Chinese names ("双十一").
    events: bool = False
    #: The column dating each member (a promotion's start), to pick "去年双11" among the years.
    starts: str | None = None
    #: Dimensions sharing a code with this one mean this one ("offline" is the channel and the
    #: channel type; the channel selects the same or fewer rows, so asking would be noise).
    prefer_over: list[str] = []


class Dimension(_Strict):
    name: str
    name_zh: str
    name_en: str
    synonyms: list[str] = []
    columns: list[str] = Field(min_length=1)
    label: Label | None = None
    members: list[Member] = []
    attributes: list[Attribute] = []
    index: MemberIndex | None = None
    #: How a filter on this dimension reads in an answer, "{}" standing for the members ("{}渠道");
    #: without it a filter reads "品类: 面膜" / "category: Face mask".
    filter_phrase: Label | None = None

    def member(self, code: str) -> Member | None:
        return next((m for m in self.members if m.code == code), None)

    def attribute(self, name: str) -> Attribute | None:
        return next((a for a in self.attributes if a.name == name), None)

    @property
    def entity(self) -> str:
        """The entity holding the dimension's members (its first column's)."""
        return self.columns[0].split(".", 1)[0]


class Grain(_Strict):
    name: Literal["day", "week", "month", "quarter", "year"]
    name_zh: str
    name_en: str
    synonyms: list[str] = []


class TimeDimension(_Strict):
    name: str
    name_zh: str
    name_en: str
    synonyms: list[str] = []
    grains: list[Grain]


#: The types a read's parameter may take; the tool binds each as a literal of that type.
ReadParamType = Literal["date", "integer", "number", "text", "texts"]


class ReadFragment(_Strict):
    """A WITH clause several reads share (its CTEs come first in each read that names it)."""

    name: str
    description: str = ""
    sql: str


class Read(_Strict):
    """An analysis tool's read where no governed metric covers what it needs: one SELECT over the
    model's entities (DuckDB's dialect, logical names), its typed ``:parameters`` and the columns the
    tool reads back. Parsed and checked when first used or by ``chatbi model check``
    (semantic_layer/reads.py), not when the model loads: a question needs none of them."""

    name: str
    description: str = ""
    params: dict[str, ReadParamType] = {}
    fragment: str | None = None
    columns: list[str] = Field(min_length=1)
    sql: str


class Freshness(_Strict):
    """A cheap SELECT whose result changes when the warehouse is loaded, e.g. ``MAX(order_date)``.

    Engines without a file to look at (PostgreSQL) run it, at most every ``check_every_s`` seconds, to
    tell whether cached results are still current; its result is the data version answers report.
    Written once in portable SQL: it is parsed when the model loads, checked by the SQL guard against
    the model's tables, and rendered for the engine's dialect like compiled SQL.
    """

    sql: str
    check_every_s: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _parsed(self) -> Freshness:
        self._statement()
        return self

    def _statement(self) -> exp.Expr:
        import sqlglot

        try:
            statements = [s for s in sqlglot.parse(self.sql) if s is not None]
        except sqlglot.errors.SqlglotError as exc:
            raise ValueError(f"sql does not parse: {str(exc).splitlines()[0]}") from None
        if len(statements) != 1:
            raise ValueError(f"sql must be one SELECT, got {len(statements)} statements")
        return statements[0]

    @functools.cached_property
    def ast(self) -> exp.Expr:
        """The parsed query (shared: callers must not modify it). Parsed on first use: the disk cache
        keeps no tree, so a model read from it needs sqlglot only where the query runs."""
        return self._statement()

    def __getstate__(self) -> dict[Any, Any]:
        state = super().__getstate__()
        return {**state, "__dict__": {k: v for k, v in state["__dict__"].items() if k != "ast"}}


class Unsold(_Strict):
    """What ``over: unsold_stock`` counts: items in stock that did not sell (the model says which
    column names the item, which rows are "in stock", where sales are and what "sold" means)."""

    item: str  # the column both entities share (sku_id)
    in_stock: str  # a condition on the measure's rows (on_hand_qty > 0)
    sales: str  # the dated entity whose rows are sales
    sold: str  # an aggregate condition over an item's sales in the window (SUM(quantity) > 0)


class Measure(_Strict):
    name: str
    entity: str
    expr: str | None = None
    time: str | None = None
    over: Literal["period", "each_day", "period_end", "unsold_stock"] = "period"
    lookback_days: int | None = None
    unsold: Unsold | None = None


class Metric(_Strict):
    id: str
    name_zh: str
    name_en: str
    synonyms: list[str] = Field(min_length=1)
    description_zh: str
    description_en: str
    formula: str
    format: Format
    domain: Literal["sales", "inventory", "finance", "marketing", "traffic"]
    owner: str
    dimensions: list[str] | None = None
    #: Which way is good: "worst DIO" is the highest, "worst gross margin" the lowest.
    better: Literal["higher", "lower"] = "higher"
    #: A sum or count: its value over rows is the sum over the rows, so it has a share of total.
    additive: bool = False
    #: For a composite metric, the metrics it is built from (ccc: dio, dso, dpo): what to show
    #: next to it so an answer says what moved it.
    components: list[str] = []
    _point_in_time: bool = PrivateAttr(default=False)

    @property
    def point_in_time(self) -> bool:
        """A snapshot on the period's last day (库存数量, 应收余额), derived from its measures at load."""
        return self._point_in_time

    @field_validator("id")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not value.isidentifier() or value != value.lower():
            raise ValueError("must be a lowercase identifier such as gross_margin")
        return value

    def name(self, language: str) -> str:
        return self.name_zh if language == "zh" else self.name_en

    def description(self, language: str) -> str:
        return self.description_zh if language == "zh" else self.description_en


class RowFilter(_Strict):
    dimension: str
    principal_attribute: Literal["store_id"]


class Role(_Strict):
    name: str
    description: str = ""
    domains: list[str]
    deny_metrics: list[str] = []
    row_filters: list[RowFilter] = []
    #: May certify answers as verified questions (admin always may; agent/verified.py).
    certify: bool = False

    def grants(self, metric: Metric) -> bool:
        if metric.id in self.deny_metrics:
            return False
        return "*" in self.domains or metric.domain in self.domains


class AnnualWindow(_Strict):
    """The same calendar days every year, as MM-DD (a window may run into the next year)."""

    start: str = Field(pattern=r"^\d\d-\d\d$")
    end: str = Field(pattern=r"^\d\d-\d\d$")

    @field_validator("start", "end")
    @classmethod
    def _a_day(cls, value: str) -> str:
        month, day = (int(part) for part in value.split("-"))
        dt.date(2024, month, day)  # a leap year: 02-29 is a day, clipped to 02-28 in other years
        return value

    def in_year(self, year: int) -> tuple[dt.date, dt.date]:
        start, end = _month_day(year, self.start), _month_day(year, self.end)
        return (start, end) if end >= start else (start, _month_day(year + 1, self.end))


def _month_day(year: int, text: str) -> dt.date:
    month, day = (int(part) for part in text.split("-"))
    return dt.date(year, month, min(day, calendar.monthrange(year, month)[1]))


class DatedWindow(_Strict):
    start: dt.date
    end: dt.date


class Event(_Strict):
    """A named retail event (618, 双11, 春节...): an annual window, or dates given per year."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)

    id: str
    name_zh: str
    name_en: str
    synonyms: list[str] = []
    annual: AnnualWindow | None = Field(None, alias="window")
    dates: dict[int, DatedWindow] = {}

    @field_validator("id")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not value.isidentifier() or value != value.lower():
            raise ValueError("must be a lowercase identifier such as double11")
        return value

    @model_validator(mode="after")
    def _dated(self) -> Event:
        if self.annual is None and not self.dates:
            raise ValueError("give a window (MM-DD every year) or dates per year")
        for year, dates in self.dates.items():
            if dates.start.year != year or dates.end < dates.start:
                raise ValueError(f"dates {year}: must start in {year} and end on or after the start")
        return self

    def name(self, language: str) -> str:
        return self.name_zh if language == "zh" else self.name_en

    def window(self, year: int) -> Period | None:
        """The event's days in ``year`` (the year it starts in); None when the model has no dates for it."""
        if year in self.dates:
            return Period(start=self.dates[year].start, end=self.dates[year].end)
        if self.annual is None:
            return None
        start, end = self.annual.in_year(year)
        return Period(start=start, end=end)

    def years(self) -> list[int]:
        """The years the model dates explicitly (an annual window has every year)."""
        return sorted(self.dates)


class ColumnRef(_Strict):
    """A column of an entity, as a dimension or a measure's time column resolves to it."""

    entity: str
    column: str


class SemanticModel(BaseModel):
    """The whole model, with lookups and reachability answered from the loaded entries."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    entities: dict[str, Entity]
    time_dimension: TimeDimension
    dimensions: dict[str, Dimension]
    measures: dict[str, Measure]
    metrics: dict[str, Metric]
    roles: dict[str, Role]
    events: list[Event] = []
    #: The analysis tools' reads (reads.yaml); a model without one refuses the tool that needs it.
    reads: dict[str, Read] = {}
    read_fragments: dict[str, ReadFragment] = {}
    freshness: Freshness | None = None
    #: The entity whose latest date makes the data's "today" (the day after it): a demo or a copy
    #: that ends in the past reads "last month" from its own end. None: the calendar's today.
    reference_entity: str | None = None
    #: The folder the model was read from: the planner's phrase book lives beside it (planner/phrases.yaml).
    folder: Path | None = None
    #: The file each entry was read from ("metrics/gmv" -> "metrics.yaml"), for problems that name it.
    origins: dict[str, str] = {}
    #: Each metric formula's names and signs, parsed when the model was built (see ``_bring_formulas``).
    _formulas: dict[str, tuple[tuple[str, ...], dict[str, int] | None]] = PrivateAttr(default_factory=dict)

    @property
    def relations(self) -> frozenset[str]:
        """The warehouse relations the model reads: the SQL guard's allow-list."""
        return frozenset(e.table for e in self.entities.values())

    # -- reachability ---------------------------------------------------------------
    def join_path(self, start: str, target: str) -> list[Join] | None:
        """The joins leading from entity ``start`` to ``target`` (breadth-first, shortest)."""
        frontier: list[tuple[str, list[Join]]] = [(start, [])]
        seen = {start}
        while frontier:
            name, path = frontier.pop(0)
            if name == target:
                return path
            for join in self.entities[name].joins:
                if join.to not in seen:
                    seen.add(join.to)
                    frontier.append((join.to, [*path, join]))
        return None

    def dimension_column(self, dimension: str, entity: str) -> ColumnRef | None:
        """Where ``entity`` reads ``dimension``: the first of its columns a join path reaches."""
        for ref in self.dimensions[dimension].columns:
            owner, column = ref.split(".", 1)
            if self.join_path(entity, owner) is not None:
                return ColumnRef(entity=owner, column=column)
        return None

    def measure_dimensions(self, measure: Measure) -> set[str]:
        return {d for d in self.dimensions if self.dimension_column(d, measure.entity) is not None}

    def metric_measures(self, metric_id: str) -> list[Measure]:
        """The measures a metric's formula needs, through the metrics it refers to."""
        found: dict[str, Measure] = {}
        for name in formula_names(self.metrics[metric_id].formula):
            if name in self.measures:
                found[name] = self.measures[name]
            elif name in self.metrics:
                found.update({m.name: m for m in self.metric_measures(name)})
        return list(found.values())

    def metric_dimensions(self, metric_id: str) -> list[str]:
        """The dimensions a metric can be cut and filtered by (the time dimension aside).

        It is what every one of its measures reaches (so combined facts never fan out),
        narrowed by the metric's own ``dimensions`` list and by those of metrics it uses.
        """
        metric = self.metrics[metric_id]
        allowed = set(self.dimensions)
        for measure in self.metric_measures(metric_id):
            allowed &= self.measure_dimensions(measure)
        if metric.dimensions is not None:
            allowed &= set(metric.dimensions)
        for name in formula_names(metric.formula):
            if name in self.metrics:
                allowed &= set(self.metric_dimensions(name))
        return [d for d in self.dimensions if d in allowed]

    # -- look-ups -------------------------------------------------------------------
    def find_metric(self, text: str) -> Metric | None:
        """A metric by id, name or synonym (case-insensitive)."""
        key = text.strip().lower()
        for metric in self.metrics.values():
            names = [metric.id, metric.name_zh, metric.name_en, *metric.synonyms]
            if key in (n.lower() for n in names):
                return metric
        return None

    def find_dimension(self, text: str) -> str | None:
        """A dimension (or, for the time dimension, a grain) name by name or synonym."""
        key = text.strip().lower()
        for grain in self.time_dimension.grains:
            if key in (n.lower() for n in [grain.name, grain.name_zh, grain.name_en, *grain.synonyms]):
                return grain.name
        for dim in self.dimensions.values():
            if key in (n.lower() for n in [dim.name, dim.name_zh, dim.name_en, *dim.synonyms]):
                return dim.name
        return None

    def find_attribute(self, text: str, dimension: str | None = None) -> list[tuple[str, Attribute]]:
        """(dimension, attribute) pairs an attribute word names (账期 is a supplier's and a customer's)."""
        key = text.strip().lower()
        found = []
        for dim in self.dimensions.values():
            if dimension is not None and dim.name != dimension:
                continue
            for attribute in dim.attributes:
                names = [attribute.name, attribute.name_zh, attribute.name_en, *attribute.synonyms]
                if key in (n.lower() for n in names):
                    found.append((dim.name, attribute))
        return found

    def find_event(self, text: str) -> Event | None:
        """An event by id, name or synonym (case-insensitive)."""
        key = text.strip().lower()
        for event in self.events:
            if key in (n.lower() for n in [event.id, event.name_zh, event.name_en, *event.synonyms]):
                return event
        return None

    def event_window(self, event_id: str, year: int | None, today: dt.date) -> Period | None:
        """The event's window in ``year``; with no year, in the latest year whose window is complete
        before ``today`` (双11 asked on 2026-01-01 is 2025-11-01..2025-11-11). None when the model
        has no dates for that year or the event is unknown (:meth:`event_period` explains why)."""
        event = next((e for e in self.events if e.id == event_id), None)
        if event is None:
            return None
        if year is not None:
            return event.window(year)
        candidates = [today.year, today.year - 1, today.year - 2] if event.annual else sorted(event.dates, reverse=True)
        for candidate in candidates:
            window = event.window(candidate)
            if window is not None and window.end < today:
                return window
        return None

    def event_period(self, event_id: str, year: int | None, today: dt.date) -> Period:
        """:meth:`event_window`, or an :class:`UnknownEventError` a user can act on."""
        from semantic_layer.errors import UnknownEventError

        event = next((e for e in self.events if e.id == event_id), None)
        if event is None:
            known = ", ".join(f"{e.id} ({e.name_zh})" for e in self.events)
            raise UnknownEventError(f"unknown event '{event_id}'; events: {known}", event=event_id, year=year)
        window = self.event_window(event_id, year, today)
        if window is not None:
            return window
        dated = ", ".join(str(y) for y in event.years())
        when = f"{year}" if year is not None else f"any year before {today.isoformat()}"
        raise UnknownEventError(
            f"{event.name_zh}在模型中没有{year if year is not None else '今天之前'}的日期(已知年份:{dated}),"
            f"请在 events.yaml 中补充。 / {event.name_en} has no dates for {when} in the model (dated years: "
            f"{dated}); add them to events.yaml.",
            event=event_id,
            year=year,
        )

    def find_member(self, dimension: str, text: str) -> str | None:
        """A member code of a dimension with declared members, by code, name or synonym."""
        key = text.strip().lower()
        for member in self.dimensions[dimension].members:
            if key in (n.lower() for n in [member.code, member.name_zh, member.name_en, *member.synonyms]):
                return member.code
        return None


def formula_names(formula: str) -> list[str]:
    """The identifiers a metric formula refers to, in order of appearance."""
    return list(_formula_names(formula))


#: Formulas parsed in this process, or brought by a model from the disk cache (``parsed_formulas``): a
#: new process that reads its model from there answers without importing sqlglot.
_FORMULA_NAMES: dict[str, tuple[str, ...]] = {}
_FORMULA_SIGNS: dict[str, dict[str, int] | None] = {}


def formula_signs(formula: str) -> dict[str, int] | None:
    """Each name's sign in a formula that only adds and subtracts names ("dio + dso - dpo": dpo -1);
    None for any other formula (a ratio), where a part's change has no fixed direction."""
    if formula in _FORMULA_SIGNS:
        return _FORMULA_SIGNS[formula]
    import sqlglot
    from sqlglot import exp

    signs: dict[str, int] = {}

    def walk(node: exp.Expr, sign: int) -> bool:
        if isinstance(node, exp.Paren):
            return walk(node.this, sign)
        if isinstance(node, exp.Column):
            signs[node.name] = signs.get(node.name, 0) + sign
            return True
        if isinstance(node, exp.Add | exp.Sub):
            return walk(node.left, sign) and walk(node.right, -sign if isinstance(node, exp.Sub) else sign)
        return False

    found = dict(signs) if walk(sqlglot.parse_one(formula), 1) else None
    _FORMULA_SIGNS[formula] = found
    return found


def _formula_names(formula: str) -> tuple[str, ...]:
    # parsed once per formula: validation asks for a metric's dimensions on every question
    if formula in _FORMULA_NAMES:
        return _FORMULA_NAMES[formula]
    import sqlglot
    from sqlglot import exp

    names: list[str] = []
    for column in sqlglot.parse_one(formula).find_all(exp.Column):
        if column.name not in names:
            names.append(column.name)
    _FORMULA_NAMES[formula] = tuple(names)
    return _FORMULA_NAMES[formula]


# -- loading ------------------------------------------------------------------------
_SECTIONS: dict[str, tuple[type[BaseModel], str]] = {
    "entities": (Entity, "name"),
    "dimensions": (Dimension, "name"),
    "measures": (Measure, "name"),
    "metrics": (Metric, "id"),
    "roles": (Role, "name"),
    "events": (Event, "id"),
    "reads": (Read, "name"),
    "read_fragments": (ReadFragment, "name"),
}


def _explain(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"])
        parts.append(f"{where}: {item['msg']}" if where else item["msg"])
    return "; ".join(parts)


def load_model(directory: Path | str | None = None) -> SemanticModel:
    """Load and validate every ``*.yaml`` file of ``directory``; by default the folder named by
    ``$CHATBI_MODEL`` (a customer's model, set by ``chatbi --model DIR``), else the bundled demo model."""
    if directory is None:
        named = os.environ.get(MODEL_ENV)
        return _load_default(Path(named).resolve() if named else MODEL_DIR)
    return _load(Path(directory))


@functools.lru_cache(maxsize=4)
def _load_default(folder: Path) -> SemanticModel:
    """The process's model, from the disk cache when its files are unchanged (parsing them costs a cold start ~0.4 s)."""
    from semantic_layer.disk_cache import cached, file_digest

    if not folder.is_dir():
        raise ModelError(f"{folder}: not a model folder (${MODEL_ENV})")
    files = sorted(folder.glob("*.yaml"))
    digest = file_digest(files)
    model = cached("model", [digest], lambda: _load(folder))
    _bring_formulas(model)
    model = model if model.folder == folder else model.model_copy(update={"folder": folder})  # another checkout's
    _FILES_DIGEST[id(model)] = (model, digest)
    return model


#: The digest of the files each model ``load_model()`` returned was read from (kept with the model, so an
#: id is never another object's): what entries derived from the model in the disk cache are keyed by.
_FILES_DIGEST: dict[int, tuple[SemanticModel, bytes]] = {}


def files_digest(model: SemanticModel) -> bytes | None:
    """The digest of the model files ``model`` was read from, if ``load_model()`` returned it; None for a
    model made or changed in memory (which nothing derived may be kept on disk for)."""
    kept = _FILES_DIGEST.get(id(model))
    return kept[1] if kept is not None and kept[0] is model else None


def _load(folder: Path) -> SemanticModel:
    import yaml  # here: a cold start reads the model from the disk cache and needs no YAML parser

    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise ModelError(f"{folder}: no *.yaml model files")
    entries: dict[str, dict[str, Any]] = {section: {} for section in _SECTIONS}
    origin: dict[tuple[str, str], str] = {}
    time_dimension: TimeDimension | None = None
    freshness: Freshness | None = None
    reference: str | None = None
    for path in files:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ModelError(f"{path.name}: not valid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise ModelError(f"{path.name}: expected a mapping of sections at the top level")
        for section, items in data.items():
            if section == "time_dimension":
                try:
                    time_dimension = TimeDimension.model_validate(items)
                except ValidationError as exc:
                    raise ModelError(f"{path.name}: time_dimension: {_explain(exc)}") from exc
                continue
            if section == "freshness":
                if freshness is not None:
                    raise ModelError(f"{path.name}: freshness: declared twice")
                try:
                    freshness = Freshness.model_validate(items)
                except ValidationError as exc:
                    raise ModelError(f"{path.name}: freshness: {_explain(exc)}") from exc
                origin[("freshness", "freshness")] = path.name
                continue
            if section == "reference_date":
                if reference is not None:
                    raise ModelError(f"{path.name}: reference_date: declared twice")
                if not isinstance(items, dict) or set(items) != {"entity"} or not isinstance(items["entity"], str):
                    raise ModelError(f"{path.name}: reference_date: expected {{entity: NAME}} (a dated entity)")
                reference = items["entity"]
                origin[("reference_date", "reference_date")] = path.name
                continue
            if section not in _SECTIONS:
                known = ", ".join(["time_dimension", "freshness", "reference_date", *_SECTIONS])
                raise ModelError(f"{path.name}: unknown section '{section}' (known: {known})")
            if not isinstance(items, list):
                raise ModelError(f"{path.name}: section '{section}' must be a list")
            schema, key_field = _SECTIONS[section]
            for index, raw in enumerate(items):
                name = raw.get(key_field, f"#{index + 1}") if isinstance(raw, dict) else f"#{index + 1}"
                try:
                    entry = schema.model_validate(raw)
                except ValidationError as exc:
                    raise ModelError(f"{path.name}: {section} '{name}': {_explain(exc)}") from exc
                if name in entries[section]:
                    first = origin[(section, name)]
                    raise ModelError(f"{path.name}: {section} '{name}': defined twice (also in {first})")
                entries[section][name] = entry
                origin[(section, name)] = path.name
    if time_dimension is None:
        raise ModelError(f"{folder}: no time_dimension section in any model file")
    events = list(entries.pop("events").values())
    origins = {f"{section}/{name}": file for (section, name), file in origin.items()}
    model = SemanticModel(
        time_dimension=time_dimension,
        events=events,
        freshness=freshness,
        reference_entity=reference,
        folder=folder,
        origins=origins,
        **entries,
    )
    _check_references(model, origin)
    for metric in model.metrics.values():
        metric._point_in_time = _is_point_in_time(model, metric)
        model._formulas[metric.formula] = (_formula_names(metric.formula), formula_signs(metric.formula))
    return model


def _bring_formulas(model: SemanticModel) -> None:
    """Take in the formulas a model parsed when it was built (it may come from the disk cache)."""
    for formula, (names, signs) in model._formulas.items():
        _FORMULA_NAMES.setdefault(formula, names)
        _FORMULA_SIGNS.setdefault(formula, signs)


#: Measure kinds read on the last day of each bucket rather than over the days of the period.
SNAPSHOT_KINDS = ("period_end", "unsold_stock")


def _is_point_in_time(model: SemanticModel, metric: Metric) -> bool:
    measures = model.metric_measures(metric.id)
    return bool(measures) and all(m.over in SNAPSHOT_KINDS for m in measures)


def _check_index(
    model: SemanticModel, dim: Dimension, report: Callable[[str, str, str], None], check_column: Callable[..., None]
) -> None:
    def fail(problem: str) -> None:
        report("dimensions", dim.name, problem)

    index = dim.index
    assert index is not None
    refs = [("aliases", index.aliases.name)] if index.aliases else []
    refs += [("aliases", index.aliases.source)] if index.aliases and index.aliases.source else []
    refs += [("starts", index.starts)] if index.starts else []
    for where, ref in refs:
        if "." not in ref:
            fail(f"index {where}: column '{ref}' must be written entity.column")
        owner, column = ref.split(".", 1)
        check_column("dimensions", dim.name, owner, column)
        if where == "starts" and owner != dim.entity:
            fail(f"index starts: must be a column of {dim.entity}, the members' entity")
        if where == "aliases" and model.dimension_column(dim.name, owner) is None:
            fail(f"index aliases: {owner} does not reach {dim.name} by its joins")
    for name in [*index.drop_prefix, *index.prefer_over]:
        if name not in model.dimensions or model.dimensions[name].index is None:
            fail(f"index: '{name}' is not a dimension with an index")
    for form in [*index.forms, *index.prefix_forms]:
        if form.count("{}") != 1:
            fail(f"index form '{form}': must hold one '{{}}' standing for the name")


def _check_references(model: SemanticModel, origin: dict[tuple[str, str], str]) -> None:
    """Cross-entry checks; each failure names the file and entry it was found in."""
    import sqlglot

    def fail(section: str, name: str, problem: str) -> None:
        raise ModelError(f"{origin[(section, name)]}: {section} '{name}': {problem}")

    def check_column(section: str, name: str, entity: str, column: str) -> None:
        if entity not in model.entities:
            fail(section, name, f"unknown entity '{entity}'")
        if column not in model.entities[entity].columns:
            fail(section, name, f"entity '{entity}' has no column '{column}'")

    for entity in model.entities.values():
        for mapped in entity.column_map:
            if mapped not in entity.columns:
                fail("entities", entity.name, f"column_map: '{mapped}' is not one of the entity's columns")
        for column in [entity.key, entity.time, *(j.column for j in entity.joins)]:
            if column is not None:
                check_column("entities", entity.name, entity.name, column)
        if entity.document is not None:
            check_column("entities", entity.name, entity.name, entity.document.opened)
            check_column("entities", entity.name, entity.name, entity.document.closed)
        for join in entity.joins:
            if join.to not in model.entities or model.entities[join.to].key is None:
                fail("entities", entity.name, f"join to '{join.to}': not an entity with a key")

    for read in model.reads.values():
        if read.fragment is not None and read.fragment not in model.read_fragments:
            fail("reads", read.name, f"fragment '{read.fragment}' is not one of read_fragments")

    for dim in model.dimensions.values():
        for ref in [*dim.columns, *([dim.label.zh, dim.label.en] if dim.label else [])]:
            if "." not in ref:
                fail("dimensions", dim.name, f"column '{ref}' must be written entity.column")
            owner, column = ref.split(".", 1)
            check_column("dimensions", dim.name, owner, column)

        for attribute in dim.attributes:
            where = f"attribute '{attribute.name}'"
            if "." not in attribute.column:
                fail("dimensions", dim.name, f"{where}: column '{attribute.column}' must be written entity.column")
            owner, column = attribute.column.split(".", 1)
            check_column("dimensions", dim.name, owner, column)
            if owner != dim.entity:
                fail("dimensions", dim.name, f"{where}: must be a column of {dim.entity}, the members' entity")
            if attribute.name == dim.name or attribute.name == f"{dim.name}_name":
                fail("dimensions", dim.name, f"{where}: the name is taken by the dimension's own columns")
        if dim.index is not None:
            _check_index(model, dim, fail, check_column)
        repeated = {a.name for a in dim.attributes if [b.name for b in dim.attributes].count(a.name) > 1}
        if repeated:
            fail("dimensions", dim.name, f"attribute listed twice: {', '.join(sorted(repeated))}")

    for measure in model.measures.values():
        _check_measure(model, measure, lambda problem, m=measure: fail("measures", m.name, problem))

    for metric in model.metrics.values():
        try:
            names = formula_names(metric.formula)
        except sqlglot.errors.ParseError as exc:
            fail("metrics", metric.id, f"formula does not parse: {exc}")
        for name in names:
            if name != DAYS and name not in model.measures and name not in model.metrics:
                fail("metrics", metric.id, f"formula refers to unknown measure or metric '{name}'")
        _check_no_cycle(model, metric.id, [], lambda problem, m=metric: fail("metrics", m.id, problem))
        for dim_name in metric.dimensions or []:
            if dim_name not in model.dimensions:
                fail("metrics", metric.id, f"unknown dimension '{dim_name}'")

    for metric in model.metrics.values():
        for component in metric.components:
            if component not in model.metrics or component == metric.id:
                fail("metrics", metric.id, f"components: '{component}' is not another metric")
            lost = set(model.metric_dimensions(metric.id)) - set(model.metric_dimensions(component))
            if lost:
                fail("metrics", metric.id, f"components: '{component}' cannot be cut by {', '.join(sorted(lost))}")

    said: dict[str, str] = {}
    for event in model.events:
        for word in {w.lower() for w in [event.id, event.name_zh, event.name_en, *event.synonyms]}:
            if said.setdefault(word, event.id) != event.id:
                fail("events", event.id, f"'{word}' also names event '{said[word]}'")

    for role in model.roles.values():
        for metric_id in role.deny_metrics:
            if metric_id not in model.metrics:
                fail("roles", role.name, f"deny_metrics: unknown metric '{metric_id}'")
        for row_filter in role.row_filters:
            if row_filter.dimension not in model.dimensions:
                fail("roles", role.name, f"row filter on unknown dimension '{row_filter.dimension}'")

    if model.freshness is not None:
        _check_freshness(model, model.freshness, origin[("freshness", "freshness")])
    if model.reference_entity is not None:
        dated = model.entities.get(model.reference_entity)
        if dated is None or dated.time is None:
            file = origin[("reference_date", "reference_date")]
            raise ModelError(f"{file}: reference_date: '{model.reference_entity}' is not a dated entity")


def _check_freshness(model: SemanticModel, freshness: Freshness, file: str) -> None:
    """The freshness query must pass the SQL guard over the model's own tables, in every engine's dialect."""
    from semantic_layer.guard import GuardError, guard_ast

    tables = {entity.table for entity in model.entities.values()}
    for dialect in ("duckdb", "postgres", "mysql", "clickhouse"):
        try:
            guard_ast(freshness.ast, dialect=dialect, allowed_tables=tables, row_limit=1)
        except GuardError as exc:
            raise ModelError(f"{file}: freshness: {exc}") from None


def _check_unsold(model: SemanticModel, measure: Measure, entity: Entity, fail: Any) -> None:
    import sqlglot
    from sqlglot import exp

    rule, sales = measure.unsold, model.entities.get(measure.unsold.sales) if measure.unsold else None
    if rule is None or measure.lookback_days is None or entity.time is None:
        fail("over: unsold_stock needs lookback_days, unsold: {item, in_stock, sales, sold} and a dated entity")
        return
    if sales is None or sales.time is None:
        fail(f"unsold.sales: '{rule.sales}' is not a dated entity")
        return
    for owner, text, aggregate in ((entity, rule.in_stock, False), (sales, rule.sold, True)):
        try:
            parsed = sqlglot.parse_one(text)
        except sqlglot.errors.ParseError as exc:
            fail(f"unsold: '{text}' does not parse: {exc}")
            continue
        if aggregate != bool(parsed.find(exp.AggFunc)):
            fail(f"unsold: '{text}' must {'' if aggregate else 'not '}aggregate")
        for column in (*parsed.find_all(exp.Column), exp.column(rule.item)):
            if column.name not in owner.columns:
                fail(f"unsold: '{column.name}' is not a column of {owner.name}")


def _check_measure(model: SemanticModel, measure: Measure, fail: Any) -> None:
    import sqlglot
    from sqlglot import exp

    entity = model.entities.get(measure.entity)
    if entity is None:
        fail(f"unknown entity '{measure.entity}'")
        return
    if measure.over == "unsold_stock":
        _check_unsold(model, measure, entity, fail)
        return
    if measure.expr is None:
        fail("expr is required")
        return
    try:
        parsed = sqlglot.parse_one(measure.expr)
    except sqlglot.errors.ParseError as exc:
        fail(f"expr does not parse: {exc}")
        return
    if not isinstance(parsed, exp.AggFunc) and not parsed.find(exp.AggFunc):
        fail("expr must be an aggregate such as SUM(column)")
    allowed = set(entity.columns) | ({AS_OF} if measure.over != "period" else set())
    for column in parsed.find_all(exp.Column):
        if column.name not in allowed:
            fail(f"expr refers to '{column.name}', not a column of {entity.name}")
    if measure.over == "each_day" and entity.document is None:
        fail("over: each_day needs an entity with a document (opened/closed dates)")
    if entity.document is not None:
        return
    time = measure_time(model, measure)
    if time is None:
        fail(f"entity '{entity.name}' has no time column; give the measure a time")
        return
    owner = model.entities.get(time.entity)
    if owner is None or time.column not in owner.columns:
        fail(f"time '{measure.time}' is not a column of a known entity")
    elif model.join_path(entity.name, time.entity) is None:
        fail(f"time '{measure.time}': no join leads from {entity.name} to {time.entity}")


def measure_time(model: SemanticModel, measure: Measure) -> ColumnRef | None:
    """The column that dates a measure's rows (None for documents, dated by open/close)."""
    entity = model.entities[measure.entity]
    if measure.time is None:
        return ColumnRef(entity=entity.name, column=entity.time) if entity.time else None
    owner, _, column = measure.time.rpartition(".")
    return ColumnRef(entity=owner or entity.name, column=column)


def _check_no_cycle(model: SemanticModel, metric_id: str, stack: list[str], fail: Any) -> None:
    if metric_id in stack:
        fail("formula is circular: " + " -> ".join([*stack, metric_id]))
    for name in formula_names(model.metrics[metric_id].formula):
        if name in model.metrics:
            _check_no_cycle(model, name, [*stack, metric_id], fail)


def suggestions(word: str, candidates: Iterable[str], limit: int = 3) -> list[str]:
    """Close matches for an unknown name, for 'did you mean' messages."""
    import difflib

    pool = list(candidates)
    lowered = {c.lower(): c for c in pool}
    close = difflib.get_close_matches(word.lower(), list(lowered), n=limit, cutoff=0.5)
    starts = [c for c in pool if c.lower().startswith(word.lower()[:3]) and c.lower() not in close]
    return [lowered[c] for c in close] + starts[: max(0, limit - len(close))]
