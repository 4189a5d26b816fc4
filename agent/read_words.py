"""Recognisers of what: metric phrases and names, breakdowns, members, shares, rankings.

Every domain word comes from the model (names, synonyms, the phrase book, the dimension roles);
these functions only know how such words are used in a question.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from agent import cues
from agent.read_time import event_as_time
from agent.reading import Parsed, Rank, RankKind
from agent.recognition import Context, Span
from agent.vocabulary import is_cjk
from semantic_layer.master_data import Candidate, Member, Mention

# -- the model's phrase book ------------------------------------------------------------------------


def share_of(reading: Parsed, context: Context) -> list[Span]:
    """ "各占营收的几成", "占总销量的比例": a share of total, its total's words read as the metric's."""
    text = context.work.text
    start = cues.SHARE_OF.search(text)
    if start is None:
        return []
    end = cues.SHARE_END.search(text, start.end())
    if end is None or end.start() - start.end() > 12:
        return []
    return [Span(start.start(), start.end(), {"share": True}, also=(end.span(),))]


def scope_words(reading: Parsed, context: Context) -> list[Span]:
    """ "全公司", "company-wide": the role's whole scope, never a filter."""
    pattern = context.vocabulary.phrases.scope_words
    found = list(pattern.finditer(context.work.text)) if pattern is not None else []
    return [Span(m.start(), m.end(), {"scope_word": found[0].group(0)}) for m in found]


def snapshot_words(reading: Parsed, context: Context) -> list[Span]:
    pattern = context.vocabulary.phrases.snapshot_words
    found = pattern.finditer(context.work.text) if pattern is not None else ()
    return [Span(m.start(), m.end(), {"snapshot": True}) for m in found]


def metric_phrases(reading: Parsed, context: Context) -> list[Span]:
    """Metrics asked for in words ("库存能卖几天", "账龄超过60天的应收占比"). A pattern with groups
    names its words; what lies between them ("how many *face mask* units on hand") stays to be read."""
    spans = []
    for pattern, metric_id in context.vocabulary.phrases.metric_phrases:
        if pattern is None:
            continue
        for m in pattern.finditer(context.work.text):
            groups = [m.span(g) for g in range(1, (pattern.groups or 0) + 1) if m.span(g)[0] >= 0] or [m.span()]
            (start, end), *rest = groups
            spans.append(Span(start, end, _adds_metric(metric_id, m.span()), also=tuple(rest)))
    return spans


def unknown_metrics(reading: Parsed, context: Context) -> list[Span]:
    """Metric-like words the model does not define ("staff turnover"): noticed, never a synonym's metric."""
    pattern = context.vocabulary.phrases.unknown_metrics
    found = pattern.finditer(context.work.text) if pattern is not None else ()
    return [Span(m.start(), m.end(), _unknown(m.group(0))) for m in found]


def _unknown(word: str) -> Any:
    return lambda r, c: {} if r.unknown_metric else {"unknown_metric": word}


def _adds_metric(metric_id: str, span: tuple[int, int]) -> Any:
    return lambda r, c: {
        "metrics": r.with_metric(metric_id),
        "metric_spans": (*r.metric_spans, (*span, True, metric_id)),
    }


def metric_fallbacks(reading: Parsed, context: Context) -> list[Span]:
    """ "卖了多少件": a metric only when no metric was named; the words stay for the others."""
    if reading.metrics or reading.ambiguous_metric:
        return []
    for pattern, metric_id in context.vocabulary.phrases.metric_fallbacks:
        if pattern is not None and pattern.search(context.work.text):
            return [Span(0, 0, {"metrics": (metric_id,)})]
    return []


# -- the words stage: breakdowns, members and the model's names compete longest-first -------------


def marked_breakdowns(reading: Parsed, context: Context) -> list[Span]:
    """ "各渠道", "按品类", "by store", "which warehouse": a dimension word after a breakdown marker.
    The span is the word; a longer member name around it ("线下门店" in "每家线下门店") wins."""
    text = context.work.text
    spans = []
    for match in context.vocabulary.find(text):
        dims = [t.value for t in match.values if t.kind == "dimension"]
        marker = cues.BREAKDOWN_BEFORE.search(text[: match.start]) if dims else None
        if marker is not None:
            update = (lambda d: lambda r, c: {"dimensions": r.with_dimension(d)})(dims[0])
            spans.append(Span(match.start, match.end, update, also=((marker.start(), match.start),)))
    return spans


def members(reading: Parsed, context: Context) -> list[Span]:
    """Filters from member names; a name inside a longer metric or dimension word ("线上" in
    "线上线下", the channel-type dimension) loses to that word."""
    text = context.work.text
    spans = []
    for mention in context.master.find_mentions(text):
        before = cues.EXCLUDE_BEFORE.search(text[: mention.start])
        after = _left_out_after(text, mention.end)
        exclude = before is not None or after is not None
        every = _distinct(mention.candidates)
        if {m.kind for m in every} <= set(context.vocabulary.roles.named_all):
            update = None if event_as_time(text[mention.end :]) else _all_named(mention, every, exclude)
            spans.append(Span(mention.start, mention.end, update))
            continue
        marker = tuple(span for span in (before.span() if before is not None else None, after) if span is not None)
        spans.append(Span(mention.start, mention.end, _member(mention, every, exclude, text), also=marker))
    return spans


def _left_out_after(text: str, end: int) -> tuple[int, int] | None:
    """Where the words after a name at ``end`` leave it out ("精华以外"), in ``text``; None if they do not."""
    found = cues.EXCLUDE_AFTER.search(text[end:])
    return (end + found.start(), end + found.end()) if found is not None else None


def _all_named(mention: Mention, every: list[Member], exclude: bool) -> Any:
    """ "双11" names every year's and platform's 双11: all of them, narrowed to the period later."""

    def update(reading: Parsed, context: Context) -> Mapping[str, Any]:
        filters = reading.filters
        for member in every:
            filters = reading.model_copy(update={"filters": filters}).with_filter(member.kind, member.key, exclude)
        return {
            "filters": filters,
            "promotion_words": (*reading.promotion_words, mention.text),
            "promotion_starts": (*reading.promotion_starts, *((m.key, m.starts) for m in every)),
        }

    return update


def _member(mention: Mention, every: list[Member], exclude: bool, text: str) -> Any:
    def update(reading: Parsed, context: Context) -> Mapping[str, Any]:
        roles = context.vocabulary.roles
        candidates = every
        if len(candidates) > 1 and len({m.kind for m in candidates}) == len(candidates):
            candidates = [min(candidates, key=lambda m: roles.priority(m.kind))]
        if len(candidates) > 1:
            return {} if reading.ambiguous_member else {"ambiguous_member": (mention.text, tuple(candidates))}
        member = candidates[0]
        out: dict[str, Any] = {"filters": reading.with_filter(member.kind, member.key, exclude)}
        if roles.names_outlets(member.kind, mention.text):
            marked = cues.BREAKDOWN_BEFORE.search(text[: mention.start]) or cues.CROSS_AFTER.match(text[mention.end :])
            out.update(store_word=True, store_marked=reading.store_marked or bool(marked))
        return out

    return update


def settle_families(reading: Parsed, context: Context) -> Mapping[str, Any]:
    """ "线上和线下": 线下 alone names a fine member (the offline channel), but next to a member of
    the coarse dimension (线上) it is the coarse one; and a word that is both a member and a
    dimension ("平台") filters when every metric can take it, else breaks down by it."""
    roles, master = context.vocabulary.roles, context.master
    filters = list(reading.filters)
    for coarse_dim, fine_dim in roles.families:
        coarse = next((f for f in filters if f.dimension == coarse_dim), None)
        fine = next((f for f in filters if f.dimension == fine_dim), None)
        if coarse is None or fine is None or coarse.exclude != fine.exclude:
            continue
        keys = {m.key for m in master.members(coarse_dim)}
        if fine.members and set(fine.members) <= keys:
            filters[filters.index(coarse)] = coarse.model_copy(
                update={"members": [*coarse.members, *(k for k in fine.members if k not in coarse.members)]}
            )
            filters.remove(fine)
    update: dict[str, Any] = {"filters": tuple(filters)}
    dimensions = reading.dimensions
    model = context.vocabulary.model
    for member, dimension_word, exclude in reading.either:
        dimension, _, code = member.partition(".")
        if all(dimension in model.metric_dimensions(m) for m in reading.metrics):
            update["filters"] = reading.model_copy(update=update).with_filter(dimension, code, exclude)
        elif dimension_word not in dimensions:
            dimensions = (*dimensions, dimension_word)
    return {**update, "dimensions": dimensions, "either": ()}


def _distinct(candidates: tuple[Candidate, ...]) -> list[Member]:
    seen: list[Member] = []
    for c in candidates:
        if c.member not in seen:
            seen.append(c.member)
    return seen


def terms(reading: Parsed, context: Context) -> list[Span]:
    """The model's names: metrics, grains, dimensions, attributes and members it declares."""
    text = context.work.text
    spans = []
    for match in context.vocabulary.find(text):
        named = any(t.kind == "member" for t in match.values)
        after = _left_out_after(text, match.end) if named else None
        exclude = bool(cues.EXCLUDE_BEFORE.search(text[: match.start])) or after is not None
        marker = (after,) if after is not None else ()
        update = _term(match.text, match.start, match.end, match.values, exclude)
        spans.append(Span(match.start, match.end, update, also=marker))
    return spans


def _term(word: str, start: int, end: int, values: tuple[Any, ...], exclude: bool) -> Any:
    def update(reading: Parsed, context: Context) -> Mapping[str, Any]:
        metrics = tuple(t.value for t in values if t.kind == "metric")
        grains = [t.value for t in values if t.kind == "grain"]
        dims = [t.value for t in values if t.kind == "dimension"]
        attributes = tuple(t.value for t in values if t.kind == "attribute")
        named = [t.value for t in values if t.kind == "member"]
        out: dict[str, Any] = {"attributes": (*reading.attributes, attributes)} if attributes else {}
        if attributes and len(attributes) == len(values):
            out["attribute_words"] = (*reading.attribute_words, word)
        if named and not metrics:  # a member the model declares: "经销商" is customer_type distributor
            if dims:
                return {**out, "either": (*reading.either, (named[0], dims[0], exclude))}
            dimension, _, code = named[0].partition(".")
            return {**out, "filters": reading.with_filter(dimension, code, exclude)}
        if len(metrics) > 1:
            return {**out, "ambiguous_metric": reading.ambiguous_metric or (word, metrics)}
        if metrics:
            if not _part_of_a_stock(context, word, reading.metrics):
                out["metrics"] = reading.with_metric(metrics[0])
                out["metric_spans"] = (*reading.metric_spans, (start, end, False, metrics[0]))
            after = context.work.text[end : end + 1]
            if after and is_cjk(after):  # "毛利律": the planner checks whether 毛利律 is a typo of another name
                out["glued"] = (*reading.glued, (word + after, metrics[0]))
            return out
        if grains:
            return {**out, "grain": grains[0]}
        families = context.vocabulary.roles.family_of
        if (
            dims
            and dims[0] not in reading.dimensions
            and not any(families(f.dimension) == families(dims[0]) for f in reading.filters)
        ):
            out["dimensions"] = (
                *reading.dimensions,
                dims[0],
            )  # "面膜品类", "电商渠道": the word names the filter's kind
        return out

    return update


def _part_of_a_stock(context: Context, word: str, metrics: tuple[str, ...]) -> bool:
    """ "units" in "How many units are in transit": a word of a stock's name already read, not units sold."""
    word = word.casefold().strip()
    for metric_id in metrics:
        metric = context.vocabulary.model.metrics[metric_id]
        if metric.point_in_time and any(
            word in n.casefold() and word != n.casefold() for n in (metric.name_zh, metric.name_en, *metric.synonyms)
        ):
            return True
    return False


def dimension_date(reading: Parsed, context: Context) -> list[Span]:
    """ "哪天", "which month": the best bucket of a grain."""
    return [Span(m.start(), m.end(), _date_grain(m.group(0))) for m in cues.DIMENSION_DATE.finditer(context.work.text)]


def _date_grain(words: str) -> Any:
    grain = "year" if "year" in words else "month"
    for name, marks in (("day", ("天", "day")), ("week", ("周", "week")), ("quarter", ("季", "quarter"))):
        if any(mark in words for mark in marks):
            grain = name
            break
    return lambda r, c: {"grain": grain, "rank": r.rank or Rank("best", 1)}


# -- modifiers once the metrics are known --------------------------------------------------------


def components(reading: Parsed, context: Context) -> list[Span]:
    """ "CCC的构成": a composite metric's parts beside it, not a share of a total."""
    model = context.vocabulary.model
    if not any(model.metrics[m].components for m in reading.metrics):
        return []
    return [Span(m.start(), m.end(), {"components": True}) for m in cues.COMPONENTS.finditer(context.work.text)]


def share_words(reading: Parsed, context: Context) -> list[Span]:
    """ "占比", "mix": a share of total, unless the metric's own name says share ("滞销占比")."""
    own = all(_is_a_share(context, m) for m in reading.metrics or ("",))
    return [Span(m.start(), m.end(), {} if own else {"share": True}) for m in cues.SHARE.finditer(context.work.text)]


def share_words_en(reading: Parsed, context: Context) -> list[Span]:
    """ "their share", "in %": a unit word beside a ratio ("GM %") is no share."""
    model = context.vocabulary.model
    additive = all(model.metrics[m].additive for m in reading.metrics)
    found = cues.SHARE_EN.finditer(context.work.text)
    return [Span(m.start(), m.end(), {"share": True} if additive else {}) for m in found]


def settle_share(reading: Parsed, context: Context) -> Mapping[str, Any]:
    if reading.share and reading.ambiguous_metric and set(reading.ambiguous_metric[1]) & set(reading.metrics):
        return {"ambiguous_metric": None}  # "库存件数占全部库存的比例": the total of the metric named
    return {}


def _is_a_share(context: Context, metric_id: str) -> bool:
    metric = context.vocabulary.model.metrics.get(metric_id)
    return metric is not None and any(cues.SHARE.search(n.casefold()) for n in (metric.name_zh, metric.name_en))


_NUMBERED: tuple[tuple[re.Pattern[str], RankKind], ...] = (
    (cues.WORST_N, "worst"),
    (cues.BOTTOM_N, "bottom"),
    (cues.TOP_N, "top"),
)
_SUPERLATIVES: tuple[tuple[re.Pattern[str], RankKind], ...] = (
    (cues.WORST, "worst"),
    (cues.LOWEST, "bottom"),
    (cues.HIGHEST, "top"),
)


def superlatives(reading: Parsed, context: Context) -> list[Span]:
    """ "最高", "lowest": the one best or worst. Beside a numbered ranking they are its words; alone,
    the first kind found is read and another kind is left for the coverage rule ("最高和最低")."""
    text = context.work.text
    if any(p.search(text) for p, _ in _NUMBERED):
        return [Span(m.start(), m.end()) for p, _ in _SUPERLATIVES for m in p.finditer(text)]
    for pattern, kind in _SUPERLATIVES:
        found = list(pattern.finditer(text))
        if found:
            rank = (lambda k: lambda r, c: {"rank": Rank(k, 1)} if r.rank is None or r.rank.kind == "best" else {})(
                kind
            )
            return [Span(m.start(), m.end(), rank) for m in found]
    return []


def numbered_rankings(reading: Parsed, context: Context) -> list[Span]:
    """ "前5", "倒数前三", "worst 3": the longest reading wins ("倒数前三" is the bottom three)."""
    spans = []
    for pattern, kind in _NUMBERED:
        m = pattern.search(context.work.text)
        if m is not None:
            n = number(next((g for g in m.groups() if g), None))
            rank = Rank("best" if kind == "top" and "best" in m.group(0) else kind, n)
            spans.append(Span(m.start(), m.end(), {"rank": rank}))
    return spans


def rank_all(reading: Parsed, context: Context) -> list[Span]:
    """ "排名", "ranking": every member in order, when no other ranking word says how many."""
    text = context.work.text
    if any(p.search(text) for p, _ in (*_NUMBERED, *_SUPERLATIVES)):
        return []
    return [
        Span(m.start(), m.end(), lambda r, c: {"rank": r.rank or Rank("all", None)})
        for m in cues.RANK_ALL.finditer(text)
    ]


def recent_first(reading: Parsed, context: Context) -> list[Span]:
    """ "最近上新的5个SKU": members listed latest date first, in an attribute listing only."""
    if reading.metrics or not reading.attributes:
        return []
    text = context.work.text
    found = list(cues.RECENT_FIRST.finditer(text))
    if not found:
        return []
    count = cues.MEMBER_COUNT.search(text)
    limit = reading.rank.limit if reading.rank is not None else None
    also: tuple[tuple[int, int], ...] = ()
    if limit is None and count is not None:
        limit = number(next(g for g in count.groups() if g))
        also = (count.span(),)
    spans = [Span(m.start(), m.end()) for m in found[1:]]
    return [Span(found[0].start(), found[0].end(), {"rank": Rank("top", limit)}, also=also), *spans]


_CN_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_EN_DIGITS = {
    w: i for i, w in enumerate(["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"], 1)
}


def number(text: str | None) -> int | None:
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
