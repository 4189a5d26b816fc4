"""Read one question into slots: metrics, members, breakdowns, time, ranking, comparison.

Recognisers run in a fixed order on a working copy of the question; each blanks what it
recognised, so a later one never reads the same words twice ("比上个月" is a comparison,
not a period; "天猫旗舰店" is a store, not the channel 天猫 plus the word 店). What
nobody recognised is kept as ``leftover``: the words we did not understand, which is how
an unknown metric ("净利润") is noticed instead of being silently ignored.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Literal

from agent import cues
from agent.time_expressions import TimeMatch, find_periods
from agent.vocabulary import Vocabulary, is_cjk
from semantic_layer.master_data import Candidate, MasterData, Member
from semantic_layer.query import Filter, Period

RankKind = Literal["top", "bottom", "best", "worst", "all"]

#: When one name belongs to members of several kinds, the kind people usually mean.
_KIND_PRIORITY = ("channel", "channel_type", "city", "region", "category", "brand", "store", "warehouse", "sku")
_CN_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_TOTAL = re.compile(r"合计|加起来|一共|总共|总和|汇总|\bcombined\b|\btotal\b|\bin total\b|\baltogether\b")
_EACH = re.compile(
    r"各自|分别|各是|各(?=卖|有|是|多少|花|赚)|对比|相比|(?<![a-z])(?:vs\.?|versus|each|respectively|separately|side by side)(?![a-z])"
)
_TREND = re.compile(r"趋势|走势|曲线|怎么变|变化情况|(?<![a-z])trends?(?![a-z])|over time|trajectory|trending")
#: A channel word that names shops ("门店", "实体店", "offline stores"): after "每家" or in a
#: ranking it asks for a store breakdown.
_EVENT_AS_TIME = re.compile(
    r"\s*(?:期间|前后|左右|那几天|那段时间|当天|大促期间|大促|(?:period|season|week|weekend)\b)"
)
_EVENT_AS_PROMOTION = re.compile(r"\s*(?:的)?(?:活动|促销|大促活动|campaigns?\b|promotions?\b|promos?\b)")
_STORE_WORD = re.compile(r"(?:店|店铺|stores?|shops?)$")
#: Between a comparison word and the period it names: "环比Q3", "compared with Q3".
_TARGET_GAP = re.compile(r"\s*(?:的)?\s*$")


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
    promotion_starts: dict[str, dt.date | None] = field(default_factory=dict)  # named by an event word
    promotion_words: list[str] = field(default_factory=list)
    store_word: bool = False  # a channel named by a word for shops ("门店", "offline stores")
    store_marked: bool = False  # ... right after a breakdown marker ("每家实体店")
    rank: Rank | None = None
    share: bool = False  # 占比, mix, % of total
    snapshot: bool = False  # 现在, right now: a point-in-time metric on the last day with data
    scope_word: str | None = None  # 全公司, company-wide: the role's whole scope, not a filter
    distributive: bool = False  # 各, 每个, each, per: one row per member
    event: str | None = None  # the event whose window is the period ("双11期间")
    compare_period: Period | None = None  # an explicit comparison period (the event a year earlier, "环比Q3")
    disjoint: list[Period] = field(default_factory=list)  # periods named with a gap between them ("1月和3月")
    attributes: list[tuple[str, ...]] = field(default_factory=list)  # per word: "supplier.payment_terms_days", ...
    glued: list[tuple[str, str]] = field(default_factory=list)  # a metric word with the unread character after it
    unknown_metric: str | None = None
    why: bool = False
    components: bool = False  # 构成, components: a composite metric with the metrics it is built from
    follow_cue: bool = False
    add_cue: bool = False
    out_of_scope: bool = False
    leftover: str = ""

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


class _Text:
    """The question as normalised characters at their original offsets, with blanking.

    ``text`` is case-folded for matching; ``raw`` keeps the case, which the time parser
    needs ("in March" is a month, "march" may be a verb).
    """

    def __init__(self, question: str) -> None:
        self.times: list[TimeMatch] = []  # the time expressions read, where they stood
        self.raw_chars: list[str] = []
        self.chars: list[str] = []
        for ch in question:
            norm = unicodedata.normalize("NFKC", ch)
            norm = norm if len(norm) == 1 else ch
            folded = norm.casefold()
            self.raw_chars.append(norm)
            self.chars.append(folded if len(folded) == 1 else norm)

    @property
    def text(self) -> str:
        return "".join(self.chars)

    @property
    def raw(self) -> str:
        return "".join(self.raw_chars)

    def blank(self, start: int, end: int) -> None:
        for i in range(start, end):
            self.chars[i] = " "
            self.raw_chars[i] = " "


def parse(question: str, vocabulary: Vocabulary, master: MasterData, today: dt.date) -> Parsed:
    """Slots of ``question``; ``today`` anchors relative time words."""
    work = _Text(question)
    parsed = Parsed()
    original = work.text
    parsed.follow_cue = bool(cues.FOLLOW_UP.search(original.strip()))
    parsed.add_cue = bool(cues.ADD_TO_PREVIOUS.search(original))
    parsed.why = bool(cues.WHY.search(original) or cues.CHANGED.search(original))
    parsed.out_of_scope = bool(cues.OUT_OF_SCOPE.search(original))
    parsed.distributive = bool(cues.DISTRIBUTIVE.search(original))
    _blank_all(work, cues.PASTED_CONTEXT)
    _share_of(work, parsed)
    phrases = vocabulary.phrases
    if phrases.scope_words is not None:
        scope = _blank_all(work, phrases.scope_words)
        parsed.scope_word = scope[0].group(0) if scope else None
    compare_ends = _comparison(work, parsed)
    _time(work, parsed, today, compare_ends)  # before snapshot words: "年初到现在" is a period
    period_end = bool(_blank_all(work, cues.PERIOD_END))
    if parsed.compare is not None:
        _blank_all(work, cues.GROWTH)  # "同比增长了多少", "MoM growth": how the comparison moved
    if phrases.snapshot_words is not None and _blank_all(work, phrases.snapshot_words):
        parsed.snapshot = True
    _events(work, parsed, vocabulary, today)
    _metric_phrases(work, parsed, vocabulary)
    _blank_all(work, cues.OWN_STORE)
    _marked_breakdowns(work, parsed, vocabulary, master)
    word_spans = [(m.start, m.end) for m in vocabulary.find(work.text)]
    _members(work, parsed, master, word_spans)
    _terms(work, parsed, vocabulary)
    if not parsed.metrics and not parsed.ambiguous_metric:
        for pattern, metric_id in phrases.metric_fallbacks:
            if pattern is not None and pattern.search(work.text):
                parsed.metrics.append(metric_id)
                break
    composite = [m for m in parsed.metrics if vocabulary.model.metrics[m].components]
    if composite and _blank_all(work, cues.COMPONENTS):
        parsed.components = True  # "CCC的构成": its parts, not a share of a total
    if _blank_all(work, cues.SHARE) and not all(_is_a_share(vocabulary, m) for m in parsed.metrics or [""]):
        parsed.share = True
    if _blank_all(work, cues.SHARE_EN) and all(vocabulary.model.metrics[m].additive for m in parsed.metrics):
        parsed.share = True  # "their share", "in %": a unit word beside a ratio ("GM %") is no share
    if parsed.share and parsed.ambiguous_metric and set(parsed.ambiguous_metric[1]) & set(parsed.metrics):
        parsed.ambiguous_metric = None  # "库存件数占全部库存的比例": the total of the metric named
    _ranking(work, parsed)
    if not parsed.metrics and parsed.attributes and _blank_all(work, cues.RECENT_FIRST):
        count = cues.MEMBER_COUNT.search(work.text)
        limit = parsed.rank.limit if parsed.rank is not None else None
        if limit is None and count is not None:
            limit = _number(next(g for g in count.groups() if g))
            work.blank(count.start(), count.end())
        parsed.rank = Rank("top", limit)  # "最近上新的5个SKU": the latest dates first
    today_word = parsed.no_days is not None and cues.TODAY.fullmatch(parsed.no_days.label.casefold().strip())
    if today_word and parsed.metrics and all(vocabulary.model.metrics[m].point_in_time for m in parsed.metrics):
        parsed.no_days, parsed.snapshot = None, True  # "units on hand today": the latest day with data
    if period_end and parsed.period is not None and parsed.grain is None:
        parsed.period = Period(start=parsed.period.end, end=parsed.period.end)  # "year-end 2025": 31 December
    _blank_all(work, cues.CHANGED)  # before trend words: "怎么变长了" is a change, not "怎么变"
    if _TREND.search(work.text):
        parsed.trend = True
    _blank_all(work, _TREND)
    _blank_all(work, cues.WHY)
    _blank_all(work, cues.FOLLOW_UP)
    _blank_all(work, cues.ADD_TO_PREVIOUS)
    _blank_all(work, _TOTAL)
    _blank_all(work, _EACH)
    parsed.leftover = " ".join(_leftover(work))
    return parsed


def _leftover(work: _Text) -> list[str]:
    """The words nobody read. Single characters between recognised words are grammar, except next
    to a filler character that is also part of names ("天喵", "精花"): the pair is kept and asked about."""
    text = work.text
    kept = cues.FILLER.sub(lambda m: " " * len(m.group(0)), text)
    words: list[str] = []
    for token in re.finditer(r"\S+", kept):
        start, end, word = token.start(), token.end(), token.group(0)
        if len(word) > 1:
            words.append(word)
            continue
        if not is_cjk(word):
            continue
        before, after = start - 1, end
        filler_neighbour = next(
            (i for i in (before, after) if 0 <= i < len(text) and kept[i] == " " and text[i] in cues.NAME_FILLER),
            None,
        )
        if filler_neighbour is not None:
            words.append(text[min(start, filler_neighbour)] + text[max(start, filler_neighbour)])
    return words


def _share_of(work: _Text, parsed: Parsed) -> None:
    """ "各占营收的几成", "占总销量的比例": a share of total, its total's words read as the metric's."""
    start = cues.SHARE_OF.search(work.text)
    if start is None:
        return
    end = cues.SHARE_END.search(work.text, start.end())
    if end is None or end.start() - start.end() > 12:
        return
    work.blank(start.start(), start.end())
    work.blank(end.start(), end.end())
    parsed.share = True


def _is_a_share(vocabulary: Vocabulary, metric_id: str) -> bool:
    """ "滞销占比", "AR aging over 60 占比": a metric whose own name says share; a share word next
    to it is part of its name, not a share of total."""
    metric = vocabulary.model.metrics.get(metric_id)
    return metric is not None and any(cues.SHARE.search(n.casefold()) for n in (metric.name_zh, metric.name_en))


def _blank_all(work: _Text, pattern: re.Pattern[str]) -> list[re.Match[str]]:
    found = list(pattern.finditer(work.text))
    for m in found:
        work.blank(m.start(), m.end())
    return found


def _comparison(work: _Text, parsed: Parsed) -> list[int]:
    """The comparison asked for; returns where each comparison word ends, for "环比Q3"."""
    for pattern, kind in ((cues.YOY, "yoy"), (cues.POP, "pop")):
        found = _blank_all(work, pattern)
        if found:
            parsed.compare = kind  # type: ignore[assignment]
            return [m.end() for m in found]
    return []


def _time(work: _Text, parsed: Parsed, today: dt.date, compare_ends: list[int] | None = None) -> None:
    found = find_periods(work.raw, today)
    work.times = found
    for m in found:
        work.blank(m.start, m.end)
    matches = _apply_year(found)
    target = _comparison_target(work, matches, compare_ends or [])
    if target is not None:
        matches = [m for m in matches if m is not target]
        _compare_with(parsed, matches, target)
    if not matches:
        return
    empty = [m for m in matches if m.period is None]
    if empty:
        parsed.no_days = empty[0]
        return
    periods = [m.period for m in matches if m.period is not None]
    if len(periods) == 1:
        parsed.period = periods[0]
        return
    ordered = sorted(periods, key=lambda p: p.start)
    if any(b.start != a.end + dt.timedelta(days=1) for a, b in zip(ordered, ordered[1:], strict=False)):
        parsed.disjoint = ordered  # "1月和3月": the span between would add February; the planner asks
    # "2024、2025两年", "1月和3月": the span they cover, one row per named period.
    parsed.period = Period(start=min(p.start for p in periods), end=max(p.end for p in periods))
    parsed.grain = _common_grain(periods)


def _comparison_target(work: _Text, matches: list[TimeMatch], compare_ends: list[int]) -> TimeMatch | None:
    """ "Q4毛利率环比Q3", "Q4 compared with Q3": the period right after a comparison word, when
    another period is the one asked about, is what it is compared with, not a second period."""
    if len(matches) < 2:
        return None
    for m in matches:
        if m.period is None:
            continue
        if any(end <= m.start and _TARGET_GAP.fullmatch(work.text[end : m.start]) for end in compare_ends):
            return m
        word = cues.COMPARE_BEFORE.search(work.text[: m.start])
        if word is not None:
            work.blank(word.start(), word.end())
            return m
        before, after = cues.COMPARE_AROUND
        joined, then = before.search(work.text[: m.start]), after.search(work.text[m.end :])
        if joined is not None and then is not None:
            work.blank(joined.start(), joined.end())
            work.blank(m.end + then.start(), m.end + then.end())
            return m
    return None


def _compare_with(parsed: Parsed, matches: list[TimeMatch], target: TimeMatch) -> None:
    asked = [m.period for m in matches if m.period is not None]
    if len(asked) != 1 or target.period is None:
        return
    period, other = asked[0], target.period
    if period.previous("pop") == other and not _whole_year(period):
        parsed.compare = "pop"
    elif period.previous("yoy") == other:
        parsed.compare = "yoy"
    else:
        parsed.compare = parsed.compare or "pop"
        parsed.compare_period = other


def _events(work: _Text, parsed: Parsed, vocabulary: Vocabulary, today: dt.date) -> None:
    """ "双11期间", "去年618": an event of the model's calendar. Its window is the period unless the
    question gives dates of its own ("双11前后,11月1号至15号"); a year named picks the event's year,
    and a year-on-year comparison reads the same event a year earlier."""
    found = vocabulary.find_events(work.text)
    if not found:
        return
    start, end, event_id = found[0]
    if _EVENT_AS_PROMOTION.match(work.text[end:]):
        return  # "双11活动的促销ROI": the promotions of that name, which master data knows
    for s, e, _ in found:
        work.blank(s, e)
        suffix = _EVENT_AS_TIME.match(work.text[e:])
        if suffix is not None:
            work.blank(e, e + suffix.end())
    parsed.event = event_id
    if parsed.period is not None and not _year_like(parsed.period, today):
        return  # the question's own dates ("2025年双11期间(10月20日至11月11日)")
    years = [_year_before(work, s) for s, _, _ in found]
    year = years[0] or (parsed.period.start.year if parsed.period is not None and len(found) == 1 else None)
    window = vocabulary.model.event_window(event_id, year, today)
    if window is None:
        return
    parsed.period = window
    parsed.grain = None if parsed.grain == "year" else parsed.grain
    other = next((f for f in found[1:] if f[2] == event_id), None)
    if other is not None:
        # "双十一期间…和去年双十一比", "618 vs 去年": the same event of another year is the comparison
        other_year = years[found.index(other)]
        if other_year is None or other_year >= window.start.year:
            other_year = window.start.year - 1  # "去年双十一" next to the latest one: the one before it
        parsed.compare_period = vocabulary.model.event_window(event_id, other_year, today)
        parsed.compare = "yoy" if other_year == window.start.year - 1 else "pop"
        _blank_all(work, cues.COMPARE_AROUND[1])
    if parsed.compare == "yoy" and parsed.compare_period is None:
        parsed.compare_period = vocabulary.model.event_window(event_id, window.start.year - 1, today)


def _year_before(work: _Text, start: int) -> int | None:
    """The year a time word right before an event names ("去年双11", "24年春节"), if one does."""
    for m in work.times:
        if (
            m.period is not None
            and m.end <= start
            and not work.text[m.end : start].strip(" 的")
            and _whole_year(m.period)
        ):
            return m.period.start.year
    return None


def _year_like(period: Period, today: dt.date) -> bool:
    """A whole year, or the current year so far (今年 on 1 December): the year an event is looked up in."""
    ytd = period.start == dt.date(period.end.year, 1, 1) and period.end == today - dt.timedelta(days=1)
    return _whole_year(period) or ytd


def _common_grain(periods: list[Period]) -> str | None:
    for grain, test in (("year", _whole_year), ("quarter", _whole_quarter), ("month", _whole_month)):
        if all(test(p) for p in periods):
            return grain
    return None


def _apply_year(matches: list[TimeMatch]) -> list[TimeMatch]:
    """ "去年12月", "2025年双11期间(10月20日至11月11日)": a whole year named with parts of a year
    that name none (12月, 10月20日至11月11日) gives those parts their year; it is not a period of its own."""
    years = [m for m in matches if m.period is not None and _whole_year(m.period)]
    parts = [m for m in matches if m.period is not None and not m.explicit and not _whole_year(m.period)]
    if len(years) != 1 or not parts:
        return matches
    year = years[0].period
    assert year is not None
    out = []
    for m in parts:
        assert m.period is not None
        shift = year.start.year - m.period.start.year
        period = Period(start=_shift_year(m.period.start, shift), end=_shift_year(m.period.end, shift))
        out.append(TimeMatch(m.start, m.end, period, m.label, True))
    return out


def _whole_year(period: Period) -> bool:
    s, e = period.start, period.end
    return (s.month, s.day, e.month, e.day) == (1, 1, 12, 31) and s.year == e.year


def _whole_quarter(period: Period) -> bool:
    s = period.start
    return s.day == 1 and s.month in (1, 4, 7, 10) and _month_end(period.end) and period.end.month == s.month + 2


def _whole_month(period: Period) -> bool:
    s, e = period.start, period.end
    return s.day == 1 and (s.year, s.month) == (e.year, e.month) and _month_end(e)


def _month_end(day: dt.date) -> bool:
    return (day + dt.timedelta(days=1)).day == 1


def _shift_year(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _metric_phrases(work: _Text, parsed: Parsed, vocabulary: Vocabulary) -> None:
    """Metrics asked for in words ("库存能卖几天", "账龄超过60天的应收占比") and metric-like words
    of things the model does not define ("staff turnover"), from the model's phrase book."""
    phrases = vocabulary.phrases
    for pattern, metric_id in phrases.metric_phrases:
        if pattern is None:
            continue
        found = list(pattern.finditer(work.text))
        for m in found:
            # a pattern with groups names its words; what lies between them ("how many *face mask*
            # units on hand") stays to be read by the others
            spans = [m.span(g) for g in range(1, (pattern.groups or 0) + 1) if m.span(g)[0] >= 0] or [m.span()]
            for start, end in spans:
                work.blank(start, end)
        if found and metric_id not in parsed.metrics:
            parsed.metrics.append(metric_id)
    if phrases.unknown_metrics is not None:
        unknown = _blank_all(work, phrases.unknown_metrics)
        if unknown:
            parsed.unknown_metric = unknown[0].group(0)


def _marked_breakdowns(work: _Text, parsed: Parsed, vocabulary: Vocabulary, master: MasterData) -> None:
    """ "各渠道", "按品类", "by store", "which warehouse": a dimension word after a breakdown marker.
    A word inside a longer member name ("线下" in "每家线下门店") is part of that name."""
    text = work.text
    names = [(m.start, m.end) for m in master.find_mentions(text)]
    for match in vocabulary.find(text):
        dims = [t.value for t in match.values if t.kind == "dimension"]
        if not dims or any(s <= match.start and match.end <= e and e - s > match.end - match.start for s, e in names):
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


def _members(work: _Text, parsed: Parsed, master: MasterData, word_spans: list[tuple[int, int]]) -> None:
    """Filters from member names. A name inside a longer metric or dimension word ("线上" in
    "线上线下", the channel-type dimension) is part of that word, not a filter."""
    text = work.text
    for mention in master.find_mentions(text):
        if any(s <= mention.start and mention.end <= e and e - s > mention.end - mention.start for s, e in word_spans):
            continue
        members = _distinct(mention.candidates)
        exclude = bool(cues.EXCLUDE_BEFORE.search(text[: mention.start]))
        kinds = {m.kind for m in members}
        if kinds == {"promotion"}:  # "双11" names every year's and platform's 双11: all of them
            work.blank(mention.start, mention.end)
            if _EVENT_AS_TIME.match(text[mention.end :]):
                continue  # "双11期间", "双11前后": a time, which the dates of the question give
            parsed.promotion_words.append(mention.text)
            parsed.promotion_starts.update({m.key: m.starts for m in members})
            for member in members:
                _add_filter(parsed, "promotion", member.key, exclude)
            work.blank(mention.start, mention.end)
            continue
        if len(members) > 1 and len(kinds) == len(members):
            members = [min(members, key=lambda m: _KIND_PRIORITY.index(m.kind))]
        if len(members) > 1:
            if parsed.ambiguous_member is None:
                parsed.ambiguous_member = (mention.text, tuple(members))
        else:
            _add_filter(parsed, members[0].kind, members[0].key, exclude)
            if members[0].kind in ("channel", "channel_type") and _STORE_WORD.search(mention.text.casefold()):
                parsed.store_word = True
                parsed.store_marked |= bool(
                    cues.BREAKDOWN_BEFORE.search(text[: mention.start]) or cues.CROSS_AFTER.match(text[mention.end :])
                )
        work.blank(mention.start, mention.end)
        _one_channel_family(parsed)
        if exclude:
            marker = cues.EXCLUDE_BEFORE.search(text[: mention.start])
            if marker is not None:
                work.blank(marker.start(), marker.end())


def _one_channel_family(parsed: Parsed) -> None:
    """ "线上和线下": 线下 alone means the offline channel, but next to 线上 it is the channel type."""
    types = next((f for f in parsed.filters if f.dimension == "channel_type"), None)
    channels = next((f for f in parsed.filters if f.dimension == "channel"), None)
    if (
        types is not None
        and channels is not None
        and channels.members == ["offline"]
        and types.exclude == channels.exclude
    ):
        types.members.append("offline")
        parsed.filters.remove(channels)


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
    either: list[tuple[str, str, bool]] = []  # a word that is a member and a dimension: (member, dimension, exclude)
    for match in vocabulary.find(work.text):
        metrics = tuple(t.value for t in match.values if t.kind == "metric")
        grains = [t.value for t in match.values if t.kind == "grain"]
        dims = [t.value for t in match.values if t.kind == "dimension"]
        attributes = tuple(t.value for t in match.values if t.kind == "attribute")
        members = [t.value for t in match.values if t.kind == "member"]
        if attributes:
            parsed.attributes.append(attributes)
        if members and not metrics:  # a member the model declares: "经销商" is customer_type distributor
            exclude = bool(cues.EXCLUDE_BEFORE.search(work.text[: match.start]))
            if dims:
                either.append((members[0], dims[0], exclude))
            else:
                dimension, _, code = members[0].partition(".")
                _add_filter(parsed, dimension, code, exclude)
        elif len(metrics) > 1:
            parsed.ambiguous_metric = parsed.ambiguous_metric or (match.text, metrics)
        elif metrics:
            if metrics[0] not in parsed.metrics and not _part_of_a_stock(vocabulary, match.text, parsed.metrics):
                parsed.metrics.append(metrics[0])
            after = work.text[match.end : match.end + 1]
            if after and is_cjk(after):  # "毛利律": the planner checks whether 毛利律 is a typo of another name
                parsed.glued.append((match.text + after, metrics[0]))
        elif grains:
            parsed.grain = grains[0]
        elif (
            dims
            and dims[0] not in parsed.dimensions
            and not any(_same_kind(f.dimension, dims[0]) for f in parsed.filters)
        ):
            parsed.dimensions.append(dims[0])  # "面膜品类", "电商渠道": the word names the filter's kind
        work.blank(match.start, match.end)
    for member, dimension_word, exclude in either:
        # "平台": the platform customers for AR, the channel breakdown for a sales metric
        dimension, _, code = member.partition(".")
        if all(dimension in vocabulary.model.metric_dimensions(m) for m in parsed.metrics):
            _add_filter(parsed, dimension, code, exclude)
        elif dimension_word not in parsed.dimensions:
            parsed.dimensions.append(dimension_word)


def _part_of_a_stock(vocabulary: Vocabulary, word: str, metrics: list[str]) -> bool:
    """ "units" in "How many units are in transit": a word of a stock's name already read, not units sold."""
    word = word.casefold().strip()
    for metric_id in metrics:
        metric = vocabulary.model.metrics[metric_id]
        if metric.point_in_time and any(
            word in n.casefold() and word != n.casefold() for n in (metric.name_zh, metric.name_en, *metric.synonyms)
        ):
            return True
    return False


def _same_kind(a: str, b: str) -> bool:
    channel = {"channel", "channel_type"}
    return a == b or (a in channel and b in channel)


_EN_DIGITS = {
    w: i for i, w in enumerate(["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"], 1)
}


def _number(text: str | None) -> int | None:
    if not text:
        return None
    if text.isdigit():
        return int(text)
    if text.casefold() in _EN_DIGITS:
        return _EN_DIGITS[text.casefold()]
    if text == "十":
        return 10
    if "十" in text:
        tens, _, ones = text.partition("十")
        return (_CN_DIGITS.get(tens, 1) if tens else 1) * 10 + (_CN_DIGITS.get(ones, 0) if ones else 0)
    return _CN_DIGITS.get(text)


def _ranking(work: _Text, parsed: Parsed) -> None:
    numbered: tuple[tuple[re.Pattern[str], RankKind], ...] = (
        (cues.WORST_N, "worst"),
        (cues.BOTTOM_N, "bottom"),  # before TOP_N: "倒数前三" is the bottom three
        (cues.TOP_N, "top"),
    )
    for pattern, kind in numbered:
        m = pattern.search(work.text)
        if m:
            n = _number(next((g for g in m.groups() if g), None))
            parsed.rank = Rank("best" if kind == "top" and "best" in m.group(0) else kind, n)
            work.blank(m.start(), m.end())
            for word in (cues.HIGHEST, cues.LOWEST, cues.WORST):
                _blank_all(work, word)
            return
    superlatives: tuple[tuple[re.Pattern[str], RankKind], ...] = (
        (cues.WORST, "worst"),
        (cues.LOWEST, "bottom"),
        (cues.HIGHEST, "top"),
    )
    for pattern, kind in superlatives:
        if _blank_all(work, pattern):
            if parsed.rank is None or parsed.rank.kind == "best":
                parsed.rank = Rank(kind, 1)
            return
    if _blank_all(work, cues.RANK_ALL) and parsed.rank is None:
        parsed.rank = Rank("all", None)


def wants_total(question: str) -> bool:
    return bool(_TOTAL.search(question.casefold()))


def wants_each(question: str) -> bool:
    return bool(_EACH.search(question.casefold()))
