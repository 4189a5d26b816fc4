"""The typed question the compiler accepts: :class:`MetricQuery`, and who asks it: :class:`Principal`.

MetricQuery is what every planner fills (the embedded one and, as a tool schema, an LLM),
so it is deliberately flat and explicit. Who is asking is *not* part of it: the caller
passes a Principal to the compiler separately, so a plan can never grant itself access.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Grain = Literal["day", "week", "month", "quarter", "year"]
_GRAINS = ("day", "week", "month", "quarter", "year")


class Filter(BaseModel):
    """Keep (or, with ``exclude``, drop) rows whose ``dimension`` is one of ``members``."""

    model_config = ConfigDict(extra="forbid")

    dimension: str = Field(description="A dimension name, e.g. channel, category, store.")
    members: list[str] = Field(min_length=1, description="Member codes, e.g. ['tmall', 'jd'].")
    exclude: bool = Field(False, description="True to drop these members instead of keeping them.")


class Period(BaseModel):
    """A period of whole days, both ends inclusive."""

    model_config = ConfigDict(extra="forbid")

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
        """yoy: the same dates one year earlier; pop: the equal-length period just before."""
        if compare == "pop":
            return Period(start=self.start - dt.timedelta(days=self.days), end=self.start - dt.timedelta(days=1))
        return Period(start=_year_earlier(self.start), end=_year_earlier(self.end))


def _year_earlier(day: dt.date) -> dt.date:
    """The same date one year earlier; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


class OrderBy(BaseModel):
    model_config = ConfigDict(extra="forbid")

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

    model_config = ConfigDict(extra="forbid")

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
        None, description="yoy: vs the same dates one year earlier; pop: vs the equal-length period before."
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
    def _no_repeats(self) -> MetricQuery:
        for name, values in (("metric", self.metrics), ("dimension", self.dimensions)):
            repeated = {v for v in values if values.count(v) > 1}
            if repeated:
                raise ValueError(f"{name} listed twice: {', '.join(sorted(repeated))}")
        return self


class Principal(BaseModel):
    """Who is asking: a role of the model and, for store managers, their store."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: str = "admin"
    store_id: str | None = None
