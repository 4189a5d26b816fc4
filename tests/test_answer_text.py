"""The answer text: readable numbers, periods and names, and never a number that is not in the result.

The honesty check (:func:`unexplained`) extracts every number of a text and accepts it only if it
is the formatted form of a cell of the result, a row count or a rank position, once the texts
the answer may quote verbatim (period, bucket and member names, metric names, definitions) are
taken out. It runs over a few hundred generated results of every shape, in both languages.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import random
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from agent.answer_text import RANKING_SHOWN, Labeler, compose_text
from presentation.cells import column_format, display_name
from presentation.metric_format import format_bucket, format_period, format_value
from semantic_layer.compiler import CompiledQuery, compile_query
from semantic_layer.query import MetricQuery
from semantic_layer.semantic_model import load_model

MODEL = load_model()
DECEMBER = {"start": "2025-12-01", "end": "2025-12-31"}
NAMES = {
    ("channel", "tmall"): ("天猫", "Tmall"),
    ("channel", "jd"): ("京东", "JD"),
    ("channel", "douyin"): ("抖音", "Douyin"),
    ("channel", "offline"): ("线下门店", "offline stores"),
    ("channel_type", "online"): ("线上", "online"),
    ("category", "面膜"): ("面膜", "Face mask"),
    ("category", "精华"): ("精华", "Serum"),
    ("category", "口红"): ("口红", "Lipstick"),
    **{("sku", f"sku{i:05d}"): (f"水润面膜{i * 5}片装", f"Aqua Face mask {i * 5} sheets") for i in range(1, 31)},
}
#: Numbers as the text writes them: optional sign and ¥, digits (thousands groups), decimals, a unit.
NUMBER = re.compile(r"[-+]?¥?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:万|亿|%|[KMB](?![A-Za-z]))?")


def labels(dimension: str, code: str, language: str) -> str | None:
    names = NAMES.get((dimension, code))
    return None if names is None else names[0 if language == "zh" else 1]


def compiled(**query: Any) -> CompiledQuery:
    return _compiled(json.dumps(query, ensure_ascii=False, sort_keys=True))


@functools.cache
def _compiled(query: str) -> CompiledQuery:
    return compile_query(MetricQuery.model_validate_json(query), MODEL)


def text(query: CompiledQuery, rows: list[list[Any]], language: str, truncated: bool = False) -> str:
    return compose_text(query, rows, MODEL, language, labels=labels, truncated=truncated)  # type: ignore[arg-type]


# -- the honesty check ------------------------------------------------------------------
def unexplained(answer: str, query: CompiledQuery, rows: list[list[Any]], language: str, names: Labeler) -> list[str]:
    """The numbers of ``answer`` that are neither a formatted cell of ``rows`` nor a row count or rank."""
    q = query.query
    quoted = [format_period(q.period.start, q.period.end, language)]
    if query.previous_period is not None:
        quoted.append(format_period(query.previous_period.start, query.previous_period.end, language))
    for key in [q.grain, *q.dimensions, *(f.dimension for f in q.filters)]:
        if key:
            quoted.append(display_name(MODEL, key, language))
    for item in q.filters:
        quoted += [names(item.dimension, m, language) or m for m in item.members]
    for metric in q.metrics:
        quoted += [display_name(MODEL, metric, language), MODEL.metrics[metric].description(language)]
    allowed = {f"{n:,}" for n in [len(rows), *range(1, RANKING_SHOWN + 1)]}
    for row in rows:
        for column, value in zip(query.columns, row, strict=True):
            if column == q.grain:
                quoted.append(format_bucket(value, column, language))
            elif column in q.dimensions:
                quoted.append(str(value) if value is None else names(column, value, language) or value)
            else:
                allowed.update(NUMBER.findall(format_value(value, column_format(column, MODEL), language)))
    for verbatim in sorted(quoted, key=len, reverse=True):
        answer = answer.replace(verbatim, " ")
    return [n for n in NUMBER.findall(answer) if n not in allowed]


CHECKED = compiled(
    metrics=["gmv", "gross_margin"], dimensions=["channel"], period=DECEMBER, compare="yoy",
    filters=[{"dimension": "channel", "members": ["tmall", "jd", "douyin"]}],
)  # fmt: skip
CHECKED_ROWS = [
    ["tmall", Decimal("3682324.42"), Decimal("3567000.00"), 0.0323, 0.2915, 0.30, -0.0283],
    ["jd", Decimal("1250000.00"), None, None, 0.25, None, None],
    ["douyin", Decimal("8532.10"), Decimal("9000.00"), -0.052, None, 0.2, None],
]


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_honesty_check_passes_a_faithful_text(language: str) -> None:
    answer = text(CHECKED, CHECKED_ROWS, language)
    assert len(NUMBER.findall(answer)) >= 5
    assert unexplained(answer, CHECKED, CHECKED_ROWS, language, labels) == []


@pytest.mark.parametrize(
    ("language", "right", "wrong"),
    [
        ("zh", "¥368.23万", "¥368.24万"),  # a wrong digit
        ("en", "+3.2%", "-3.2%"),  # a flipped sign
        ("zh", "¥0.85万", "¥0.86万"),  # a number in a unit the result does not have
        ("en", "¥3.68M", "¥3.68"),  # a dropped unit
    ],
)
def test_the_honesty_check_catches_an_injected_number(language: str, right: str, wrong: str) -> None:
    answer = text(CHECKED, CHECKED_ROWS, language)
    if right not in answer:  # "¥0.85万" is not a form of any cell: inject it next to a real one
        answer = answer.replace("¥368.23万", f"¥368.23万 {right}")
    assert unexplained(answer.replace(right, wrong, 1), CHECKED, CHECKED_ROWS, language, labels) == [wrong]


def test_the_honesty_check_catches_a_computed_total() -> None:
    total = sum(row[1] for row in CHECKED_ROWS)
    answer = text(CHECKED, CHECKED_ROWS, "zh") + f"合计 {format_value(total, 'cny', 'zh')}。"
    assert unexplained(answer, CHECKED, CHECKED_ROWS, "zh", labels) == ["¥494.09万"]


# -- many generated results -------------------------------------------------------------
_VALUES: dict[str | None, list[Any]] = {
    "cny": [0, Decimal("0.004"), Decimal("8532.10"), 9999.996, 12345.678, Decimal("3682324.42"), -125400.5,
            99999999.99, 1.25e8, 1.23e10, -3.2e9, None],
    "percent": [0.2915, -0.05, 0.0, 1.5, 0.000049, None, float("nan")],
    "count": [0, 7, 8532, 12345, 123456789, None],
    "days": [62.04, 0.0, -3.25, 1234.56, None],
    "times_per_year": [3.8093, 0.0, None],
    "ratio": [2.345, -1.2, None],
    "growth": [0.032, -0.125, 0.0, 12.5, -1.0, 0.0004, None, float("inf")],
}  # fmt: skip
_CODES = {
    "channel": ["tmall", "jd", "douyin", "offline", "xiaohongshu"],
    "category": ["面膜", "精华", "口红", "防晒"],
    "sku": [f"sku{i:05d}" for i in range(1, 31)],
    "city": ["上海", "北京", "杭州"],
}
_SHAPES = [
    ({"metrics": ["gmv"]}, None),
    ({"metrics": ["gross_margin", "units_sold", "inventory_turnover"]}, None),
    ({"metrics": ["dio", "promo_roi"]}, None),
    ({"metrics": ["gmv", "gross_margin"], "dimensions": ["channel"]}, None),
    ({"metrics": ["orders"], "dimensions": ["city", "channel"]}, None),
    ({"metrics": ["dio"], "dimensions": ["sku"]}, None),
    ({"metrics": ["gmv"], "dimensions": ["category"], "order_by": {"field": "gmv"}}, "limit"),
    ({"metrics": ["dio", "inventory_turnover"], "dimensions": ["sku"], "order_by": {"field": "dio", "descending": False}},
     "limit"),
    ({"metrics": ["gmv"], "grain": "month"}, None),
    ({"metrics": ["units_sold"], "grain": "week"}, None),
    ({"metrics": ["gross_margin"], "grain": "quarter", "dimensions": ["channel"]}, None),
    ({"metrics": ["gmv"], "grain": "day", "order_by": {"field": "gmv"}}, "limit"),
]  # fmt: skip
_PERIODS = [DECEMBER, {"start": "2025-07-01", "end": "2025-09-30"}, {"start": "2025-01-01", "end": "2025-12-31"},
            {"start": "2025-03-01", "end": "2025-03-15"}, {"start": "2024-02-29", "end": "2024-02-29"}]  # fmt: skip
_FILTERS = [[], [{"dimension": "channel", "members": ["tmall", "jd"]}],
            [{"dimension": "channel", "members": ["offline"], "exclude": True}],
            [{"dimension": "category", "members": ["面膜"]}, {"dimension": "channel_type", "members": ["online"]}],
            [{"dimension": "category", "members": ["面膜", "精华"], "exclude": True}]]  # fmt: skip


@functools.cache
def _cuts(metric: str) -> list[str]:
    return MODEL.metric_dimensions(metric)


def _random_case(rng: random.Random) -> tuple[CompiledQuery, list[list[Any]], bool]:
    shape, needs_limit = rng.choice(_SHAPES)
    fits = [f for f in _FILTERS if all(i["dimension"] in _cuts(m) for m in shape["metrics"] for i in f)]
    query = {**shape, "period": rng.choice(_PERIODS), "filters": rng.choice(fits)}
    query["compare"] = rng.choice([None, "yoy", "pop"])
    if needs_limit:
        query["limit"] = rng.choice([1, 3, 5, 15])
    plan = compiled(**query)
    count = 1 if not plan.query.dimensions and not plan.query.grain else rng.choice([0, 1, 2, 3, 5, 12, 25])
    count = min(count, plan.query.limit or count)
    rows = []
    for i in range(rng.choice([0, count]) if count == 1 else count):
        row: list[Any] = []
        for column in plan.columns:
            if column == plan.query.grain:
                row.append(plan.query.period.start + dt.timedelta(days=7 * i))
            elif column in plan.query.dimensions:
                row.append(rng.choice([*_CODES[column], None] if rng.random() < 0.1 else _CODES[column]))
            else:
                row.append(rng.choice(_VALUES[column_format(column, MODEL)]))
        rows.append(row)
    return plan, rows, rng.random() < 0.1


def test_every_number_of_every_text_comes_from_the_result() -> None:
    rng = random.Random(20251231)
    checked = 0
    for _ in range(400):
        plan, rows, truncated = _random_case(rng)
        for language in ("zh", "en"):
            answer = text(plan, rows, language, truncated)
            assert unexplained(answer, plan, rows, language, labels) == [], answer
            assert not re.search(r"sku\d{5}|\btmall\b|\bdouyin\b|\bNone\b|\bnan\b|\binf\b", answer), answer
            checked += len(NUMBER.findall(answer))
    assert checked > 3000  # the check is not vacuous


# -- how the texts read -------------------------------------------------------------------
def test_a_single_number_with_the_period_filters_and_definition() -> None:
    plan = compiled(
        metrics=["gross_margin"], period=DECEMBER, filters=[{"dimension": "channel", "members": ["tmall", "jd"]}]
    )
    assert text(plan, [[0.29154]], "zh") == "2025年12月(天猫、京东),毛利率 29.15%。口径: 毛利 / 销售额。"
    assert (
        text(plan, [[0.29154]], "en")
        == "December 2025 (Tmall and JD), gross margin 29.15%. Definition: gross_profit / gmv."
    )


def test_a_comparison_states_current_previous_and_growth() -> None:
    plan = compiled(metrics=["gmv"], period={"start": "2025-07-01", "end": "2025-09-30"}, compare="yoy")
    row = [[Decimal("3682324.42"), Decimal("3802000.10"), -0.0315]]
    assert text(plan, row, "zh").startswith("2025年Q3,销售额 ¥368.23万,同比 -3.1%(2024年Q3 ¥380.20万)。口径: ")
    assert text(plan, row, "en").startswith("Q3 2025, GMV ¥3.68M (-3.1% YoY; Q3 2024: ¥3.80M). Definition: ")
    missing = [[Decimal("3682324.42"), None, None]]
    assert "2024年Q3无数据,无法计算同比" in text(plan, missing, "zh")
    assert "(no data for Q3 2024 to compare with)" in text(plan, missing, "en")


def test_a_breakdown_names_its_top_three_by_display_name() -> None:
    plan = compiled(metrics=["gmv"], dimensions=["channel"], period=DECEMBER)
    rows = [["jd", Decimal("223225")], ["tmall", Decimal("513200")], ["douyin", None], ["offline", Decimal("8532.1")],
            ["xiaohongshu", Decimal("100")]]  # fmt: skip
    assert text(plan, rows, "zh").startswith(
        "2025年12月,按渠道共 5 行。销售额最高的 3 个: 天猫 ¥51.32万、京东 ¥22.32万、线下门店 ¥8,532.10。"
    )
    assert text(plan, rows, "en").startswith(
        "December 2025, by channel: 5 rows. Highest GMV: Tmall ¥513.2K; JD ¥223.2K; offline stores ¥8,532.10."
    )


def test_a_ranking_lists_the_rows_in_order() -> None:
    plan = compiled(
        metrics=["dio"], dimensions=["sku"], period={"start": "2025-03-01", "end": "2025-03-15"},
        order_by={"field": "dio"}, limit=2, filters=[{"dimension": "category", "members": ["面膜"]}],
    )  # fmt: skip
    rows = [["sku00002", 650.0], ["sku00001", 329.26]]
    assert text(plan, rows, "zh").startswith(
        "2025-03-01 至 2025-03-15(品类: 面膜),按库存周转天数从高到低前2(商品): "
        "1. 水润面膜10片装 650.0 天; 2. 水润面膜5片装 329.3 天。口径: "
    )
    assert text(plan, rows, "en").startswith(
        "1 Mar 2025 to 15 Mar 2025 (category: Face mask), top 2 by days of inventory outstanding (SKU): "
        "1. Aqua Face mask 10 sheets 650.0 days; 2. Aqua Face mask 5 sheets 329.3 days. Definition: "
    )


def test_a_time_series_gives_first_last_highest_and_lowest() -> None:
    plan = compiled(metrics=["gmv"], grain="month", period={"start": "2025-01-01", "end": "2025-03-31"})
    rows = [[dt.date(2025, 1, 1), 1.181e6], [dt.date(2025, 2, 1), 0.9e6], [dt.date(2025, 3, 1), 1.3e6]]
    assert text(plan, rows, "zh").startswith(
        "2025年Q1,按月共 3 期,销售额: 首期 2025年1月 ¥118.10万,末期 2025年3月 ¥130.00万; "
        "最高 2025年3月 ¥130.00万,最低 2025年2月 ¥90.00万。"
    )
    assert text(plan, rows, "en").startswith(
        "Q1 2025, by month (3 periods), GMV: first January 2025 ¥1.18M, last March 2025 ¥1.30M; "
        "highest March 2025 ¥1.30M, lowest February 2025 ¥900.0K."
    )


def test_one_row_reads_like_a_single_number_with_its_label() -> None:
    plan = compiled(metrics=["gmv"], dimensions=["channel"], period=DECEMBER, compare="pop")
    rows = [["tmall", 513200.0, 464100.0, 0.1058]]
    assert text(plan, rows, "en").startswith(
        "December 2025, Tmall GMV ¥513.2K (+10.6% vs previous period; November 2025: ¥464.1K)."
    )


def test_no_data_names_the_period_and_filters() -> None:
    plan = compiled(metrics=["gmv"], period=DECEMBER, filters=[{"dimension": "channel_type", "members": ["online"]}])
    assert text(plan, [[None]], "zh") == "2025年12月(线上渠道)没有符合条件的数据。"
    breakdown = compiled(metrics=["gmv"], dimensions=["channel"], period=DECEMBER,
                         filters=[{"dimension": "channel", "members": ["offline"], "exclude": True}])  # fmt: skip
    assert text(breakdown, [], "en") == "No data for December 2025 (excluding offline stores)."


def test_a_truncated_result_says_so_and_describes_the_rows_shown_only() -> None:
    plan = compiled(metrics=["gmv"], dimensions=["sku"], period=DECEMBER)
    rows = [[f"sku{i:05d}", float(i)] for i in range(1, 31)]
    zh = text(plan, rows, "zh", truncated=True)
    assert "按商品(只看已返回的前 30 行)" in zh and "共 30 行" not in zh
    assert "结果超过行数上限,只返回了前 30 行,以上只描述这些行。可以少拆分(商品)或缩短时间范围。" in zh
    en = text(plan, rows, "en", truncated=True)
    assert "only the first 30 rows were returned" in en and "30 rows" not in en.replace("first 30 rows", "")
    assert "row limit" not in text(plan, rows, "en")
    counted = compose_text(plan, rows, MODEL, "en", labels=labels, truncated=True, total_rows=12_345)
    assert "The result has 12,345 rows, more than the row limit" in counted and "fewer breakdowns (SKU)" in counted
    daily = compiled(metrics=["gmv"], grain="day", period=DECEMBER)
    days = [[dt.date(2025, 12, i), float(i)] for i in range(1, 11)]
    series = compose_text(daily, days, MODEL, "zh", labels=labels, truncated=True, total_rows=31)
    assert "末期" not in series and "结果共 31 行" in series and "按周汇总" in series


# -- formats ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "fmt", "zh", "en"),
    [
        (Decimal("3682324.42"), "cny", "¥368.23万", "¥3.68M"),
        (125400, "cny", "¥12.54万", "¥125.4K"),
        (Decimal("8532.10"), "cny", "¥8,532.10", "¥8,532.10"),
        (1.25e8, "cny", "¥1.25亿", "¥125.00M"),
        (1.25e9, "cny", "¥12.50亿", "¥1.25B"),
        (99_999_999.99, "cny", "¥1.00亿", "¥100.00M"),
        (999_960, "cny", "¥100.00万", "¥1.00M"),
        (-3682324.42, "cny", "-¥368.23万", "-¥3.68M"),
        (-0.001, "cny", "¥0.00", "¥0.00"),
        (0.29154, "percent", "29.15%", "29.15%"),
        (-0.05, "percent", "-5.00%", "-5.00%"),
        (62, "days", "62.0 天", "62.0 days"),
        (3.8093, "times_per_year", "3.81 次/年", "3.81 times/year"),
        (12345, "count", "1.23万", "12,345"),
        (8532, "count", "8,532", "8,532"),
        (2.345, "ratio", "2.35", "2.35"),  # binary 2.345 is a hair above
        (0.032, "growth", "+3.2%", "+3.2%"),
        (-0.125, "growth", "-12.5%", "-12.5%"),
        (None, "cny", "—", "—"),
        (float("nan"), "percent", "—", "—"),
        (dt.date(2025, 1, 1), None, "2025-01-01", "2025-01-01"),
        ("tmall", None, "tmall", "tmall"),
    ],
)
def test_format_value(value: Any, fmt: str | None, zh: str, en: str) -> None:
    assert format_value(value, fmt, "zh") == zh
    assert format_value(value, fmt, "en") == en


@pytest.mark.parametrize(
    ("start", "end", "zh", "en"),
    [
        ("2025-12-01", "2025-12-31", "2025年12月", "December 2025"),
        ("2024-02-01", "2024-02-29", "2024年2月", "February 2024"),
        ("2025-07-01", "2025-09-30", "2025年Q3", "Q3 2025"),
        ("2025-10-01", "2025-12-31", "2025年Q4", "Q4 2025"),
        ("2025-01-01", "2025-12-31", "2025年", "2025"),
        ("2025-03-01", "2025-03-15", "2025-03-01 至 2025-03-15", "1 Mar 2025 to 15 Mar 2025"),
        ("2025-02-01", "2025-04-30", "2025-02-01 至 2025-04-30", "1 Feb 2025 to 30 Apr 2025"),
        ("2025-03-01", "2025-03-01", "2025年3月1日", "1 Mar 2025"),
    ],
)
def test_format_period(start: str, end: str, zh: str, en: str) -> None:
    first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    assert (format_period(first, last, "zh"), format_period(first, last, "en")) == (zh, en)


def test_format_bucket() -> None:
    day = dt.date(2025, 3, 3)
    assert [format_bucket(day, g, "zh") for g in ("day", "week", "month", "quarter", "year")] == [
        "2025年3月3日", "2025年3月3日当周", "2025年3月", "2025年Q1", "2025年",
    ]  # fmt: skip
    assert [format_bucket(day, g, "en") for g in ("day", "week", "month", "quarter", "year")] == [
        "3 Mar 2025", "week of 3 Mar 2025", "March 2025", "Q1 2025", "2025",
    ]  # fmt: skip


# -- end to end on the demo warehouse ------------------------------------------------------
def test_demo_answers_name_members_and_state_only_result_numbers(demo_db: Path) -> None:
    from agent.metric_runner import master_data_labeler, run_metric_query
    from engines import connect
    from engines.members import load_master_data

    by_channel = MetricQuery(metrics=["gmv", "gross_margin"], dimensions=["channel"], period=DECEMBER, compare="yoy")
    top_masks = MetricQuery(
        metrics=["gmv"], dimensions=["sku"], period=DECEMBER, order_by={"field": "gmv"}, limit=5,
        filters=[{"dimension": "category", "members": ["面膜"]}],
    )  # fmt: skip
    engine = connect(str(demo_db))
    try:
        names = master_data_labeler(load_master_data(engine), MODEL)
        texts = {}
        for query in (by_channel, top_masks):
            plan = compile_query(query, MODEL)
            for language in ("zh", "en"):
                answer = run_metric_query(query, engine, language=language, model=MODEL, labels=names)
                assert answer.status == "answer" and len(answer.rows) == 5
                raw = [
                    [v for c, v in zip(answer.columns, row, strict=True) if c in plan.columns] for row in answer.rows
                ]
                assert unexplained(answer.text, plan, raw, language, names) == [], answer.text
                assert not re.search(r"sku\d{5}|\btmall\b", answer.text), answer.text
                texts[query.dimensions[0], language] = answer.text
    finally:
        engine.close()
    assert "天猫" in texts["channel", "zh"] and "Tmall" in texts["channel", "en"]
    assert "面膜" in texts["sku", "zh"] and "Face mask" in texts["sku", "en"]


@pytest.mark.parametrize(
    ("values", "driver"),
    [
        # dio +7, dso -5.5, dpo -1.9 (a falling dpo lengthens the cycle): dio moved it most
        ({"dio": (101.9, 94.9), "dso": (18.8, 24.3), "dpo": (61.4, 63.3)}, "库存周转天数"),
        # dpo fell by 20 days: the cycle is longer mainly because we pay suppliers sooner
        ({"dio": (95.0, 94.0), "dso": (20.0, 20.0), "dpo": (43.0, 63.0)}, "应付周转天数"),
    ],
)
def test_a_composite_compared_says_which_component_moved_it(values: dict, driver: str) -> None:
    plan = compiled(metrics=["ccc", "dio", "dso", "dpo"], period=DECEMBER, compare="pop")
    now = {m: v[0] for m, v in values.items()}
    before = {m: v[1] for m, v in values.items()}
    now["ccc"], before["ccc"] = now["dio"] + now["dso"] - now["dpo"], before["dio"] + before["dso"] - before["dpo"]
    cells = {**now, **{f"{m}_previous": v for m, v in before.items()}}
    cells |= {f"{m}_growth": now[m] / before[m] - 1 for m in now}
    answer = text(plan, [[cells[c] for c in plan.columns]], "zh")
    assert f"变化主要来自{driver}。" in answer, answer
    assert unexplained(answer, plan, [[cells[c] for c in plan.columns]], "zh", labels) == []
