"""What the cash-conversion-cycle tool can be asked, and which period a question without dates means.

The arguments double as an LLM tool schema, so every field has a default and a description.
Default period: the last full calendar quarter before ``today`` (on 2026-01-01, Q4 2025). A
quarter is long enough for the day-weighted averages behind DIO/DSO/DPO to be stable, short
enough to be "recent", and its equal-length previous period is (about) the quarter before, so
"为什么变长了?" compares like with like. "2025年" arrives as start=2025-01-01, end=2025-12-31.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from semantic_layer.query import Period

Focus = Literal["overview", "ar_aging", "ap_aging"]
TrendGrain = Literal["month", "quarter"]


class Arguments(BaseModel):
    """Cash conversion cycle (现金转换周期): DIO + DSO - DPO over a period, its trend, AR/AP aging,
    alerts and recommendations."""

    model_config = ConfigDict(extra="forbid")

    start: dt.date | None = Field(
        default=None,
        description="First day of the period (inclusive). Omit both start and end for the last full quarter; "
        "only end given: from the first day of end's quarter.",
    )
    end: dt.date | None = Field(
        default=None,
        description="Last day of the period (inclusive) and the as-of day of the aging. Omitted with a start: "
        "the latest day with data.",
    )
    grain: TrendGrain | None = Field(
        default="month", description="Trend buckets: month or quarter; null for the period total only."
    )
    focus: Focus = Field(
        default="overview",
        description="overview: the CCC trend with alerts and recommendations; ar_aging (应收账龄): the receivables "
        "aging by customer; ap_aging (应付账龄): the payables aging by supplier.",
    )
    dio_rise_threshold: float = Field(
        default=0.2,
        gt=0,
        description="Alert on categories whose days of inventory rose by more than this share vs the previous "
        "period (0.2 = +20%).",
    )
    overdue_days: int = Field(
        default=30, ge=0, description="Alert on customers with balances more than this many days past due."
    )

    @model_validator(mode="after")
    def _ordered(self) -> Arguments:
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ValueError(f"the period ends ({self.end}) before it starts ({self.start})")
        return self


def resolve_period(arguments: Arguments, today: dt.date, data_start: dt.date, data_end: dt.date) -> Period:
    """The period to analyse, cut to the days that have data (before ``today``, within the ledgers).

    A period reaching outside the data would average days without inventory or sales into the
    metrics, so it is clipped rather than computed over empty days; the clipped period is what the
    answer reports.
    """
    latest = min(today - dt.timedelta(days=1), data_end)
    if arguments.start is None and arguments.end is None:
        end = _quarter_start(today) - dt.timedelta(days=1)
        start = _quarter_start(end)
    elif arguments.start is None:
        assert arguments.end is not None
        end, start = arguments.end, _quarter_start(arguments.end)
    else:
        start, end = arguments.start, arguments.end or latest
    start, end = max(start, data_start), min(end, latest)
    if end < start:
        raise ValueError(f"no data between {start} and {end} (data covers {data_start} to {latest})")
    return Period(start=start, end=end)


def _quarter_start(day: dt.date) -> dt.date:
    return dt.date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
