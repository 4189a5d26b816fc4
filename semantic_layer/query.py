"""The typed question the compiler accepts: :class:`MetricQuery`, and who asks it: :class:`Principal`.

MetricQuery is what every planner fills (the embedded one and, as a tool schema, an LLM),
so it is deliberately flat and explicit. Who is asking is *not* part of it: the caller
passes a Principal to the compiler separately, so a plan can never grant itself access.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from semantic_layer.time_buckets import bucket_end, bucket_start, is_whole_bucket, shift_bucket

Grain = Literal["day", "week", "month", "quarter", "year"]
_GRAINS = ("day", "week", "month", "quarter", "year")
#: The calendar periods 环比 steps over when a period is exactly one of them, longest first.
CALENDAR_GRAINS = ("year", "quarter", "month", "week")


class Filter(BaseModel):
    """Keep (or, with ``exclude``, drop) rows whose ``dimension`` is one of ``members``."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    dimension: str = Field(description="A dimension name, e.g. channel, category, store.")
    members: list[str] = Field(min_length=1, description="Member codes, e.g. ['tmall', 'jd'].")
    exclude: bool = Field(False, description="True to drop these members instead of keeping them.")


class Period(BaseModel):
    """A period of whole days, both ends inclusive."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    start: dt.date
    end: dt.date

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.end < self.start:
            raise ValueError(f"period ends ({self.end}) before it starts ({self.start})")
        return self

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self, compare: Literal["yoy", "pop"]) -> Period:
        """yoy: the same dates one year earlier. pop (环比): the calendar week (Monday to Sunday),
        month, quarter or year just before when the period is exactly one of those (December ->
        November, Q1 -> the previous Q4), otherwise the equal-length period just before."""
        if compare == "yoy":
            return Period(start=_year_earlier(self.start), end=_year_earlier(self.end))
        for grain in CALENDAR_GRAINS:
            if is_whole_bucket(self.start, self.end, grain):
                start = shift_bucket(self.start, grain, -1)
                return Period(start=start, end=bucket_end(start, grain))
        return Period(start=self.start - dt.timedelta(days=self.days), end=self.start - dt.timedelta(days=1))

    def previous_buckets(self, grain: str) -> Period:
        """The period one ``grain`` bucket earlier, for comparing every bucket with the one before it.

        Each bucket of the result is the bucket just before one of this period's buckets (the
        first one included, though it lies outside the period); a period that ends on a bucket's
        last day maps to one that ends on the previous bucket's last day (March 31 -> February 28).
        """
        start = shift_bucket(self.start, grain, -1)
        if self.end == bucket_end(self.end, grain):
            end = bucket_end(shift_bucket(bucket_start(self.end, grain), grain, -1), grain)
        else:
            end = shift_bucket(self.end, grain, -1)
        return Period(start=start, end=end)


def _year_earlier(day: dt.date) -> dt.date:
    """The same date one year earlier; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


class OrderBy(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    field: str = Field(description="A metric id or a dimension/grain name of the query.")
    descending: bool = True


class MetricQuery(BaseModel):
    """One governed question: metrics, cut by dimensions and a time grain, over a period.

    Example (GMV and gross margin by month and channel on Tmall and JD in 2025, vs last year)::

        MetricQuery(metrics=["gmv", "gross_margin"], dimensions=["channel"], grain="month",
                    filters=[Filter(dimension="channel", members=["tmall", "jd"])],
                    period=Period(start="2025-01-01", end="2025-12-31"), compare="yoy")

    Output columns: the grain (a date: the first day of each bucket), then the dimensions
    in order, then per metric ``<metric>``, with ``compare`` ``<metric>_previous`` and
    ``<metric>_growth`` (current / previous - 1), and with ``share`` ``<metric>_share``.
    """

    model_config = ConfigDict(extra="forbid", defer_build=True)

    metrics: list[str] = Field(min_length=1, description="Metric ids from the catalog, e.g. gmv, dio.")
    dimensions: list[str] = Field(
        default_factory=list,
        description="Dimension names to break down by, e.g. ['category']. A time grain name "
        "(day/week/month/quarter/year) given here is moved to `grain`.",
    )
    grain: Grain | None = Field(None, description="Break down by time at this grain; None = one row.")
    filters: list[Filter] = Field(default_factory=list)
    period: Period = Field(description="The period P, start and end inclusive.")
    compare: Literal["yoy", "pop"] | None = Field(
        None,
        description="yoy (同比): vs the same dates one year earlier; pop (环比): vs the previous calendar "
        "week/month/quarter/year when the period is exactly one, else the equal-length period before. "
        "With a grain every bucket is compared with the bucket before it (yoy: a year earlier).",
    )
    compare_period: Period | None = Field(
        None,
        description="An explicit comparison period (e.g. last year's Spring Festival window for 春节 同比); "
        "needs `compare`, and replaces the period it would pick.",
    )
    share: bool = Field(
        False,
        description="Add <metric>_share: each row's value / the total of every row the filters and period "
        "select (before any limit). Only for additive metrics (sums and counts), with a dimension or grain.",
    )
    order_by: OrderBy | None = None
    limit: int | None = Field(None, ge=1, le=10_000)

    @model_validator(mode="before")
    @classmethod
    def _grain_from_dimensions(cls, data: object) -> object:
        """Accept ``dimensions=["month"]`` (what people and LLMs write) as ``grain="month"``."""
        if isinstance(data, dict) and isinstance(data.get("dimensions"), list):
            grains = [d for d in data["dimensions"] if d in _GRAINS or d == "date"]
            if grains:
                if len(grains) > 1 or (data.get("grain") and data["grain"] != grains[0]):
                    raise ValueError("give at most one time grain")
                data = {**data, "grain": "day" if grains[0] == "date" else grains[0]}
                data["dimensions"] = [d for d in data["dimensions"] if d not in grains]
        return data

    @model_validator(mode="after")
    def _compare_period_needs_compare(self) -> MetricQuery:
        if self.compare_period is not None and self.compare is None:
            raise ValueError("compare_period needs compare (yoy or pop)")
        return self

    @model_validator(mode="after")
    def _no_repeats(self) -> MetricQuery:
        for name, values in (("metric", self.metrics), ("dimension", self.dimensions)):
            repeated = {v for v in values if values.count(v) > 1}
            if repeated:
                raise ValueError(f"{name} listed twice: {', '.join(sorted(repeated))}")
        return self


class AttributeCondition(BaseModel):
    """Keep members whose ``attribute`` compares with ``value`` (payment_terms_days >= 60)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    attribute: str = Field(description="An attribute name of the listed dimension, e.g. payment_terms_days.")
    op: Literal["=", "!=", ">", ">=", "<", "<="]
    value: str | float | dt.date = Field(description="A number, a text, or a date YYYY-MM-DD (for date attributes).")


class AttributeQuery(BaseModel):
    """List a dimension's members by their declared attributes, without a metric.

    Example (the suppliers with the longest payment terms, "账期最长的供应商")::

        AttributeQuery(dimension="supplier", attributes=["payment_terms_days"],
                       order_by=OrderBy(field="payment_terms_days"), limit=10)

    Output columns: the member key (``supplier``), its display name (``supplier_name``) when the
    dimension has a label, then the attributes (all the dimension's readable ones if none given).
    ``filters`` take dimensions of the same entity (customer_type=distributor for customers).
    """

    model_config = ConfigDict(extra="forbid", defer_build=True)

    dimension: str = Field(description="A dimension with attributes: supplier, customer, sku, promotion.")
    attributes: list[str] = Field(default_factory=list, description="Attribute names; empty = all of them.")
    filters: list[Filter] = Field(default_factory=list)
    conditions: list[AttributeCondition] = Field(default_factory=list)
    order_by: OrderBy | None = None
    limit: int | None = Field(None, ge=1, le=10_000)

    @model_validator(mode="after")
    def _no_repeats(self) -> AttributeQuery:
        repeated = {a for a in self.attributes if self.attributes.count(a) > 1}
        if repeated:
            raise ValueError(f"attribute listed twice: {', '.join(sorted(repeated))}")
        return self


class EntityRead(BaseModel):
    """Rows of declared columns where no metric exists: the names master data indexes, the reference
    rows a tool needs (a SKU's cost, a supplier's lead time). Read through the model like a metric, so
    a customer's table and column names, the guard and the role's row filters apply to it too.

    ``columns`` are ``entity.column`` refs that ``entity`` reaches by its joins; output columns are
    named by the column part (``dim_sku.category`` -> ``category``). Rows are distinct and ordered.
    """

    model_config = ConfigDict(extra="forbid", defer_build=True)

    entity: str
    columns: list[str] = Field(min_length=1)
    filters: list[Filter] = Field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [c.split(".", 1)[-1] for c in self.columns]

    @model_validator(mode="after")
    def _distinct_names(self) -> EntityRead:
        repeated = {n for n in self.names if self.names.count(n) > 1}
        if repeated:
            raise ValueError(f"two columns named {', '.join(sorted(repeated))}: read them separately")
        return self


class Principal(BaseModel):
    """Who is asking: a role of the model and, for store managers, their store."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    role: str = "admin"
    store_id: str | None = None
