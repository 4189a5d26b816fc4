"""Read one question into slots: metrics, members, breakdowns, time, ranking, comparison.

Recognisers run in a fixed order on a working copy of the question; each blanks what it
recognised, so a later one never reads the same words twice ("比上个月" is a comparison,
not a period; "天猫旗舰店" is a store, not the channel 天猫 plus the word 店). What
nobody recognised is kept as ``leftover``: the words we did not understand, which is how
an unknown metric ("净利润") is noticed instead of being silently ignored.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Literal

from agent import cues
from agent.time_expressions import TimeMatch, find_periods
from agent.vocabulary import Vocabulary
from semantic_layer.master_data import Candidate, MasterData, Member
from semantic_layer.query import Filter, Period

RankKind = Literal["top", "bottom", "best", "worst", "all"]

#: When one name belongs to members of several kinds, the kind people usually mean.
_KIND_PRIORITY = ("channel", "channel_type", "city", "region", "category", "brand", "store", "warehouse", "sku")
_CN_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_TOTAL = re.compile(r"合计|加起来|一共|总共|总和|汇总|\bcombined\b|\btotal\b|\bin total\b|\baltogether\b")
_EACH = re.compile(r"各自|分别|各是|\beach\b|\brespectively\b|\bseparately\b|\bside by side\b")
_TREND = re.compile(r"趋势|走势|变化|曲线|波动|\btrends?\b|\bover time\b|\btrajectory\b|\btrending\b")


@dataclass
class Rank:
    kind: RankKind
    limit: int | None


@dataclass
class Parsed:
    """What one question says, slot by slot; empty slots were not mentioned."""

    metrics: list[str] = field(default_factory=list)
    ambiguous_metric: tuple[str, tuple[str, ...]] | None = None  # (the words, the metric ids)
    dimensions: list[str] = field(default_factory=list)
    grain: str | None = None
    trend: bool = False
    period: Period | None = None
    no_days: TimeMatch | None = None  # a period named that has no day before today
    compare: Literal["yoy", "pop"] | None = None
    filters: list[Filter] = field(default_factory=list)
    ambiguous_member: tuple[str, tuple[Member, ...]] | None = None
    rank: Rank | None = None
    why: bool = False
    follow_cue: bool = False
    add_cue: bool = False
    out_of_scope: bool = False
    leftover: str = ""

    @property
    def empty(self) -> bool:
        """Nothing a query could use was recognised."""
        return not (
            self.metrics or self.ambiguous_metric or self.dimensions or self.grain or self.trend or self.period
            or self.compare or self.filters or self.ambiguous_member or self.rank or self.no_days
        )  # fmt: skip


class _Text:
    """The question as normalised characters at their original offsets, with blanking."""

    def __init__(self, question: str) -> None:
        chars = []
        for ch in question:
            norm = unicodedata.normalize("NFKC", ch).casefold()
            chars.append(norm if len(norm) == 1 else ch)
        self.chars = chars

    @property
    def text(self) -> str:
        return "".join(self.chars)

    def blank(self, start: int, end: int) -> None:
        for i in range(start, end):
            self.chars[i] = " "


def parse(question: str, vocabulary: Vocabulary, master: MasterData, today: object) -> Parsed:
    """Slots of ``question``; ``today`` (a date) anchors relative time words."""
    import datetime as dt

    assert isinstance(today, dt.date)
    work = _Text(question)
    parsed = Parsed()
    original = work.text
    parsed.follow_cue = bool(cues.FOLLOW_UP.search(original.strip()))
    parsed.add_cue = bool(cues.ADD_TO_PREVIOUS.search(original))
    parsed.why = bool(cues.WHY.search(original))
    parsed.out_of_scope = bool(cues.OUT_OF_SCOPE.search(original))
    _comparison(work, parsed)
    _time(work, parsed, today)
    _marked_breakdowns(work, parsed, vocabulary)
    metric_spans = [(m.start, m.end) for m in vocabulary.find(work.text) if any(t.kind == "metric" for t in m.values)]
    _members(work, parsed, master, metric_spans)
    _terms(work, parsed, vocabulary)
    _ranking(work, parsed)
    if _TREND.search(work.text):
        parsed.trend = True
    _blank_all(work, _TREND)
    _blank_all(work, cues.WHY)
    _blank_all(work, cues.FOLLOW_UP)
    _blank_all(work, cues.ADD_TO_PREVIOUS)
    _blank_all(work, _TOTAL)
    _blank_all(work, _EACH)
    parsed.leftover = cues.FILLER.sub(" ", work.text).strip()
    return parsed


def _blank_all(work: _Text, pattern: re.Pattern[str]) -> list[re.Match[str]]:
    found = list(pattern.finditer(work.text))
    for m in found:
        work.blank(m.start(), m.end())
    return found


def _comparison(work: _Text, parsed: Parsed) -> None:
    if _blank_all(work, cues.YOY):
        parsed.compare = "yoy"
    elif _blank_all(work, cues.POP):
        parsed.compare = "pop"


def _time(work: _Text, parsed: Parsed, today: object) -> None:
    import datetime as dt

    assert isinstance(today, dt.date)
    matches = _combine_year_and_part(find_periods(work.text, today), work.text)
    for m in matches:
        work.blank(m.start, m.end)
    if not matches:
        return
    empty = [m for m in matches if m.period is None]
    if empty:
        parsed.no_days = empty[0]
        return
    periods = [m.period for m in matches if m.period is not None]
    if len(periods) == 2 and parsed.compare is None:
        later, earlier = sorted(periods, key=lambda p: p.start, reverse=True)
        if earlier == later.previous("yoy"):
            parsed.period, parsed.compare = later, "yoy"
            return
    parsed.period = periods[0]


def _combine_year_and_part(matches: list[TimeMatch], text: str) -> list[TimeMatch]:
    """ "去年 12月", "2024年的Q4": a whole year right before a part of a year sets that part's year."""
    out: list[TimeMatch] = []
    for m in matches:
        prev = out[-1] if out else None
        if (
            prev is not None
            and prev.period is not None
            and m.period is not None
            and _whole_year(prev.period)
            and not m.explicit
            and not _whole_year(m.period)
            and text[prev.end : m.start].strip(" 的") == ""
        ):
            shift = prev.period.start.year - m.period.start.year
            period = Period(start=_shift_year(m.period.start, shift), end=_shift_year(m.period.end, shift))
            out[-1] = TimeMatch(prev.start, m.end, period, text[prev.start : m.end], True)
            continue
        out.append(m)
    return out


def _whole_year(period: Period) -> bool:
    s, e = period.start, period.end
    return (s.month, s.day, e.month, e.day) == (1, 1, 12, 31) and s.year == e.year


def _shift_year(day: object, years: int) -> object:
    import datetime as dt

    assert isinstance(day, dt.date)
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _marked_breakdowns(work: _Text, parsed: Parsed, vocabulary: Vocabulary) -> None:
    """ "各渠道", "按品类", "by store", "which warehouse": a dimension word after a breakdown marker."""
    text = work.text
    for match in vocabulary.find(text):
        dims = [t.value for t in match.values if t.kind == "dimension"]
        if not dims:
            continue
        marker = cues.BREAKDOWN_BEFORE.search(text[: match.start])
        if marker is None:
            continue
        if dims[0] not in parsed.dimensions:
            parsed.dimensions.append(dims[0])
        work.blank(marker.start(), match.end)
    for m in _blank_all(work, cues.DIMENSION_DATE):
        parsed.grain = _date_grain(m.group(0))
        parsed.rank = parsed.rank or Rank("best", 1)


def _date_grain(words: str) -> str:
    for grain, marks in (("day", ("天", "day")), ("week", ("周", "week")), ("quarter", ("季", "quarter"))):
        if any(mark in words for mark in marks):
            return grain
    return "year" if "year" in words else "month"


def _members(work: _Text, parsed: Parsed, master: MasterData, metric_spans: list[tuple[int, int]]) -> None:
    """Filters from member names; a name inside a longer metric name ("线上" in "线上转化率"-like
    synonyms) is part of the metric, not a filter."""
    text = work.text
    for mention in master.find_mentions(text):
        if any(s <= mention.start and mention.end <= e and e - s > mention.end - mention.start for s, e in metric_spans):
            continue
        members = _distinct(mention.candidates)
        exclude = bool(cues.EXCLUDE_BEFORE.search(text[: mention.start]))
        kinds = {m.kind for m in members}
        if len(members) > 1 and len(kinds) == len(members):
            members = [min(members, key=lambda m: _KIND_PRIORITY.index(m.kind))]
        if len(members) > 1:
            if parsed.ambiguous_member is None:
                parsed.ambiguous_member = (mention.text, tuple(members))
        else:
            _add_filter(parsed, members[0].kind, members[0].key, exclude)
        work.blank(mention.start, mention.end)
        if exclude:
            marker = cues.EXCLUDE_BEFORE.search(text[: mention.start])
            if marker is not None:
                work.blank(marker.start(), marker.end())


def _distinct(candidates: tuple[Candidate, ...]) -> list[Member]:
    seen: list[Member] = []
    for c in candidates:
        if c.member not in seen:
            seen.append(c.member)
    return seen


def _add_filter(parsed: Parsed, dimension: str, key: str, exclude: bool) -> None:
    for f in parsed.filters:
        if f.dimension == dimension and f.exclude == exclude:
            if key not in f.members:
                f.members.append(key)
            return
    parsed.filters.append(Filter(dimension=dimension, members=[key], exclude=exclude))


def _terms(work: _Text, parsed: Parsed, vocabulary: Vocabulary) -> None:
    for match in vocabulary.find(work.text):
        metrics = tuple(t.value for t in match.values if t.kind == "metric")
        grains = [t.value for t in match.values if t.kind == "grain"]
        dims = [t.value for t in match.values if t.kind == "dimension"]
        if len(metrics) > 1:
            parsed.ambiguous_metric = parsed.ambiguous_metric or (match.text, metrics)
        elif metrics:
            if metrics[0] not in parsed.metrics:
                parsed.metrics.append(metrics[0])
        elif grains:
            parsed.grain = grains[0]
        elif dims and dims[0] not in parsed.dimensions and not any(f.dimension == dims[0] for f in parsed.filters):
            parsed.dimensions.append(dims[0])  # "面膜品类": the word names the filter's kind, not a breakdown
        work.blank(match.start, match.end)


def _number(text: str | None) -> int | None:
    if not text:
        return None
    if text.isdigit():
        return int(text)
    if text == "十":
        return 10
    if "十" in text:
        tens, _, ones = text.partition("十")
        return (_CN_DIGITS.get(tens, 1) if tens else 1) * 10 + (_CN_DIGITS.get(ones, 0) if ones else 0)
    return _CN_DIGITS.get(text)


def _ranking(work: _Text, parsed: Parsed) -> None:
    for pattern, kind in ((cues.TOP_N, "top"), (cues.BOTTOM_N, "bottom")):
        m = pattern.search(work.text)
        if m:
            n = _number(next((g for g in m.groups() if g), None))
            best = kind == "top" and "best" in m.group(0)
            worst = kind == "bottom" and "worst" in m.group(0)
            rank_kind: RankKind = "best" if best else ("worst" if worst else kind)  # type: ignore[assignment]
            parsed.rank = Rank(rank_kind, n)
            work.blank(m.start(), m.end())
            _blank_all(work, cues.HIGHEST)
            _blank_all(work, cues.LOWEST)
            return
    for pattern, kind in ((cues.WORST, "worst"), (cues.LOWEST, "bottom"), (cues.HIGHEST, "top")):
        if _blank_all(work, pattern):
            if parsed.rank is None or parsed.rank.kind == "best":
                parsed.rank = Rank(kind, 1)  # type: ignore[arg-type]
            return
    if _blank_all(work, cues.RANK_ALL) and parsed.rank is None:
        parsed.rank = Rank("all", None)


def wants_total(question: str) -> bool:
    return bool(_TOTAL.search(question.casefold()))


def wants_each(question: str) -> bool:
    return bool(_EACH.search(question.casefold()))
