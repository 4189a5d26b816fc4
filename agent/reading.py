"""What one question says, as a typed reading: the slots a query or a listing is built from.

The reading is immutable. Each recogniser returns the fields it adds and the parser makes the
next reading with ``model_copy(update=...)``, so what a later recogniser sees is exactly what the
earlier ones read, and nothing edits a slot behind another's back.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict

from agent.time_expressions import TimeMatch
from semantic_layer.master_data import Member
from semantic_layer.query import Filter, Period

RankKind = Literal["top", "bottom", "best", "worst", "all"]


@dataclass(frozen=True)
class Rank:
    kind: RankKind
    limit: int | None


class Parsed(BaseModel):
    """What one question says, slot by slot; empty slots were not mentioned."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    metrics: tuple[str, ...] = ()
    ambiguous_metric: tuple[str, tuple[str, ...]] | None = None  # (the words, the metric ids)
    dimensions: tuple[str, ...] = ()
    grain: str | None = None
    trend: bool = False
    period: Period | None = None
    no_days: TimeMatch | None = None  # a period named that has no day before today
    period_end: bool = False  # 月底, year-end: the period's last day
    compare: Literal["yoy", "pop"] | None = None
    filters: tuple[Filter, ...] = ()
    ambiguous_member: tuple[str, tuple[Member, ...]] | None = None
    promotion_starts: tuple[tuple[str, dt.date | None], ...] = ()  # promotions named by an event word
    promotion_words: tuple[str, ...] = ()
    store_word: bool = False  # a member named by a word for shops ("门店", "offline stores")
    store_marked: bool = False  # ... right after a breakdown marker ("每家实体店")
    rank: Rank | None = None
    share: bool = False  # 占比, mix, % of total
    snapshot: bool = False  # 现在, right now: a point-in-time metric on the last day with data
    scope_word: str | None = None  # 全公司, company-wide: the role's whole scope, not a filter
    distributive: bool = False  # 各, 每个, each, per: one row per member
    event: str | None = None  # the event whose window is the period ("双11期间")
    compare_period: Period | None = None  # an explicit comparison period (the event a year earlier, "环比Q3")
    disjoint: tuple[Period, ...] = ()  # periods named with a gap between them ("1月和3月")
    attributes: tuple[tuple[str, ...], ...] = ()  # per word: "supplier.payment_terms_days", ...
    attribute_words: tuple[str, ...] = ()  # the words that name only attributes ("账期"), as written
    either: tuple[
        tuple[str, str, bool], ...
    ] = ()  # a word that is a member and a dimension: (member, dimension, exclude)
    text: str = ""  # the question, normalised and folded; spans below index it
    #: where metrics were read: (start, end, by a phrase of the phrase book rather than a name, the metric)
    metric_spans: tuple[tuple[int, int, bool, str], ...] = ()
    glued: tuple[tuple[str, str], ...] = ()  # a metric word with the unread character after it
    unknown_metric: str | None = None
    why: bool = False
    components: bool = False  # 构成, components: a composite metric with the metrics it is built from
    follow_cue: bool = False
    add_cue: bool = False
    out_of_scope: bool = False
    leftover: str = ""
    amount_verbs: tuple[str, ...] = ()  # unread verbs of amount ("花了多少钱"): filler beside a metric only

    @property
    def empty(self) -> bool:
        """Nothing a query could use was recognised."""
        return not (
            self.metrics or self.ambiguous_metric or self.dimensions or self.grain or self.trend or self.period
            or self.compare or self.filters or self.ambiguous_member or self.rank or self.no_days or self.share
        )  # fmt: skip

    @property
    def only_metrics(self) -> bool:
        """Names metrics and nothing else: in a conversation, "毛利率呢" keeps the rest."""
        return bool(self.metrics) and not (
            self.dimensions or self.grain or self.trend or self.period or self.compare or self.filters or self.rank
            or self.share
        )  # fmt: skip

    def with_metric(self, metric_id: str) -> tuple[str, ...]:
        return self.metrics if metric_id in self.metrics else (*self.metrics, metric_id)

    def with_dimension(self, dimension: str) -> tuple[str, ...]:
        return self.dimensions if dimension in self.dimensions else (*self.dimensions, dimension)

    def with_filter(self, dimension: str, key: str, exclude: bool) -> tuple[Filter, ...]:
        """The filters with ``key`` added: to the filter on the same dimension and sense, else as a new one."""
        out = list(self.filters)
        for i, f in enumerate(out):
            if f.dimension == dimension and f.exclude == exclude:
                if key not in f.members:
                    out[i] = f.model_copy(update={"members": [*f.members, key]})
                return tuple(out)
        return (*out, Filter(dimension=dimension, members=[key], exclude=exclude))
