"""Find the time expressions in a question and resolve them to periods of whole days.

Business users write 上个月, "last 30 days", 2025年1月到3月, "Q3 2025", 截至上个月底, and mixes of them.
:func:`find_periods` returns every such expression with its span in the question, so the
planner can both use the period and blank the words out before reading the rest.

How it works, in three passes over a character-by-character NFKC copy of the question (so
２０２５年 reads as 2025年 while the offsets still point into the original):

1. *Atoms.* A table of regular expressions, each with a builder that turns a match into an
   :class:`_Atom`: a first and a last calendar :class:`_Unit` (a day, ISO week, month, quarter,
   half or year), whose year may be left open (bare 3月, Q3). All candidates of all patterns
   are collected and the longest win; ties go to the earlier one.
2. *Combinations.* Words around atoms change them: 底/末/"end of" keep only the last day,
   到/至/-/to/"between ... and" join two atoms into one range, 截至/"as of" reach back to 1
   January of that year, 以来/至今/since run to yesterday.
3. *Resolution.* Open years are filled in (a bare unit is the latest one that began before
   today, a bare range the latest whose every unit has; a range's open end takes its year
   from the other end), then every period is cut at yesterday: no period includes ``today``,
   and one with no day left is ``None``.

Grain words (按月, monthly), compare phrases (同比, vs last year), rankings (前10, top 5) and
numbers in product names (面膜10片装, 400ml) are deliberately not time expressions.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from agent.regex_cache import PatternSet
from semantic_layer.query import Period

__all__ = ["TimeMatch", "find_periods"]

_ONE_DAY = dt.timedelta(days=1)
#: The patterns below, compiled together on first use (from the disk cache when it has them).
_PATTERNS = PatternSet("time-expressions")


@dataclass(frozen=True, slots=True)
class TimeMatch:
    """One time expression: ``question[start:end] == label``."""

    start: int
    end: int
    period: Period | None  # None: the period has no day before today (本月 on the 1st): "no data yet"
    label: str
    explicit: bool  # names a year or an absolute date (2025年3月, Q3 2025), not a relative word or bare month


# --- the calendar --------------------------------------------------------------------------------

_Kind = Literal["day", "week", "month", "quarter", "half", "year"]
_MONTHS_IN: dict[_Kind, int] = {"month": 1, "quarter": 3, "half": 6, "year": 12}


def _add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later (earlier when negative), clamped to the month's end: 2024-03-31 - 1 is 02-29."""
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


@dataclass(frozen=True, slots=True)
class _Unit:
    """A calendar unit as the text names it; ``year`` is None when the text leaves it open (3月, Q3)."""

    kind: _Kind
    year: int | None
    number: int = 1  # the month (for days too), ISO week, quarter or half; 1 for a year
    day: int = 1

    def bounds(self, year: int) -> tuple[dt.date, dt.date]:
        """First and last day in ``year``; ValueError when it does not exist (2月30日, week 53 of 2025)."""
        if self.kind == "day":
            day = dt.date(year, self.number, self.day)
            return day, day
        if self.kind == "week":
            monday = dt.date.fromisocalendar(year, self.number, 1)
            return monday, monday + 6 * _ONE_DAY
        months = _MONTHS_IN[self.kind]
        first = dt.date(year, (self.number - 1) * months + 1, 1)
        return first, _add_months(first, months) - _ONE_DAY


def _day(day: dt.date) -> _Unit:
    return _Unit("day", day.year, day.month, day.day)


@dataclass(frozen=True, slots=True)
class _Atom:
    """From the start of ``first`` to the end of ``last``, before the words around it are read."""

    first: _Unit
    last: _Unit
    explicit: bool
    end_only: bool = False  # 上个月底, end of 2024: just the last day
    mode: Literal["span", "year_to", "since"] = "span"  # 截至 X: 1 January .. X; X 以来: X .. yesterday


def _single(unit: _Unit, explicit: bool) -> _Atom:
    return _Atom(unit, unit, explicit)


def _days(first: dt.date, last: dt.date) -> _Atom:
    return _Atom(_day(first), _day(last), explicit=False)


def _latest_year(unit: _Unit, today: dt.date) -> int:
    """The latest year in which ``unit`` begins before today: bare 3月 on 2026-01-01 is March 2025."""
    for year in range(today.year + 1, today.year - 9, -1):  # +1: ISO week 1 may begin in December
        try:
            if unit.bounds(year)[0] < today:
                return year
        except ValueError:  # 2月29日 in a common year: look further back
            continue
    raise ValueError(f"{unit} never began before {today}")


def _wraps(first: _Unit, last: _Unit, year: int) -> int:
    """1 when ``last`` comes before ``first`` in one year (11月到2月): it belongs to the next year."""
    return int(last.bounds(year)[0] < first.bounds(year)[0])


def _span(atom: _Atom, today: dt.date) -> tuple[dt.date, dt.date] | None:
    """The days the atom names, not yet cut at yesterday; None when they do not exist (2025-02-30)."""
    first, last = atom.first, atom.last
    try:
        if first.year is not None and last.year is not None:
            first_year, last_year = first.year, last.year
        elif first.year is not None:
            first_year = first.year
            last_year = first_year + _wraps(first, last, first_year)
        else:  # from the end: a bare range is the latest whose every unit has begun (前三季度 in January: last year's)
            last_year = last.year if last.year is not None else _latest_year(last, today)
            first_year = last_year - _wraps(first, last, last_year)
        start, end = first.bounds(first_year)[0], last.bounds(last_year)[1]
    except ValueError:
        return None
    if atom.end_only:
        start = end
    if start > end:
        return None
    if atom.mode == "year_to":
        start = dt.date(end.year, 1, 1)
    elif atom.mode == "since":
        end = today
    return start, end


def _period(atom: _Atom, today: dt.date) -> Period | None:
    """The atom's days cut at yesterday; None when none is left (今天, 本月 on the 1st, next month)."""
    span = _span(atom, today)
    if span is None:
        return None
    start, end = span[0], min(span[1], today - _ONE_DAY)
    return Period(start=start, end=end) if start <= end else None


# --- numbers and years ---------------------------------------------------------------------------

_CN_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}  # fmt: skip
_EN_COUNTS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fourteen": 14, "thirty": 30, "sixty": 60, "ninety": 90,
}  # fmt: skip
_ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4}
_YEAR_OFFSETS = {
    "今年": 0, "本年": 0, "去年": -1, "上年": -1, "上一年": -1, "前年": -2, "明年": 1,
    "this": 0, "current": 0, "last": -1, "previous": -1, "prior": -1, "next": 1,
}  # fmt: skip
_UNIT_NAMES: dict[str, _Kind] = {
    "天": "day", "日": "day", "周": "week", "星": "week", "礼": "week", "月": "month", "季": "quarter", "年": "year",
    "d": "day", "w": "week", "m": "month", "q": "quarter", "y": "year",
}  # fmt: skip


def _number(text: str) -> int:
    """'12' -> 12, '十二' -> 12, '三十' -> 30, '一百二十' -> 120, '二〇二五' -> 2025, 'twelve' -> 12."""
    if text.isdigit():
        return int(text)
    if text.lower() in _EN_COUNTS:
        return _EN_COUNTS[text.lower()]
    if "十" not in text and "百" not in text:  # read digit by digit, as years are written
        return int("".join(str(_CN_DIGITS[char]) for char in text))
    total = current = 0
    for char in text:
        if char in "十百":
            total += (current or 1) * (10 if char == "十" else 100)
            current = 0
        else:
            current = _CN_DIGITS[char]
    return total + current


#: English unit words and the abbreviations people type in chat ("this yr", "last qtr", "past 3 mos").
_EN_UNIT = r"week|wk|month|mth|mo|quarter|qtr|year|yr"
_EN_UNITS = r"weeks?|wks?|months?|mths?|mos?|quarters?|qtrs?|years?|yrs?"


def _unit_name(text: str) -> _Kind:
    """天/日/day -> day, 周/星期/礼拜/week -> week, 月/month, 季度/quarter, 年/year (by the first letter)."""
    return _UNIT_NAMES[text[0].lower()]


def _year_of(match: re.Match[str], today: dt.date) -> int | None:
    """The year a match names: digits (2025年, '25, 二〇二五年) or a word (去年, last year); None if none."""
    groups = match.groupdict()
    if groups.get("y"):
        year = _number(groups["y"].rstrip("年 "))
        return year if year >= 100 else 2000 + year
    if groups.get("yy"):
        return 2000 + int(groups["yy"])
    word = groups.get("ry") or groups.get("ey")
    return None if word is None else today.year + _YEAR_OFFSETS[word.lower()]


def _calendar(match: re.Match[str], today: dt.date, kind: _Kind, first: int, last: int = 0, day: int = 1) -> _Atom:
    """Units ``first`` .. ``last`` (or just ``first``) of ``kind`` in the year the match names, if any.

    Explicit when a year is named, in digits or a word: 去年3月 is pinned to a year as much as
    2025年3月 is, and a caller must not move it into another year named in the question.
    A range's end leaves its year open, to follow the start: 2025年11月到2月 ends in February 2026.
    """
    year = _year_of(match, today)
    start = _Unit(kind, year, first, day)
    return _Atom(start, replace(start, year=None, number=last) if last else start, explicit=year is not None)


# --- building blocks of the patterns -------------------------------------------------------------

_L = r"(?<![0-9A-Za-z])"  # not glued to a letter or digit before (sku02025, FY2025 is its own pattern)
_R = r"(?![0-9A-Za-z])"
_LW = r"(?<![A-Za-z])"  # English words; \b would not do: Chinese characters count as word characters
_RW = r"(?![A-Za-z])"
# 本/上/下 ending another word are no time words: 成本月度, 日本月销, 线上季度, 以上年龄段, 线下月度.
_BEN = r"(?<![成样资版基根账文日原剧课])本"
_SHANG = r"(?<![以之线马加])上"
_XIA = r"(?<![以之线如])下"
_CONN = r"(?:[-~〜–—]|到|至)"
_COUNT_ZH = r"(?:(?<!\d)\d{1,3}(?!\d)|[一二两三四五六七八九十百]{1,4})"
_MONTH_ZH = r"(?:(?<!\d)(?:1[0-2]|0?[1-9])|(?<![一二三四五六七八九十统单同唯])(?:十[一二]?|[一二三四五六七八九]))"
_DAY_ZH = r"(?:(?:3[01]|[12]\d|0?[1-9])(?!\d)|[一二三]?十[一二三四五六七八九]?|[一二三四五六七八九])"
_YEAR_WORD_ZH = rf"(?P<ry>今年|{_BEN}年|去年|{_SHANG}一?年|前年|明年)"
# A year before a Chinese month, quarter or half: 2025年, 2025 (before 3月/Q3), 25年, 二〇二五年, 去年.
_YP = (
    rf"(?:{_L}(?P<y>20\d{{2}}(?!\d)\s*年?|\d{{2}}\s*年|二[〇零][〇零一二三四五六七八九]{{2}}\s*年)|{_YEAR_WORD_ZH})\s*"
)
# A year after an English month, quarter or half: March 2025, Q3'25, Q3 of last year, Mar 5, 2025.
_EY = (
    r"(?:\s*,?\s*(?:of\s+|in\s+)?(?:(?P<y>20\d{2})(?!\d)|['’](?P<yy>\d{2})(?!\d)"
    r"|(?:the\s+)?(?P<ey>this|current|last|previous|prior|next)\s+year(?![A-Za-z])))"
)
_MONTH_EN = (
    r"(?<![A-Za-z])(?P<mn>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)(?![A-Za-z])(?:\.(?=\s*\d))?"
)
_MONTH_ABBREVIATIONS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH_NUMBERS = {name: number for number, name in enumerate(_MONTH_ABBREVIATIONS, 1)}
# A number that is an amount, not a year: 2025元, 2025件, 2025 ml, 2025%.
_NOT_QTY = rf"(?!\s*(?:[%‰万亿千百元块件个片瓶支盒套单次人名克款版]|(?:ml|g|kg|pcs|units?|rmb|cny|yuan|usd){_RW}))"


# --- builders: one per pattern, match -> atom (None: not a time expression after all) -------------

Builder = Callable[[re.Match[str], dt.date], _Atom | None]


def _days_ago(days: int) -> Builder:
    """今天 (0), 昨天 (1), 前天 (2): a single day."""

    def build(_: re.Match[str], today: dt.date) -> _Atom:
        day = today - days * _ONE_DAY
        return _days(day, day)

    return build


def _relative(kind: _Kind, offset: int, today: dt.date, weekend: bool = False) -> _Atom:
    """The week/month/quarter/year ``offset`` units from today's (0: this one, -1: the previous one)."""
    if kind == "week":
        monday = today - (today.weekday() - 7 * offset) * _ONE_DAY
        return _days(monday + 5 * _ONE_DAY if weekend else monday, monday + 6 * _ONE_DAY)
    months = _MONTHS_IN[kind]
    current = dt.date(today.year, (today.month - 1) // months * months + 1, 1)
    first = _add_months(current, offset * months)
    return _single(_Unit(kind, first.year, (first.month - 1) // months + 1), explicit=False)


def _relative_zh(match: re.Match[str], today: dt.date) -> _Atom:
    """本月, 上个月, 上上个月, 再上一周, 下季度, 这周, 上周末: 上 counts one back each, 下 one forward."""
    word = match["rel"]
    offset = 1 if word.startswith("下") else -word.count("上") - word.startswith("再")  # 再上一周: the one before last
    return _relative(_unit_name(match["u"]), offset, today, weekend=bool(match["we"]))


def _relative_en(match: re.Match[str], today: dt.date) -> _Atom:
    """this/last/previous/next week|month|quarter|year, "the month before last"."""
    word = (match.groupdict().get("rel") or "before last").lower()
    offset = {"this": 0, "current": 0, "next": 1, "before last": -2}.get(word, -1)
    return _relative(_unit_name(match["u"]), offset, today)


def _to_date(match: re.Match[str], today: dt.date) -> _Atom:
    """MTD, year to date, 年初至今, 截至目前 (the year): the current unit so far (cut at yesterday later)."""
    groups = match.groupdict()
    return _relative(_unit_name(groups.get("u") or groups.get("abbr") or "year"), 0, today)


def _trailing(match: re.Match[str], today: dt.date) -> _Atom | None:
    """近30天, 过去两周, 近3个月, 近半年, last 12 months, the past week: the units just before today."""
    count_text, kind = match.groupdict().get("n") or "1", _unit_name(match["u"])
    if count_text == "半":
        if kind != "year":
            return None
        count, kind = 6, "month"
    else:
        count = _number(count_text)
    if count == 0:
        return None
    if kind in ("day", "week"):
        start = today - count * (7 if kind == "week" else 1) * _ONE_DAY
    else:
        start = _add_months(today, -count * _MONTHS_IN[kind])
    return _days(start, today - _ONE_DAY)


def _twelve_months(_: re.Match[str], today: dt.date) -> _Atom:
    """TTM / LTM: the twelve months before today."""
    return _days(_add_months(today, -12), today - _ONE_DAY)


def _year(match: re.Match[str], today: dt.date) -> _Atom:
    """2025, 2025年, FY2025."""
    return _calendar(match, today, "year", 1)


def _year_word(match: re.Match[str], today: dt.date) -> _Atom:
    """今年, 去年, 前年 on their own: relative words, not explicit (unlike 去年3月)."""
    return _relative("year", _YEAR_OFFSETS[match["ry"]], today)


def _year_end(_: re.Match[str], today: dt.date) -> _Atom:
    """Bare 年底/年末: 31 December of the latest year that has one before today."""
    return _single(_Unit("day", None, 12, 31), explicit=False)


def _half(match: re.Match[str], today: dt.date) -> _Atom:
    """上半年/下半年, first/second half (of 2025)."""
    return _calendar(match, today, "half", 1 if match["h"].lower() in ("上", "first", "1st") else 2)


def _quarter_zh(match: re.Match[str], today: dt.date) -> _Atom:
    return _calendar(match, today, "quarter", _number(match["q"]))


def _quarter_en(match: re.Match[str], today: dt.date) -> _Atom:
    return _calendar(match, today, "quarter", _ORDINALS[match["q"].lower()])


def _quarter_or_half(match: re.Match[str], today: dt.date) -> _Atom | None:
    """Q1..Q4 and H1/H2, with or without a year."""
    number = int(match["n"])
    if match["k"].upper() == "H":
        return _calendar(match, today, "half", number) if number <= 2 else None
    return _calendar(match, today, "quarter", number)


def _first_quarters(match: re.Match[str], today: dt.date) -> _Atom | None:
    """前三季度 / first three quarters: 1 January to the end of that quarter."""
    count = _number(match["n"])
    return _calendar(match, today, "quarter", 1, count) if 1 <= count <= 4 else None


def _first_months(match: re.Match[str], today: dt.date) -> _Atom | None:
    """今年前5个月: January to the end of that month (only with a year: bare 前3个月 could mean "3 months ago")."""
    count = _number(match["n"])
    return _calendar(match, today, "month", 1, count) if 1 <= count <= 12 else None


def _month_zh(match: re.Match[str], today: dt.date) -> _Atom:
    return _calendar(match, today, "month", _number(match["m"]))


def _month_range_zh(match: re.Match[str], today: dt.date) -> _Atom:
    """1-3月, 2025年1-3月, 一至三月: one year, from the first month to the second."""
    return _calendar(match, today, "month", _number(match["m"]), _number(match["m2"]))


def _month_list_zh(match: re.Match[str], today: dt.date) -> _Atom | None:
    """10、11、12月: consecutive months are their span (a gap in the list is not read as one)."""
    months = [_number(m) for m in re.findall(_MONTH_ZH, match.group("list"))]
    if len(months) < 2 or any(b - a != 1 for a, b in zip(months, months[1:], strict=False)):
        return None
    return _calendar(match, today, "month", months[0], months[-1])


def _day_zh(match: re.Match[str], today: dt.date) -> _Atom:
    return _calendar(match, today, "day", _number(match["m"]), day=_number(match["d"]))


def _day_range_zh(match: re.Match[str], today: dt.date) -> _Atom:
    """3月1日到15日, 3月1-15日: both days in the one month."""
    atom = _calendar(match, today, "day", _number(match["m"]), day=_number(match["d"]))
    return replace(atom, last=replace(atom.last, day=_number(match["d2"])))


def _numeric_date(match: re.Match[str], today: dt.date) -> _Atom:
    """2025-03-05, 2025/3/5, 2025.03.05."""
    return _calendar(match, today, "day", int(match["m"]), day=int(match["d"]))


def _numeric_month(match: re.Match[str], today: dt.date) -> _Atom:
    """2025-03, 2025/3, 2025.03 (month 13 and such are dropped later as no real date)."""
    return _calendar(match, today, "month", int(match["m"]))


def _week_number(match: re.Match[str], today: dt.date) -> _Atom:
    """2025年第10周, week 10 of 2025, 2025-W10: ISO weeks."""
    return _calendar(match, today, "week", _number(match["w"]))


_PREPOSITION_BEFORE = _PATTERNS.pattern(
    r"(?<![A-Za-z])(?:in|during|for|of|since|from|to|through|until|till|between)\s+$", re.I
)
_MODAL_AFTER = _PATTERNS.pattern(r"\s+(?:i|we|you)(?![A-Za-z])", re.I)


def _english_month_is_a_month(match: re.Match[str]) -> bool:
    """Bare "may", "march" and "mar" are also verbs: without a year they need a capital or a preposition."""
    name, groups = match["mn"], match.groupdict()
    if name.lower() not in ("may", "mar", "march") or groups.get("y") or groups.get("yy") or groups.get("ey"):
        return True
    if name[0].isupper():
        return not _MODAL_AFTER.match(match.string, match.end("mn"))  # "May I see ..."
    return bool(_PREPOSITION_BEFORE.search(match.string, max(0, match.start() - 12), match.start()))


def _month_en(match: re.Match[str], today: dt.date) -> _Atom | None:
    """March 2025, Mar'25, 2025 March, March last year, bare March."""
    if not _english_month_is_a_month(match):
        return None
    return _calendar(match, today, "month", _MONTH_NUMBERS[match["mn"][:3].lower()])


def _day_en(match: re.Match[str], today: dt.date) -> _Atom | None:
    """March 5 2025, Mar 5th, 2025, 5 March 2025, 5th of March, bare Mar 5."""
    if not _english_month_is_a_month(match):
        return None
    return _calendar(match, today, "day", _MONTH_NUMBERS[match["mn"][:3].lower()], day=int(match["d"]))


# --- the table ------------------------------------------------------------------------------------

_REL_ZH = rf"(?P<rel>{_BEN}|当|这(?:一个|一|个)?|再上(?:一个|一|个)?|{_SHANG}上个?|{_SHANG}(?:一个|一|个)?|{_XIA}(?:一个|一|个)?)"
_EN_COUNT = r"\d{1,3}|" + "|".join(_EN_COUNTS)

_TABLE: list[tuple[str, Builder]] = [
    # days relative to today
    (rf"今天|今日|{_LW}today{_RW}", _days_ago(0)),
    (rf"昨天|昨日|{_LW}yesterday{_RW}", _days_ago(1)),
    (rf"前天|{_LW}(?:the\s+)?day\s+before\s+yesterday{_RW}", _days_ago(2)),
    # this / last / next week, month, quarter (calendar units)
    (rf"{_REL_ZH}\s*(?P<u>(?:周|星期|礼拜)(?P<we>末)?|月份?|季度)", _relative_zh),
    (rf"{_LW}(?P<rel>this|current|last|previous|prior|next)\s+(?P<u>{_EN_UNIT}){_RW}", _relative_en),
    (rf"{_LW}(?:the\s+)?(?P<u>{_EN_UNIT})\s+before\s+last{_RW}", _relative_en),
    (rf"{_YEAR_WORD_ZH}度?(?:\s*全年)?", _year_word),
    # so far in the current unit
    (rf"{_LW}(?:(?P<u>{_EN_UNIT})[\s-]+to[\s-]+date|(?P<abbr>[wmqy])td){_RW}", _to_date),
    (r"(?P<u>年|月|季度?)初(?:至今|到现在|到今天|以来)", _to_date),
    (r"(?:截至|截止到?)\s*(?:目前|现在|当前)(?:为止)?", _to_date),
    # trailing windows
    (
        rf"(?<![接将附靠])(?:最近|近|过去)的?\s*(?P<n>{_COUNT_ZH}|半)\s*个?\s*(?P<u>天|日|周|星期|礼拜|月|季度|季|年)",
        _trailing,
    ),
    (
        rf"{_LW}(?:the\s+)?(?:last|past|previous|prior|trailing|rolling)\s+(?P<n>{_EN_COUNT})[\s-]*"
        rf"(?P<u>days?|{_EN_UNITS}){_RW}",
        _trailing,
    ),
    (rf"{_LW}(?:the\s+)?past\s+(?P<u>day|{_EN_UNIT}){_RW}", _trailing),
    (rf"{_LW}(?:TTM|LTM){_RW}", _twelve_months),
    # years
    (rf"{_L}(?P<y>20\d{{2}}|二[〇零][〇零一二三四五六七八九]{{2}})\s*(?:财年|年度?)(?:\s*全年)?", _year),
    (rf"{_L}FY\s*['’]?(?P<y>20\d{{2}}|\d{{2}}){_R}", _year),
    # A bare 2000..2099, not an id (sku02025, SKU-2025, #2025), an amount (¥2025, 2025元) or the start of a
    # date (2025.5万, 2025-13-45); 2024-2025 is still two years.
    (
        rf"(?<![0-9A-Za-z_#¥$])(?<![A-Za-z_#]-)(?P<y>20\d{{2}}){_R}{_NOT_QTY}(?![./]\d|-(?!20\d\d(?!\d))\d)(?:\s*全年)?",
        _year,
    ),
    # 24年, 25年春节: a two-digit year of this century, not a count (25年老店, 3年以来, 5年前)
    (rf"{_L}(?P<yy>[12]\d)\s*年(?![\d月前后来以内间头老])(?!\s*\d)", _year),
    (r"(?<![年\d])年(?:底|末)(?![妆霜乳液膜])", _year_end),
    # halves and quarters
    (rf"(?:{_YP})?(?P<h>上|下)半年度?", _half),
    (rf"{_LW}(?:the\s+)?(?P<h>first|second|1st|2nd)\s+half{_RW}(?:\s+of\s+the\s+year{_RW}|{_EY})?", _half),
    (rf"(?:{_YP}[-/]?\s*|{_L})(?P<k>[QH])(?P<n>[1-4]){_R}", _quarter_or_half),
    (rf"{_L}(?P<k>[QH])(?P<n>[1-4]){_R}{_EY}", _quarter_or_half),
    (rf"(?:{_YP})?(?<![统单同唯])(?:第\s*)?(?<![一二三四五六七八九十\d])(?P<q>[1-4一二三四])\s*季度", _quarter_zh),
    (rf"{_LW}(?:the\s+)?(?P<q>first|second|third|fourth|1st|2nd|3rd|4th)\s+quarter{_RW}{_EY}?", _quarter_en),
    (rf"(?:{_YP})?前\s*(?P<n>[1-4一二两三四])\s*个?季度", _first_quarters),
    (rf"{_LW}(?:the\s+)?first\s+(?P<n>two|three|2|3)\s+quarters{_RW}{_EY}?", _first_quarters),
    (rf"{_YP}前\s*(?P<n>{_COUNT_ZH})\s*个月", _first_months),
    # months
    (rf"(?:{_YP})?(?P<m>{_MONTH_ZH})\s*月份?(?!度)", _month_zh),
    (rf"(?:{_YP})?(?P<m>{_MONTH_ZH})\s*(?:月份?)?\s*{_CONN}\s*(?P<m2>{_MONTH_ZH})\s*月份?(?!度)", _month_range_zh),
    (rf"(?:{_YP})?(?P<list>(?:{_MONTH_ZH}\s*月?\s*[、,，]\s*)+{_MONTH_ZH})\s*月份?(?!度)", _month_list_zh),
    (rf"{_L}(?P<y>20\d{{2}})(?P<sep>[-/.])(?P<m>\d{{1,2}}){_R}(?![-/.]\d){_NOT_QTY}", _numeric_month),
    (rf"{_MONTH_EN}{_EY}?", _month_en),
    (rf"{_L}(?P<y>20\d{{2}})\s+{_MONTH_EN}", _month_en),
    # days
    (rf"(?:{_YP})?(?P<m>{_MONTH_ZH})\s*月\s*(?P<d>{_DAY_ZH})\s*[日号]", _day_zh),
    (
        rf"(?:{_YP})?(?P<m>{_MONTH_ZH})\s*月\s*(?P<d>{_DAY_ZH})\s*[日号]?\s*{_CONN}\s*(?P<d2>{_DAY_ZH})\s*[日号]",
        _day_range_zh,
    ),
    (rf"{_L}(?P<y>20\d{{2}})(?P<sep>[-/.])(?P<m>\d{{1,2}})(?P=sep)(?P<d>\d{{1,2}}){_R}", _numeric_date),
    (rf"{_MONTH_EN}\s*(?P<d>\d{{1,2}})(?:st|nd|rd|th)?{_R}{_EY}?", _day_en),
    (rf"{_L}(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH_EN}{_EY}?", _day_en),
    # ISO weeks
    (rf"(?:{_YP})?第\s*(?P<w>{_COUNT_ZH})\s*周", _week_number),
    (rf"{_LW}(?:week|wk)\s*(?P<w>\d{{1,2}})(?!\d){_EY}?", _week_number),
    (rf"{_L}(?P<y>20\d{{2}})-?W(?P<w>\d{{2}}){_R}", _week_number),
]
_RULES = [(_PATTERNS.pattern(pattern, re.IGNORECASE), build) for pattern, build in _TABLE]

# Words around atoms (pass 2), matched against the text between atoms.
_END_SUFFIX = _PATTERNS.pattern(r"\s*(?:年|月|季度?)?(?:底|末)(?![妆霜乳液膜])")
_END_PREFIX = _PATTERNS.pattern(r"(?<![A-Za-z])(?:the\s+)?end\s+of\s+(?:the\s+)?$", re.I)
_RANGE_GAP = _PATTERNS.pattern(r"\s*(?P<word>到|至|~|〜|-|–|—|to|through|thru|until|till|and)\s*", re.I)
_RANGE_PREFIX = _PATTERNS.pattern(r"(?:(?<![A-Za-z])(?P<word>from|between)|从|自|由)\s*$", re.I)
_YEAR_TO_PREFIX = _PATTERNS.pattern(
    r"(?:截至到?|截止到?|(?P<bare>到)|(?<![A-Za-z])(?:as\s+of|up\s+to|through|thru|until|till))\s*$", re.I
)
_YEAR_TO_SUFFIX = _PATTERNS.pattern(r"\s*为止")
_SINCE_PREFIX = _PATTERNS.pattern(r"(?:(?<![A-Za-z])(?P<since>since)|(?<![A-Za-z])from|从|自从?)\s*$", re.I)
_SINCE_SUFFIX = _PATTERNS.pattern(
    r"\s*(?:以来|至今|迄今|起(?!伏)|开始|到现在|到今天|到目前(?:为止)?|(?<![A-Za-z])(?:to\s+date|onwards?|so\s+far)(?![A-Za-z]))",
    re.I,
)


# --- the passes -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Found:
    """An atom and the text it covers, words around it included once read (截至, 底, from ... to)."""

    start: int
    end: int
    atom: _Atom


def _normalise(text: str) -> str:
    """NFKC one character at a time, so ２０２５年 reads as 2025年 and every offset stays put."""
    if text.isascii():
        return text
    chars = (unicodedata.normalize("NFKC", char) for char in text)
    return "".join(norm if len(norm) == 1 else char for norm, char in zip(chars, text, strict=True))


def _atoms(text: str, today: dt.date) -> list[_Found]:
    """Every pattern's candidates; the longest win, then the earliest, then the table's order.

    A candidate naming no real date (2025-02-30, 2025-13) still holds its text, so that no
    shorter pattern reads a piece of it (2025年2月 out of 2025年2月30日), and is then dropped.
    """
    candidates: list[tuple[int, int, _Atom | None]] = []
    for pattern, build in _RULES:
        for match in pattern.finditer(text):
            atom = build(match, today)
            if atom is not None:
                candidates.append((match.start(), match.end(), atom if _span(atom, today) else None))
    candidates.sort(key=lambda candidate: (candidate[0] - candidate[1], candidate[0]))
    chosen: list[tuple[int, int, _Atom | None]] = []
    for start, end, atom in candidates:
        if all(end <= other[0] or start >= other[1] for other in chosen):
            chosen.append((start, end, atom))
    return sorted((_Found(start, end, atom) for start, end, atom in chosen if atom), key=lambda found: found.start)


def _plain(found: _Found) -> _Atom | None:
    """The atom if no surrounding word has changed it yet."""
    atom = found.atom
    return atom if not atom.end_only and atom.mode == "span" else None


def _bounds(text: str, atoms: list[_Found], index: int) -> tuple[int, int]:
    """Where the words around ``atoms[index]`` may reach: the neighbouring atoms."""
    return atoms[index - 1].end if index else 0, atoms[index + 1].start if index + 1 < len(atoms) else len(text)


def _ends(text: str, atoms: list[_Found]) -> list[_Found]:
    """上个月底, 2025年末, end of last quarter: only the last day of a month, quarter or year."""
    out = []
    for index, found in enumerate(atoms):
        atom = _plain(found)
        if atom is not None and atom.last.kind != "day":
            lower, upper = _bounds(text, atoms, index)
            suffix = _END_SUFFIX.match(text, found.end, upper)
            prefix = _END_PREFIX.search(text, lower, found.start)
            if suffix or prefix:
                start, end = prefix.start() if prefix else found.start, suffix.end() if suffix else found.end
                found = _Found(start, end, replace(atom, end_only=True))
        out.append(found)
    return out


def _ranges(text: str, atoms: list[_Found], today: dt.date) -> list[_Found]:
    """X到Y, X-Y, from X to Y, between X and Y: one range from the start of X to the end of Y."""
    out: list[_Found] = []
    for found in atoms:
        joined = _join(text, out[-1], found, out[-2].end if len(out) > 1 else 0, today) if out else None
        if joined is None:
            out.append(found)
        else:
            out[-1] = joined
    return out


def _join(text: str, left: _Found, right: _Found, lower: int, today: dt.date) -> _Found | None:
    """The range from ``left`` to ``right`` if only a connector (到, -, to) stands between them."""
    first, second = _plain(left), _plain(right)
    gap = _RANGE_GAP.fullmatch(text, left.end, right.start)
    if first is None or second is None or gap is None:
        return None
    prefix = _RANGE_PREFIX.search(text, lower, left.start)
    if gap["word"].lower() == "and" and not (prefix and (prefix["word"] or "").lower() == "between"):
        return None  # "March and April" is two months, not a range
    atom = _Atom(first.first, second.last, first.explicit or second.explicit)
    if _span(atom, today) is None:  # backwards: 2025-03 到 2025-01
        return None
    return _Found(prefix.start() if prefix else left.start, right.end, atom)


def _reaches(text: str, atoms: list[_Found]) -> list[_Found]:
    """截至X / as of X: 1 January of X's year to X. X以来 / since X: X to yesterday."""
    out = []
    for index, found in enumerate(atoms):
        lower, upper = _bounds(text, atoms, index)
        year_to = _YEAR_TO_PREFIX.search(text, lower, found.start)
        until = _YEAR_TO_SUFFIX.match(text, found.end, upper)
        since_prefix = _SINCE_PREFIX.search(text, lower, found.start)
        since_suffix = _SINCE_SUFFIX.match(text, found.end, upper)
        if year_to and (until or not year_to["bare"]):  # 到 alone joins ranges; 到X为止 reaches
            found = _Found(year_to.start(), until.end() if until else found.end, replace(found.atom, mode="year_to"))
        elif since_suffix or (since_prefix and since_prefix["since"]):
            start = since_prefix.start() if since_prefix else found.start
            end = since_suffix.end() if since_suffix else found.end
            found = _Found(start, end, replace(found.atom, mode="since"))
        out.append(found)
    return out


def find_periods(question: str, today: dt.date) -> list[TimeMatch]:
    """All non-overlapping time expressions, longest match first, in reading order."""
    text = _normalise(question)
    atoms = _reaches(text, _ranges(text, _ends(text, _atoms(text, today)), today))
    return [
        TimeMatch(
            found.start, found.end, _period(found.atom, today), question[found.start : found.end], found.atom.explicit
        )
        for found in atoms
    ]
