"""The eval's result comparison (Spider 2.0 style) and plan comparison, on small hand-made tables."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pytest

from evals.compare import compare_plan, compare_tables, normalize


def same(
    gold_cols: list[str],
    gold_rows: Sequence[Sequence[Any]],
    cols: list[str],
    rows: Sequence[Sequence[Any]],
    order_matters: bool = False,
) -> bool:
    return compare_tables(gold_cols, gold_rows, cols, rows, order_matters=order_matters).ok


GOLD_COLS = ["channel", "gmv"]
GOLD = [("tmall", Decimal("100.50")), ("jd", Decimal("80.00")), ("douyin", Decimal("20.25"))]


def test_identical_tables_match() -> None:
    assert same(GOLD_COLS, GOLD, GOLD_COLS, [list(r) for r in GOLD])


def test_extra_renamed_and_reordered_answer_columns_are_fine() -> None:
    cols = ["gmv_growth", "销售额", "渠道名称", "渠道"]
    rows = [
        [0.1, 100.5, "天猫", "tmall"],
        [0.2, 80.0, "京东", "jd"],
        [0.3, 20.25, "抖音", "douyin"],
    ]
    assert same(GOLD_COLS, GOLD, cols, rows)


def test_missing_gold_column_names_it() -> None:
    result = compare_tables(GOLD_COLS, GOLD, ["channel"], [["tmall"], ["jd"], ["douyin"]])
    assert not result.ok
    assert result.reason == "gold column 2 (gmv) matches no answer column"


def test_row_order_ignored_unless_it_matters() -> None:
    shuffled = [["douyin", 20.25], ["tmall", 100.5], ["jd", 80.0]]
    assert same(GOLD_COLS, GOLD, GOLD_COLS, shuffled)
    assert not same(GOLD_COLS, GOLD, GOLD_COLS, shuffled, order_matters=True)
    assert same(GOLD_COLS, GOLD, GOLD_COLS, [list(r) for r in GOLD], order_matters=True)


def test_rows_must_line_up_not_just_the_columns() -> None:
    # each column as a sorted vector matches, but gmv sits next to the wrong channel
    swapped = [["tmall", 80.0], ["jd", 100.5], ["douyin", 20.25]]
    result = compare_tables(GOLD_COLS, GOLD, GOLD_COLS, swapped)
    assert not result.ok and "line up" in result.reason


def test_row_count_mismatch() -> None:
    result = compare_tables(GOLD_COLS, GOLD, GOLD_COLS, [["tmall", 100.5]])
    assert not result.ok and result.reason == "gold has 3 rows, the answer 1"


@pytest.mark.parametrize(
    ("gold", "got", "ok"),
    [
        (100.0, 100.0099, True),  # relative 9.9e-5
        (100.0, 100.011, False),  # relative 1.1e-4
        (0.0, 5e-7, True),  # absolute tolerance near zero
        (0.0, 2e-6, False),
        (Decimal("0.123456"), 0.1234567, True),
        (Decimal("12"), 12, True),
        (12, 12.0, True),
        (12, 13, False),
        (10_000, 10_001, False),  # two integers (counts) compare exactly
    ],
)
def test_numeric_tolerance(gold: object, got: object, ok: bool) -> None:
    assert same(["x"], [(gold,)], ["x"], [[got]]) is ok


def test_dates_match_iso_strings_and_midnight_datetimes() -> None:
    gold = [(dt.date(2025, 1, 1), 5), (dt.date(2025, 2, 1), 6)]
    assert same(["month", "n"], gold, ["month", "n"], [["2025-01-01", 5], ["2025-02-01", 6]])
    assert same(["month", "n"], gold, ["month", "n"], [[dt.datetime(2025, 1, 1), 5], ["2025-02-01T00:00:00", 6]])
    assert not same(["month", "n"], gold, ["month", "n"], [["2025-01-02", 5], ["2025-02-01", 6]])


def test_none_and_nan_are_missing_values() -> None:
    gold = [("a", None), ("b", 1.0)]
    assert same(["k", "v"], gold, ["k", "v"], [["a", float("nan")], ["b", 1.0]])
    assert same(["k", "v"], gold, ["k", "v"], [["a", None], ["b", 1.0]])
    assert not same(["k", "v"], gold, ["k", "v"], [["a", 0.0], ["b", 1.0]])
    assert normalize(Decimal("NaN")) is None


def test_duplicate_rows_count_as_a_multiset() -> None:
    gold = [("a", 1), ("a", 1), ("b", 2)]
    assert same(["k", "v"], gold, ["k", "v"], [["b", 2], ["a", 1], ["a", 1]])
    assert not same(["k", "v"], gold, ["k", "v"], [["a", 1], ["b", 2], ["b", 2]])


def test_two_gold_columns_with_equal_values() -> None:
    # gmv and revenue are equal; the answer shows the value once: both gold columns find it
    gold = [("tmall", 10.0, 10.0), ("jd", 5.0, 5.0)]
    assert same(["channel", "gmv", "revenue"], gold, ["channel", "gmv"], [["jd", 5.0], ["tmall", 10.0]])


def test_backtracks_over_candidate_columns() -> None:
    # gold column v matches both answer columns as a sorted vector; only the second lines up with k
    gold = [("a", 1), ("b", 2)]
    cols = ["k", "wrong", "right"]
    rows = [["a", 2, 1], ["b", 1, 2]]
    assert same(["k", "v"], gold, cols, rows)


def test_near_equal_numbers_that_sort_differently_still_pair_up() -> None:
    gold = [(1.0, 5), (1.00001, 6)]
    rows = [[1.00001, 5], [1.0, 6]]  # sorted, the rows pair (1.0, 5) with (1.0, 6): pairing must look further
    assert same(["v", "n"], gold, ["v", "n"], rows)


def test_empty_tables_match_when_the_columns_exist() -> None:
    assert same(["gmv"], [], ["gmv"], [])
    assert not same(["gmv"], [], [], [])


def test_plan_keys_given_are_compared() -> None:
    plan = {
        "metrics": ["gmv", "gross_margin"],
        "dimensions": ["channel"],
        "grain": "month",
        "filters": [{"dimension": "channel", "members": ["jd", "tmall"], "exclude": False}],
        "period": {"start": "2025-12-01", "end": "2025-12-31"},
        "compare": None,
        "order_by": {"field": "gmv", "descending": True},
        "limit": 5,
    }
    expected = {
        "metrics": ["gmv", "gross_margin"],
        "filters": [{"dimension": "channel", "members": ["tmall", "jd"]}],
        "period": {"start": dt.date(2025, 12, 1), "end": "2025-12-31"},
        "order_by": {"field": "gmv"},
        "compare": None,
    }
    assert compare_plan(expected, plan).ok
    assert not compare_plan({"metrics": ["gross_margin", "gmv"]}, plan).ok  # order counts
    wrong = compare_plan({"filters": [{"dimension": "channel", "members": ["tmall"]}]}, plan)
    assert not wrong.ok and wrong.reason.startswith("plan.filters: expected")
    assert not compare_plan(
        {"filters": [{"dimension": "channel", "members": ["jd", "tmall"], "exclude": True}]}, plan
    ).ok
    assert not compare_plan({"limit": 10}, plan).ok
    assert not compare_plan({"metrics": ["gmv"]}, None).ok


def test_tool_plans_compare_by_name_and_given_arguments() -> None:
    from evals.compare import compare_tool

    plan = {"kind": "tool", "tool": "ccc", "arguments": {"start": "2025-01-01", "focus": "ar_aging"}}
    assert compare_tool("ccc", {"focus": "ar_aging"}, plan).ok
    assert compare_tool("ccc", {"start": dt.date(2025, 1, 1)}, plan).ok
    assert not compare_tool("replenishment", {}, plan).ok
    assert "focus" in compare_tool("ccc", {"focus": "overview"}, plan).reason
    assert not compare_tool("ccc", {}, {"metrics": ["gmv"]}).ok
