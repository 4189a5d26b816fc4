"""Recognisers of when: comparisons, periods, period ends and the model's event calendar."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from agent import cues
from agent.reading import Parsed
from agent.recognition import Context, Span
from agent.time_expressions import TimeMatch, find_periods
from semantic_layer.query import Period


def event_as_time(text: str) -> bool:
    """ "双11期间", "双11前后": the event word names a time, not the promotions of that name."""
    return cues.EVENT_AS_TIME.match(text) is not None


def comparison(reading: Parsed, context: Context) -> list[Span]:
    """同比 / 环比 and their English words; a year-on-year word wins, a period-on-period one is
    read only when there is none (both in one question stay for the coverage rule to ask)."""
    text = context.work.text
    for pattern, kind in ((cues.YOY, "yoy"), (cues.POP, "pop")):
        found = list(pattern.finditer(text))
        if found:
            context.work.compare_ends = [m.end() for m in found]
            return [Span(m.start(), m.end(), {"compare": kind}) for m in found]
    return []


def periods(reading: Parsed, context: Context) -> list[Span]:
    """Every time expression, read together: one named period, a span of several ("2024、2025两年"),
    a period it is compared with ("Q4毛利率环比Q3"), or the disjoint periods the planner asks about."""
    work = context.work
    found = find_periods(work.raw, context.today)
    work.times = found
    if not found:
        return []
    text = list(work.text)
    for m in found:
        text[m.start : m.end] = " " * (m.end - m.start)
    matches = _apply_year(found)
    target, words = _comparison_target("".join(text), matches, work.compare_ends)
    update: dict[str, Any] = {}
    if target is not None:
        matches = [m for m in matches if m is not target]
        update.update(_compare_with(reading, matches, target))
    update.update(_asked_periods(matches))
    ranges = tuple((m.start, m.end) for m in found) + words
    return [Span(0, 0, update, also=ranges)]


def _asked_periods(matches: list[TimeMatch]) -> dict[str, Any]:
    if not matches:
        return {}
    empty = [m for m in matches if m.period is None]
    if empty:
        return {"no_days": empty[0]}
    periods = [m.period for m in matches if m.period is not None]
    if len(periods) == 1:
        return {"period": periods[0]}
    ordered = sorted(periods, key=lambda p: p.start)
    update: dict[str, Any] = {}
    if any(b.start != a.end + dt.timedelta(days=1) for a, b in zip(ordered, ordered[1:], strict=False)):
        update["disjoint"] = tuple(ordered)  # "1月和3月": the span between would add February; the planner asks
    # "2024、2025两年", "1月和3月": the span they cover, one row per named period.
    update["period"] = Period(start=min(p.start for p in periods), end=max(p.end for p in periods))
    update["grain"] = _common_grain(periods)
    return update


def _comparison_target(
    text: str, matches: list[TimeMatch], compare_ends: list[int]
) -> tuple[TimeMatch | None, tuple[tuple[int, int], ...]]:
    """ "Q4毛利率环比Q3", "Q4 compared with Q3": the period right after a comparison word, when
    another period is the one asked about, is what it is compared with, not a second period.
    Returns it with the comparison words around it ("跟…比") that it consumes."""
    if len(matches) < 2:
        return None, ()
    for m in matches:
        if m.period is None:
            continue
        if any(end <= m.start and cues.TARGET_GAP.fullmatch(text[end : m.start]) for end in compare_ends):
            return m, ()
        word = cues.COMPARE_BEFORE.search(text[: m.start])
        if word is not None:
            return m, (word.span(),)
        before, after = cues.COMPARE_AROUND
        joined, then = before.search(text[: m.start]), after.search(text[m.end :])
        if joined is not None and then is not None:
            return m, (joined.span(), (m.end + then.start(), m.end + then.end()))
    return None, ()


def _compare_with(reading: Parsed, matches: list[TimeMatch], target: TimeMatch) -> dict[str, Any]:
    asked = [m.period for m in matches if m.period is not None]
    if len(asked) != 1 or target.period is None:
        return {}
    period, other = asked[0], target.period
    if period.previous("pop") == other and not _whole_year(period):
        return {"compare": "pop"}
    if period.previous("yoy") == other:
        return {"compare": "yoy"}
    return {"compare": reading.compare or "pop", "compare_period": other}


def growth(reading: Parsed, context: Context) -> list[Span]:
    """ "同比增长了多少", "MoM growth": how a comparison moved, part of a comparison already read."""
    if reading.compare is None:
        return []
    return [Span(m.start(), m.end()) for m in cues.GROWTH.finditer(context.work.text)]


def events(reading: Parsed, context: Context) -> list[Span]:
    """ "双11期间", "去年618": an event of the model's calendar. Its window is the period unless the
    question gives dates of its own ("双11前后,11月1号至15号"); a year named picks the event's year,
    and a year-on-year comparison reads the same event a year earlier."""
    text = context.work.text
    found = context.vocabulary.find_events(text)
    if not found or cues.EVENT_AS_PROMOTION.match(text[found[0][1] :]):
        return []  # "双11活动的促销ROI": the promotions of that name, which master data knows
    ranges: list[tuple[int, int]] = []
    for s, e, _ in found:
        suffix = cues.EVENT_AS_TIME.match(text[e:])
        ranges.append((s, e + (suffix.end() if suffix is not None else 0)))
    if any(f[2] == found[0][2] for f in found[1:]):
        blanked = list(text)  # "双十一…和去年双十一比": the 比 closing the comparison, once the events are read
        for s, e in ranges:
            blanked[s:e] = " " * (e - s)
        ranges += [m.span() for m in cues.COMPARE_AROUND[1].finditer("".join(blanked))]
    return [Span(0, 0, lambda r, c: _event_window(r, c, found), also=tuple(ranges))]


def _event_window(reading: Parsed, context: Context, found: list[tuple[int, int, str]]) -> Mapping[str, Any]:
    today, model = context.today, context.vocabulary.model
    event_id = found[0][2]
    update: dict[str, Any] = {"event": event_id}
    if reading.period is not None and not _year_like(reading.period, today):
        return update  # the question's own dates ("2025年双11期间(10月20日至11月11日)")
    years = [_year_before(context, s) for s, _, _ in found]
    year = years[0] or (reading.period.start.year if reading.period is not None and len(found) == 1 else None)
    window = model.event_window(event_id, year, today)
    if window is None:
        return update
    update["period"] = window
    update["grain"] = None if reading.grain == "year" else reading.grain
    compare, compare_period = reading.compare, reading.compare_period
    other = next((f for f in found[1:] if f[2] == event_id), None)
    if other is not None:
        # "双十一期间…和去年双十一比", "618 vs 去年": the same event of another year is the comparison
        other_year = years[found.index(other)]
        if other_year is None or other_year >= window.start.year:
            other_year = window.start.year - 1  # "去年双十一" next to the latest one: the one before it
        compare_period = model.event_window(event_id, other_year, today)
        compare = "yoy" if other_year == window.start.year - 1 else "pop"
    if compare == "yoy" and compare_period is None:
        compare_period = model.event_window(event_id, window.start.year - 1, today)
    return {**update, "compare": compare, "compare_period": compare_period}


def _year_before(context: Context, start: int) -> int | None:
    """The year a time word right before an event names ("去年双11", "24年春节"), if one does."""
    text = context.work.text
    for m in context.work.times:
        if m.period is not None and m.end <= start and not text[m.end : start].strip(" 的") and _whole_year(m.period):
            return m.period.start.year
    return None


def period_end(reading: Parsed, context: Context) -> list[Span]:
    """ "每个月月底", "year-end 2025": the period's last day (each bucket's with a grain)."""
    return [Span(m.start(), m.end(), {"period_end": True}) for m in cues.PERIOD_END.finditer(context.work.text)]


def settle_period_end(reading: Parsed, context: Context) -> Mapping[str, Any]:
    """A stock asked "today" is read on the latest day with data; "year-end 2025" is 31 December."""
    update: dict[str, Any] = {}
    model = context.vocabulary.model
    no_days = reading.no_days
    today_word = no_days is not None and cues.TODAY.fullmatch(no_days.label.casefold().strip())
    if today_word and reading.metrics and all(model.metrics[m].point_in_time for m in reading.metrics):
        update.update(no_days=None, snapshot=True)  # "units on hand today": the latest day with data
    if reading.period_end and reading.period is not None and reading.grain is None:
        update["period"] = Period(start=reading.period.end, end=reading.period.end)
    return update


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
