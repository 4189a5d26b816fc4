"""Time expressions in zh, en and mixed questions resolve to whole-day periods that end before today."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from agent.time_expressions import find_periods

THU = dt.date(2026, 1, 15)  # a Thursday in January: "this year" is two weeks old
MID = dt.date(2025, 8, 15)  # mid-year, mid-quarter (Q3 has begun)
NEW_YEAR = dt.date(2026, 1, 1)  # nothing of 2026 is complete yet
FIRST = dt.date(2025, 3, 1)  # the 1st of a month, after a 28-day February
MONDAY = dt.date(2025, 3, 10)
LEAP_END = dt.date(2024, 3, 31)

Expected = tuple[str, str] | None

# (question, today, the one label found, (start, end) or None for "no complete day yet")
SINGLE: list[tuple[str, dt.date, str, Expected]] = [
    # days
    ("今天卖了多少", THU, "今天", None),
    ("today's GMV", THU, "today", None),
    ("昨天的订单量", THU, "昨天", ("2026-01-14", "2026-01-14")),
    ("yesterday sales", THU, "yesterday", ("2026-01-14", "2026-01-14")),
    ("前天", THU, "前天", ("2026-01-13", "2026-01-13")),
    ("昨天", NEW_YEAR, "昨天", ("2025-12-31", "2025-12-31")),
    # weeks: Monday .. Sunday
    ("本周GMV", THU, "本周", ("2026-01-12", "2026-01-14")),
    ("这周的退货", THU, "这周", ("2026-01-12", "2026-01-14")),
    ("sales this week", THU, "this week", ("2026-01-12", "2026-01-14")),
    ("本周", MONDAY, "本周", None),
    ("this week", MONDAY, "this week", None),
    ("上周", THU, "上周", ("2026-01-05", "2026-01-11")),
    ("上星期", THU, "上星期", ("2026-01-05", "2026-01-11")),
    ("last week on JD", THU, "last week", ("2026-01-05", "2026-01-11")),
    ("上周", MONDAY, "上周", ("2025-03-03", "2025-03-09")),
    ("上周", NEW_YEAR, "上周", ("2025-12-22", "2025-12-28")),
    ("上周末", THU, "上周末", ("2026-01-10", "2026-01-11")),
    # months
    ("本月", THU, "本月", ("2026-01-01", "2026-01-14")),
    ("这个月", THU, "这个月", ("2026-01-01", "2026-01-14")),
    ("当月销售额", THU, "当月", ("2026-01-01", "2026-01-14")),
    ("this month", THU, "this month", ("2026-01-01", "2026-01-14")),
    ("GMV month to date", THU, "month to date", ("2026-01-01", "2026-01-14")),
    ("MTD GMV", THU, "MTD", ("2026-01-01", "2026-01-14")),
    ("本月", FIRST, "本月", None),
    ("mtd", FIRST, "mtd", None),
    ("上个月天猫的毛利率是多少?", THU, "上个月", ("2025-12-01", "2025-12-31")),
    ("上月", FIRST, "上月", ("2025-02-01", "2025-02-28")),
    ("上个月", dt.date(2024, 3, 15), "上个月", ("2024-02-01", "2024-02-29")),
    ("last month", THU, "last month", ("2025-12-01", "2025-12-31")),
    ("previous month", NEW_YEAR, "previous month", ("2025-12-01", "2025-12-31")),
    ("上上个月", THU, "上上个月", ("2025-11-01", "2025-11-30")),
    ("下个月的预测", THU, "下个月", None),
    # quarters
    ("本季度", MID, "本季度", ("2025-07-01", "2025-08-14")),
    ("这季度", MID, "这季度", ("2025-07-01", "2025-08-14")),
    ("this quarter", MID, "this quarter", ("2025-07-01", "2025-08-14")),
    ("QTD", MID, "QTD", ("2025-07-01", "2025-08-14")),
    ("本季度", NEW_YEAR, "本季度", None),
    ("上季度", THU, "上季度", ("2025-10-01", "2025-12-31")),
    ("上个季度", MID, "上个季度", ("2025-04-01", "2025-06-30")),
    ("上一季度", MID, "上一季度", ("2025-04-01", "2025-06-30")),
    ("last quarter", THU, "last quarter", ("2025-10-01", "2025-12-31")),
    ("previous quarter", THU, "previous quarter", ("2025-10-01", "2025-12-31")),
    # years
    ("今年", THU, "今年", ("2026-01-01", "2026-01-14")),
    ("本年", THU, "本年", ("2026-01-01", "2026-01-14")),
    ("this year", THU, "this year", ("2026-01-01", "2026-01-14")),
    ("YTD GMV", THU, "YTD", ("2026-01-01", "2026-01-14")),
    ("year to date", THU, "year to date", ("2026-01-01", "2026-01-14")),
    ("年初至今", THU, "年初至今", ("2026-01-01", "2026-01-14")),
    ("今年以来", THU, "今年以来", ("2026-01-01", "2026-01-14")),
    ("今年", NEW_YEAR, "今年", None),
    ("YTD", NEW_YEAR, "YTD", None),
    ("去年", THU, "去年", ("2025-01-01", "2025-12-31")),
    ("last year", THU, "last year", ("2025-01-01", "2025-12-31")),
    ("previous year", NEW_YEAR, "previous year", ("2025-01-01", "2025-12-31")),
    ("前年", THU, "前年", ("2024-01-01", "2024-12-31")),
    # halves: bare ones are the latest that has begun
    ("今年上半年", MID, "今年上半年", ("2025-01-01", "2025-06-30")),
    ("上半年", NEW_YEAR, "上半年", ("2025-01-01", "2025-06-30")),
    ("上半年", MID, "上半年", ("2025-01-01", "2025-06-30")),
    ("下半年", MID, "下半年", ("2025-07-01", "2025-08-14")),
    ("下半年", dt.date(2025, 7, 1), "下半年", ("2024-07-01", "2024-12-31")),
    ("H1", NEW_YEAR, "H1", ("2025-01-01", "2025-06-30")),
    ("H2", MID, "H2", ("2025-07-01", "2025-08-14")),
    ("first half", NEW_YEAR, "first half", ("2025-01-01", "2025-06-30")),
    ("second half", NEW_YEAR, "second half", ("2025-07-01", "2025-12-31")),
    ("去年上半年", THU, "去年上半年", ("2025-01-01", "2025-06-30")),
    ("H1 last year", THU, "H1 last year", ("2025-01-01", "2025-06-30")),
    ("first half of 2025", THU, "first half of 2025", ("2025-01-01", "2025-06-30")),
    ("the first half of the year", NEW_YEAR, "the first half of the year", ("2025-01-01", "2025-06-30")),
    ("2025H2", THU, "2025H2", ("2025-07-01", "2025-12-31")),
    ("2025年下半年", THU, "2025年下半年", ("2025-07-01", "2025-12-31")),
    # trailing windows: [today - N, yesterday]
    ("近7天", THU, "近7天", ("2026-01-08", "2026-01-14")),
    ("最近7天的退货率", THU, "最近7天", ("2026-01-08", "2026-01-14")),
    ("过去7天", THU, "过去7天", ("2026-01-08", "2026-01-14")),
    ("近一周", THU, "近一周", ("2026-01-08", "2026-01-14")),
    ("last 7 days", THU, "last 7 days", ("2026-01-08", "2026-01-14")),
    ("past 7 days", THU, "past 7 days", ("2026-01-08", "2026-01-14")),
    ("over the past week", THU, "the past week", ("2026-01-08", "2026-01-14")),
    ("show me last 30 days sales", THU, "last 30 days", ("2025-12-16", "2026-01-14")),
    ("近三十天", THU, "近三十天", ("2025-12-16", "2026-01-14")),
    ("过去两周", THU, "过去两周", ("2026-01-01", "2026-01-14")),
    ("last 2 weeks", THU, "last 2 weeks", ("2026-01-01", "2026-01-14")),
    ("近2周", THU, "近2周", ("2026-01-01", "2026-01-14")),
    ("近两个月", THU, "近两个月", ("2025-11-15", "2026-01-14")),
    ("近3个月", NEW_YEAR, "近3个月", ("2025-10-01", "2025-12-31")),
    ("最近3个月", NEW_YEAR, "最近3个月", ("2025-10-01", "2025-12-31")),
    ("last 3 months", NEW_YEAR, "last 3 months", ("2025-10-01", "2025-12-31")),
    ("past three months", NEW_YEAR, "past three months", ("2025-10-01", "2025-12-31")),
    ("近2个季度", THU, "近2个季度", ("2025-07-15", "2026-01-14")),
    ("近一年", THU, "近一年", ("2025-01-15", "2026-01-14")),
    ("过去一年的复购率", THU, "过去一年", ("2025-01-15", "2026-01-14")),
    ("last 12 months", THU, "last 12 months", ("2025-01-15", "2026-01-14")),
    ("past year", THU, "past year", ("2025-01-15", "2026-01-14")),
    ("trailing twelve months", THU, "trailing twelve months", ("2025-01-15", "2026-01-14")),
    ("TTM revenue", THU, "TTM", ("2025-01-15", "2026-01-14")),
    ("近2年", THU, "近2年", ("2024-01-15", "2026-01-14")),
    ("近半年", THU, "近半年", ("2025-07-15", "2026-01-14")),
    # month-end arithmetic and leap years
    ("近1个月", LEAP_END, "近1个月", ("2024-02-29", "2024-03-30")),
    ("近3个月", dt.date(2025, 5, 31), "近3个月", ("2025-02-28", "2025-05-30")),
    ("近一年", dt.date(2024, 2, 29), "近一年", ("2023-02-28", "2024-02-28")),
    ("近1个月", FIRST, "近1个月", ("2025-02-01", "2025-02-28")),
    # 截至 X: 1 January of X's year .. X; month ends alone are one day
    ("截至2025年6月30日的应收账龄>60天占比", THU, "截至2025年6月30日", ("2025-01-01", "2025-06-30")),
    ("截止到上个月底", THU, "截止到上个月底", ("2025-01-01", "2025-12-31")),
    ("截至上月末的库存", MID, "截至上月末", ("2025-01-01", "2025-07-31")),
    ("到2025年6月30日为止", THU, "到2025年6月30日为止", ("2025-01-01", "2025-06-30")),
    ("截至去年底", THU, "截至去年底", ("2025-01-01", "2025-12-31")),
    ("as of end of last month", MID, "as of end of last month", ("2025-01-01", "2025-07-31")),
    ("up to June 30 2025", THU, "up to June 30 2025", ("2025-01-01", "2025-06-30")),
    ("through June 30, 2025", THU, "through June 30, 2025", ("2025-01-01", "2025-06-30")),
    ("截至目前的应收", THU, "截至目前", ("2026-01-01", "2026-01-14")),
    ("上个月底的库存", THU, "上个月底", ("2025-12-31", "2025-12-31")),
    ("上月末", FIRST, "上月末", ("2025-02-28", "2025-02-28")),
    ("end of last month", THU, "end of last month", ("2025-12-31", "2025-12-31")),
    ("上季度末", MID, "上季度末", ("2025-06-30", "2025-06-30")),
    ("去年底", THU, "去年底", ("2025-12-31", "2025-12-31")),
    ("去年年末", THU, "去年年末", ("2025-12-31", "2025-12-31")),
    ("年底库存", MID, "年底", ("2024-12-31", "2024-12-31")),
    ("2024年末", THU, "2024年末", ("2024-12-31", "2024-12-31")),
    ("6月底", MID, "6月底", ("2025-06-30", "2025-06-30")),
    # since X: X .. yesterday
    ("2025年以来", THU, "2025年以来", ("2025-01-01", "2026-01-14")),
    ("从2025年3月开始", THU, "从2025年3月开始", ("2025-03-01", "2026-01-14")),
    ("since March 2025", THU, "since March 2025", ("2025-03-01", "2026-01-14")),
    ("2025 to date", THU, "2025 to date", ("2025-01-01", "2026-01-14")),
    ("2025年到现在", THU, "2025年到现在", ("2025-01-01", "2026-01-14")),
    ("3月至今", THU, "3月至今", ("2025-03-01", "2026-01-14")),
    # years
    ("2025年", THU, "2025年", ("2025-01-01", "2025-12-31")),
    ("2025年度", THU, "2025年度", ("2025-01-01", "2025-12-31")),
    ("2025财年", THU, "2025财年", ("2025-01-01", "2025-12-31")),
    ("GMV 2025 by channel", THU, "2025", ("2025-01-01", "2025-12-31")),
    ("2024全年的毛利", THU, "2024全年", ("2024-01-01", "2024-12-31")),
    ("去年全年", THU, "去年全年", ("2025-01-01", "2025-12-31")),
    ("FY2025", THU, "FY2025", ("2025-01-01", "2025-12-31")),
    ("sales in 2025", THU, "2025", ("2025-01-01", "2025-12-31")),
    ("year 2025", THU, "2025", ("2025-01-01", "2025-12-31")),
    ("２０２５年", THU, "２０２５年", ("2025-01-01", "2025-12-31")),
    ("二〇二四年", THU, "二〇二四年", ("2024-01-01", "2024-12-31")),
    ("2026年", THU, "2026年", ("2026-01-01", "2026-01-14")),
    ("2027年", THU, "2027年", None),
    # quarters
    ("2025年Q3", THU, "2025年Q3", ("2025-07-01", "2025-09-30")),
    ("2025Q3", THU, "2025Q3", ("2025-07-01", "2025-09-30")),
    ("2025 Q3", THU, "2025 Q3", ("2025-07-01", "2025-09-30")),
    ("What was GMV in Q3 2025 on Tmall?", THU, "Q3 2025", ("2025-07-01", "2025-09-30")),
    ("Q3'25", THU, "Q3'25", ("2025-07-01", "2025-09-30")),
    ("2025年第三季度", THU, "2025年第三季度", ("2025-07-01", "2025-09-30")),
    ("2025年三季度", THU, "2025年三季度", ("2025-07-01", "2025-09-30")),
    ("3rd quarter of 2025", THU, "3rd quarter of 2025", ("2025-07-01", "2025-09-30")),
    ("third quarter 2025", THU, "third quarter 2025", ("2025-07-01", "2025-09-30")),
    ("去年Q4", THU, "去年Q4", ("2025-10-01", "2025-12-31")),
    ("Q3", THU, "Q3", ("2025-07-01", "2025-09-30")),
    ("第三季度", THU, "第三季度", ("2025-07-01", "2025-09-30")),
    ("三季度的GMV", THU, "三季度", ("2025-07-01", "2025-09-30")),
    ("Q3", MID, "Q3", ("2025-07-01", "2025-08-14")),
    ("Q4", MID, "Q4", ("2024-10-01", "2024-12-31")),
    ("前三季度", THU, "前三季度", ("2025-01-01", "2025-09-30")),
    ("2025年前三季度", THU, "2025年前三季度", ("2025-01-01", "2025-09-30")),
    ("first three quarters of 2025", THU, "first three quarters of 2025", ("2025-01-01", "2025-09-30")),
    ("first three quarters", MID, "first three quarters", ("2025-01-01", "2025-08-14")),
    ("2025年前5个月", THU, "2025年前5个月", ("2025-01-01", "2025-05-31")),
    # months
    ("2025年3月", THU, "2025年3月", ("2025-03-01", "2025-03-31")),
    ("2025年3月份", THU, "2025年3月份", ("2025-03-01", "2025-03-31")),
    ("2025-03", THU, "2025-03", ("2025-03-01", "2025-03-31")),
    ("2025/03", THU, "2025/03", ("2025-03-01", "2025-03-31")),
    ("2025.03", THU, "2025.03", ("2025-03-01", "2025-03-31")),
    ("March 2025", THU, "March 2025", ("2025-03-01", "2025-03-31")),
    ("Mar 2025 的 DIO", THU, "Mar 2025", ("2025-03-01", "2025-03-31")),
    ("2025 March", THU, "2025 March", ("2025-03-01", "2025-03-31")),
    ("25年3月", THU, "25年3月", ("2025-03-01", "2025-03-31")),
    ("２０２５年３月", THU, "２０２５年３月", ("2025-03-01", "2025-03-31")),
    ("二〇二五年三月", THU, "二〇二五年三月", ("2025-03-01", "2025-03-31")),
    ("去年3月", THU, "去年3月", ("2025-03-01", "2025-03-31")),
    ("三月份", NEW_YEAR, "三月份", ("2025-03-01", "2025-03-31")),
    ("3月", NEW_YEAR, "3月", ("2025-03-01", "2025-03-31")),
    ("3月份", NEW_YEAR, "3月份", ("2025-03-01", "2025-03-31")),
    ("三月", NEW_YEAR, "三月", ("2025-03-01", "2025-03-31")),
    ("March", NEW_YEAR, "March", ("2025-03-01", "2025-03-31")),
    ("Mar sales", NEW_YEAR, "Mar", ("2025-03-01", "2025-03-31")),
    ("GMV for march", NEW_YEAR, "march", ("2025-03-01", "2025-03-31")),
    ("sales in may", NEW_YEAR, "may", ("2025-05-01", "2025-05-31")),
    ("May sales", NEW_YEAR, "May", ("2025-05-01", "2025-05-31")),
    ("3月", dt.date(2026, 3, 15), "3月", ("2026-03-01", "2026-03-14")),
    ("3月", dt.date(2026, 3, 1), "3月", ("2025-03-01", "2025-03-31")),
    ("十二月", THU, "十二月", ("2025-12-01", "2025-12-31")),
    # days
    ("2025-03-05", THU, "2025-03-05", ("2025-03-05", "2025-03-05")),
    ("2025/3/5", THU, "2025/3/5", ("2025-03-05", "2025-03-05")),
    ("2025年3月5日", THU, "2025年3月5日", ("2025-03-05", "2025-03-05")),
    ("2025年3月5号", THU, "2025年3月5号", ("2025-03-05", "2025-03-05")),
    ("3月5日", THU, "3月5日", ("2025-03-05", "2025-03-05")),
    ("March 5 2025", THU, "March 5 2025", ("2025-03-05", "2025-03-05")),
    ("5 March 2025", THU, "5 March 2025", ("2025-03-05", "2025-03-05")),
    ("Mar 5, 2025", THU, "Mar 5, 2025", ("2025-03-05", "2025-03-05")),
    ("Mar 5", THU, "Mar 5", ("2025-03-05", "2025-03-05")),
    ("2024年2月29日", THU, "2024年2月29日", ("2024-02-29", "2024-02-29")),
    ("2月29日", THU, "2月29日", ("2024-02-29", "2024-02-29")),
    # ranges: one match from the start of the first to the end of the second
    ("2025-01-01到2025-03-31", THU, "2025-01-01到2025-03-31", ("2025-01-01", "2025-03-31")),
    ("2025年1月到3月各渠道销售额", THU, "2025年1月到3月", ("2025-01-01", "2025-03-31")),
    ("1月到3月", THU, "1月到3月", ("2025-01-01", "2025-03-31")),
    ("1-3月", THU, "1-3月", ("2025-01-01", "2025-03-31")),
    ("1-3月", dt.date(2026, 3, 15), "1-3月", ("2026-01-01", "2026-03-14")),
    ("2025年1-3月", THU, "2025年1-3月", ("2025-01-01", "2025-03-31")),
    ("from Jan to Mar 2025", THU, "from Jan to Mar 2025", ("2025-01-01", "2025-03-31")),
    ("between 2025-01-01 and 2025-03-31", THU, "between 2025-01-01 and 2025-03-31", ("2025-01-01", "2025-03-31")),
    ("Jan–Mar 2025", THU, "Jan–Mar 2025", ("2025-01-01", "2025-03-31")),
    ("2024年到2025年", THU, "2024年到2025年", ("2024-01-01", "2025-12-31")),
    ("2024-2025", THU, "2024-2025", ("2024-01-01", "2025-12-31")),
    ("Q3 2024 to Q2 2025", THU, "Q3 2024 to Q2 2025", ("2024-07-01", "2025-06-30")),
    ("3月1日到15日", THU, "3月1日到15日", ("2025-03-01", "2025-03-15")),
    ("11月到2月", THU, "11月到2月", ("2024-11-01", "2025-02-28")),
    ("2025年11月到2月", THU, "2025年11月到2月", ("2025-11-01", "2026-01-14")),
    ("去年3月到今年2月", dt.date(2026, 3, 5), "去年3月到今年2月", ("2025-03-01", "2026-02-28")),
    # ISO weeks
    ("2025年第10周", THU, "2025年第10周", ("2025-03-03", "2025-03-09")),
    ("week 10 of 2025", THU, "week 10 of 2025", ("2025-03-03", "2025-03-09")),
    # spaces (the caller blanks words out) and full-width text never break a match
    ("上个月    天猫 的 GMV", THU, "上个月", ("2025-12-01", "2025-12-31")),
    ("    近 30 天    ", THU, "近 30 天", ("2025-12-16", "2026-01-14")),
    ("2025年  3月", THU, "2025年  3月", ("2025-03-01", "2025-03-31")),
    ("截至      上个月底", THU, "截至      上个月底", ("2025-01-01", "2025-12-31")),
    ("Ｑ３ ２０２５", THU, "Ｑ３ ２０２５", ("2025-07-01", "2025-09-30")),
    # numbers in product names and compare words around a real expression
    ("面膜10片装上个月卖了多少", THU, "上个月", ("2025-12-01", "2025-12-31")),
    ("400ml 精华 20P 近7天的销量", THU, "近7天", ("2026-01-08", "2026-01-14")),
    ("比上个月", THU, "上个月", ("2025-12-01", "2025-12-31")),
    ("top 10 SKUs last month", THU, "last month", ("2025-12-01", "2025-12-31")),
]


@pytest.mark.parametrize(("question", "today", "label", "expected"), SINGLE)
def test_one_expression(question: str, today: dt.date, label: str, expected: Expected) -> None:
    matches = find_periods(question, today)
    assert [match.label for match in matches] == [label]
    match = matches[0]
    assert question[match.start : match.end] == match.label
    got = None if match.period is None else (match.period.start.isoformat(), match.period.end.isoformat())
    assert got == expected


NOT_TIME = [
    "前10名的SKU",
    "前5名门店",
    "top 10 SKUs",
    "7天无理由退货率",
    "30天内复购",
    "3个月的库存够吗",
    "面膜10片装",
    "400ml 精华",
    "20P 面膜",
    "sku00042 的库存",
    "sku02025",
    "SKU-2025",
    "#2025",
    "订单号2025031234",
    "20250305",
    "销售额100万以上的门店",
    "毛利率15%",
    "¥2025",
    "2025元",
    "卖了2025件",
    "2020款面膜",
    "2025.5万",
    "按月看销售额",
    "每月趋势",
    "月度GMV",
    "按季度",
    "monthly GMV trend",
    "各渠道的销售趋势",
    "双十一",
    "双11 大促",
    "618 大促",
    "may I see sales",
    "May I see the sales?",
    "sales may drop",
    "march sales",
    "成本月度趋势",
    "线上季度占比",
    "线下月度",
    "25岁以上年轻女性",
    "接近30天",
    "2025-02-30",
    "2025年2月30日",
    "2025-13",
    "",
    "     ",
]


@pytest.mark.parametrize("question", NOT_TIME)
def test_not_a_time_expression(question: str) -> None:
    assert find_periods(question, THU) == []


MANY: list[tuple[str, dt.date, list[tuple[str, Expected]]]] = [
    (
        "上个月和去年同期对比",
        THU,
        [("上个月", ("2025-12-01", "2025-12-31")), ("去年", ("2025-01-01", "2025-12-31"))],
    ),
    (
        "this week vs last week",
        THU,
        [("this week", ("2026-01-12", "2026-01-14")), ("last week", ("2026-01-05", "2026-01-11"))],
    ),
    ("March and April", THU, [("March", ("2025-03-01", "2025-03-31")), ("April", ("2025-04-01", "2025-04-30"))]),
    ("今年3月vs去年3月", THU, [("今年3月", None), ("去年3月", ("2025-03-01", "2025-03-31"))]),
    ("Q3 vs Q2", THU, [("Q3", ("2025-07-01", "2025-09-30")), ("Q2", ("2025-04-01", "2025-06-30"))]),
]


@pytest.mark.parametrize(("question", "today", "expected"), MANY)
def test_several_expressions_in_reading_order(
    question: str, today: dt.date, expected: list[tuple[str, Expected]]
) -> None:
    matches = find_periods(question, today)
    got = [
        (match.label, None if match.period is None else (match.period.start.isoformat(), match.period.end.isoformat()))
        for match in matches
    ]
    assert got == expected
    assert all(question[match.start : match.end] == match.label for match in matches)
    assert all(left.end <= right.start for left, right in zip(matches, matches[1:], strict=False))


@pytest.mark.parametrize(
    ("question", "explicit"),
    [
        ("2025年3月", True),
        ("Q3 2025", True),
        ("2025-03-05", True),
        ("FY2025", True),
        ("2025年1月到3月", True),
        ("截至2025年6月30日", True),
        ("上个月", False),
        ("last 30 days", False),
        ("3月", False),
        ("3月5日", False),
        ("Q3", False),
        ("1月到3月", False),
        ("去年3月", True),
        ("去年上半年", True),
        ("Q3 last year", True),
        ("去年", False),
        ("last year", False),
        ("今年以来", False),
        ("截至上个月底", False),
    ],
)
def test_explicit_when_a_year_or_date_is_written(question: str, explicit: bool) -> None:
    (match,) = find_periods(question, THU)
    assert match.explicit is explicit


def test_spans_point_into_the_original_text() -> None:
    """NFKC may widen a character (㎖ -> mL); offsets still index the question as given."""
    question = "㎖装 上个月 ２０２５年３月"
    first, second = find_periods(question, THU)
    assert (first.start, first.end, first.label) == (3, 6, "上个月")
    assert (second.start, second.end, second.label) == (7, 14, "２０２５年３月")


def test_periods_never_include_today() -> None:
    for question, today, _label, _expected in SINGLE:
        for match in find_periods(question, today):
            assert match.period is None or match.period.end < today


def test_fast() -> None:
    questions = [question for question, *_ in SINGLE] + NOT_TIME
    find_periods(questions[0], THU)
    started = time.perf_counter()
    for question in questions:
        find_periods(question, THU)
    assert (time.perf_counter() - started) / len(questions) < 0.001
