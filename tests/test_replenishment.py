"""The replenishment tool: policy maths on synthetic inputs, censored demand on a hand-built
warehouse, seasonality alignment, and the tool end to end on the small demo (both languages,
every number of the text traceable to a cell or a fact, roles refused)."""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from scipy import stats

from demo.schema import COLUMNS, DDL
from engines import connect
from engines.members import load_master_data
from presentation.metric_format import format_value
from semantic_layer.errors import PolicyDeniedError
from semantic_layer.query import Principal
from semantic_layer.semantic_model import load_model
from tools.base import ToolContext, ToolOutput
from tools.reads import Reader
from tools.replenishment import Arguments, ReplenishmentTool, policy
from tools.replenishment.demand import load_history, order_multiples, year_start
from tools.replenishment.narrate import COLUMN_FORMATS, FACT_FORMATS, TOP_SHOWN
from tools.replenishment.recommend import learn, recommend
from tools.replenishment.seasonality import ForecastCalendar, aligned_day

MODEL = load_model()
TODAY = dt.date(2026, 1, 1)
REQUIRED = ["sku_id", "sku_name", "warehouse_id", "on_hand_qty", "in_transit_qty", "avg_daily_demand",
            "lead_time_days", "safety_stock", "reorder_point", "order_qty", "abc_class", "action", "reason"]  # fmt: skip


# -- policy maths -------------------------------------------------------------------------
def test_abc_classes_by_cumulative_revenue_share_per_sku() -> None:
    skus = np.array(["s1", "s1", "s2", "s3", "s4", "s5", "s6", "s7"])
    revenue = np.array([50.0, 50.0, 30.0, 10.0, 5.0, 3.0, 2.0, 0.0])  # s1 repeated: one SKU, two warehouses
    assert policy.abc_classes(skus, revenue).tolist() == ["A", "A", "A", "B", "B", "C", "C", "C"]


def test_xyz_and_demand_patterns() -> None:
    assert policy.xyz_classes(np.array([0.2, 0.5, 0.7, 1.0, 3.0, np.inf])).tolist() == ["X", "X", "Y", "Y", "Z", "Z"]
    adi = np.array([1.0, 1.0, 2.0, 2.0, np.inf])
    cv2 = np.array([0.1, 0.9, 0.1, 0.9, 0.0])
    assert policy.demand_patterns(adi, cv2).tolist() == ["smooth", "erratic", "intermittent", "lumpy", "none"]


def test_smooth_demand_uses_the_textbook_safety_stock() -> None:
    rate, sd, lead, lead_sd, review = np.array([20.0]), np.array([6.0]), np.array([10.0]), np.array([3.0]), 7
    out = policy.reorder_points(
        rate, sd, np.ones(1), lead, lead_sd, review, np.array([0.95]), np.zeros(1, bool), np.ones(1)
    )
    safety = stats.norm.ppf(0.95) * math.sqrt(17 * 6.0**2 + 20.0**2 * 3.0**2)
    assert out["reorder_point"][0] == math.ceil(20 * 17 + safety)
    assert out["safety_stock"][0] == round(math.ceil(20 * 17 + safety) - 20 * 17)
    assert out["avg_daily_demand"][0] == 20.0


def test_seasonal_index_scales_demand_and_spread() -> None:
    def level(index: float) -> dict[str, np.ndarray]:
        return policy.reorder_points(
            rate=np.array([2.0]),
            sd=np.array([1.0]),
            index_mean=np.array([index]),
            lead_mean=np.array([5.0]),
            lead_sd=np.array([1.0]),
            review_days=7,
            service=np.array([0.9]),
            intermittent=np.zeros(1, bool),
            multiple=np.ones(1),
        )

    assert level(1.5)["avg_daily_demand"][0] == pytest.approx(3.0)
    assert level(1.5)["reorder_point"][0] > level(1.0)["reorder_point"][0]


def test_order_multiple_lowers_the_level_but_keeps_the_average_service() -> None:
    mean, sd, service = np.array([100.0, 100.0]), np.array([20.0, 20.0]), np.array([0.95, 0.95])
    single, packs = policy.normal_levels(mean, sd, service, np.array([1, 24]))
    assert single == math.ceil(100 + stats.norm.ppf(0.95) * 20)
    average = stats.norm.cdf((packs + np.arange(24) - 100) / 20).mean()
    below = stats.norm.cdf((packs - 1 + np.arange(24) - 100) / 20).mean()
    assert packs < single and average >= 0.95 > below


def test_count_cdf_matches_scipy() -> None:
    from tools.replenishment.policy import count_cdf

    mean, var = np.array([0.3, 2.0, 40.0, 3.0]), np.array([0.9, 2.0, 300.0, 2.5])
    cdf = count_cdf(120, mean, var)
    k = np.arange(121)
    for i in range(3):
        expected = (
            stats.nbinom.cdf(k, mean[i] ** 2 / (var[i] - mean[i]), mean[i] / var[i])
            if var[i] > mean[i]
            else stats.poisson.cdf(k, mean[i])
        )
        np.testing.assert_allclose(cdf[i], expected, atol=1e-12)
    np.testing.assert_allclose(cdf[3], stats.poisson.cdf(k, 3.0), atol=1e-12)  # under-dispersed: Poisson


def test_intermittent_level_meets_service_and_fill_rate_and_is_the_smallest() -> None:
    mean, var, lead_mean, lead_var = np.array([1.5]), np.array([3.0]), np.array([1.0]), np.array([2.0])
    cycle, service = np.array([0.5]), np.array([0.95])
    level = int(policy.count_levels(mean, var, lead_mean, lead_var, cycle, service, np.ones(1, np.int64))[0])
    r, p = 1.5**2 / 1.5, 1.5 / 3.0
    r_l, p_l = 1.0, 0.5

    def short(s: int) -> float:
        k = np.arange(400)
        over = np.clip(k - s, 0, None)
        return float((over * stats.nbinom.pmf(k, r, p)).sum() - (over * stats.nbinom.pmf(k, r_l, p_l)).sum())

    def meets(s: int) -> bool:
        return bool(stats.nbinom.cdf(s, r, p) >= 0.95 and short(s) <= 0.05 * 0.5)

    assert meets(level) and not meets(level - 1)


def test_no_demand_means_no_stock_and_sparse_demand_still_gets_one_unit() -> None:
    out = policy.reorder_points(
        np.array([0.0, 0.002]), np.array([0.0, 0.05]), np.ones(2), np.array([10.0, 10.0]), np.array([2.0, 2.0]),
        7, np.array([0.9, 0.9]), np.ones(2, bool), np.array([12, 12]),
    )  # fmt: skip
    assert out["reorder_point"].tolist() == [0.0, 1.0]


def test_order_quantities_round_up_to_the_multiple() -> None:
    qty = policy.order_quantities(
        np.array([0.0, 5.0, 30.0, 29.0]), np.array([25.0, 25.0, 25.0, 30.0]), np.array([12, 1, 6, 6])
    )
    assert qty.tolist() == [36.0, 20.0, 0.0, 6.0]


def test_actions_first_match_wins() -> None:
    on_hand = np.array([10.0, 0.0, 500.0, 2.0, 30.0, 50.0])
    in_transit = np.array([0.0, 0.0, 0.0, 40.0, 0.0, 0.0])
    rop = np.array([5.0, 5.0, 20.0, 20.0, 20.0, 0.0])
    daily = np.array([0.0, 1.0, 1.0, 1.0, 1.0, 0.0])
    units_90d = np.array([0.0, 3.0, 5.0, 5.0, 5.0, 0.0])
    active = np.array([True, True, True, True, True, False])
    out = policy.actions(on_hand, in_transit, rop, daily, np.full(6, 10.0), np.full(6, 12.0), units_90d, active)
    assert out.tolist() == ["slow_mover", "order_now", "overstock", "watch", "ok", "overstock"]


def test_order_multiple_is_the_gcd_of_distinct_quantities() -> None:
    frame = pd.DataFrame(
        {"sku_id": ["a", "a", "a", "a", "b", "b", "c", "c"], "quantity": [24, 36, 36, 60, 24, 48, 12, 12]}
    )
    assert order_multiples(frame).to_dict() == {"a": 12, "b": 1, "c": 1}


# -- seasonality ------------------------------------------------------------------------------
def test_aligned_day_follows_the_date_and_the_spring_festival() -> None:
    start, end = dt.date(2024, 1, 1), dt.date(2024, 12, 31)
    assert aligned_day(dt.date(2025, 11, 11), start, end) == dt.date(2024, 11, 11)
    # 2025-01-29 is Spring Festival; so was 2024-02-10
    assert aligned_day(dt.date(2025, 1, 29), start, end) == dt.date(2024, 2, 10)
    assert aligned_day(dt.date(2025, 2, 3), start, end) == dt.date(2024, 2, 15)
    assert aligned_day(dt.date(2026, 4, 1), start, end) == dt.date(2024, 4, 1)  # two years back
    assert aligned_day(dt.date(2026, 3, 1), start, end) == dt.date(2024, 2, 22)  # 12 days after the festival
    assert aligned_day(dt.date(2024, 6, 1), dt.date(2024, 3, 1), end) is None
    assert aligned_day(dt.date(2028, 2, 29), dt.date(2027, 1, 1), dt.date(2027, 12, 31)) == dt.date(2027, 2, 28)


def test_forecast_calendar_window_means() -> None:
    calendar = ForecastCalendar(dt.date(2025, 1, 1), {("面膜", "w"): 0}, np.array([[1.0, 2.0, 3.0, 4.0], [1, 1, 1, 1]]))
    rows = np.array([0, 0, 1])
    np.testing.assert_allclose(calendar.window_mean(rows, 1, np.array([2, 3, 2])), [2.5, 3.0, 1.0])
    assert calendar.rows(np.array(["面膜", "精华"]), np.array(["w", "w"])).tolist() == [0, 1]


# -- censored demand on a hand-built warehouse ------------------------------------------------
def _tiny_warehouse(path: Path) -> Path:
    """One store, one warehouse, two SKUs over 2024. sku_a is wanted 4 a day but is out of stock
    every third day (those days record 1 unit, what was left); sku_b sells 1 a day, always in stock."""
    con = duckdb.connect(str(path))
    for ddl in DDL.values():
        con.execute(ddl)
    con.execute("INSERT INTO dim_warehouse VALUES ('wh1', '一号仓', 'Warehouse 1', '上海')")
    store = ("s1", "天猫旗舰店", "Tmall flagship", "tmall", "online", "杭州", "Hangzhou", "华东", "East", "wh1")
    con.execute(f"INSERT INTO dim_store VALUES {store}")
    con.execute("INSERT INTO dim_supplier VALUES ('sup1', '供应商', 10.0, 2.0, 30)")
    for sku, price in (("sku_a", 100.0), ("sku_b", 50.0)):
        con.execute(
            f"INSERT INTO dim_sku VALUES ('{sku}', '{sku}面膜', '{sku} mask', '面膜', 'Face mask', '花间集', "
            f"'Huajianji', 'sup1', {price * 0.6}, {price}, DATE '2020-01-01')"
        )
    days = pd.date_range("2024-01-01", "2024-12-31", freq="D")
    out = (np.arange(len(days)) % 3) == 2
    inventory, sales = [], []
    for i, day in enumerate(days):
        inventory.append((day.date(), "wh1", "sku_a", 0 if out[i] else 50, 0, 0.0 if out[i] else 3000.0))
        inventory.append((day.date(), "wh1", "sku_b", 30, 0, 900.0))
        for line, (sku, qty, price) in enumerate((("sku_a", 1 if out[i] else 4, 100.0), ("sku_b", 1, 50.0)), 1):
            sales.append(
                (1000 + i, line, day.date(), "s1", sku, qty, price, qty * price, qty * price * 0.6, None, False)
            )
    for table, rows in (("fact_inventory_daily", inventory), ("fact_sales", sales)):
        frame = pd.DataFrame(rows, columns=[c for c, _ in COLUMNS[table]])
        con.register("new_rows", frame)
        con.execute(f"INSERT INTO {table} SELECT * FROM new_rows")
        con.unregister("new_rows")
    pos = [("po1", "sup1", "sku_a", "wh1", dt.date(2024, 3, 1), dt.date(2024, 3, 11), dt.date(2024, 3, 13), 24, 60.0, 1440.0),
           ("po2", "sup1", "sku_a", "wh1", dt.date(2024, 5, 1), dt.date(2024, 5, 11), dt.date(2024, 5, 15), 36, 60.0, 2160.0),
           ("po3", "sup1", "sku_a", "wh1", dt.date(2024, 7, 1), dt.date(2024, 7, 11), dt.date(2024, 7, 14), 60, 60.0, 3600.0)]  # fmt: skip
    con.executemany("INSERT INTO fact_purchase_order VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", pos)
    con.close()
    return path


def test_stockout_days_are_censored_not_zero_demand(tmp_path: Path) -> None:
    engine = connect(_tiny_warehouse(tmp_path / "tiny.duckdb"))
    history = load_history(Reader(engine, MODEL), dt.date(2024, 12, 31))
    assert history.start == year_start(dt.date(2024, 12, 31)) == dt.date(2024, 1, 1)
    table = recommend(learn(history, 7)).set_index("sku_id")
    a = table.loc["sku_a"]
    # recorded sales average 3 a day; the in-stock days say 4
    assert a["avg_daily_demand"] == pytest.approx(4.0)
    assert a["stockout_share"] == pytest.approx(122 / 366, abs=1e-4)
    assert a["demand_pattern"] == "smooth" and a["abc_class"] == "A" and a["order_multiple"] == 12
    # lead time: the three observed orders (12, 14 and 13 days) shrunk towards the quoted 10 +- 2
    lead = (3 * 13 + 5 * 10) / 8
    lead_sd = math.sqrt((3 * 1.0 + 5 * 4.0) / 8)
    assert a["lead_time_days"] == pytest.approx(round(lead, 1))
    mean = 4.0 * (lead + 7)
    level = policy.normal_levels(np.array([mean]), np.array([4.0 * lead_sd]), np.array([0.98]), np.array([12]))[0]
    assert a["reorder_point"] == level
    # 2024-12-31 is one of its stockout days: nothing on hand, order up to the level in packs of 12
    assert a["action"] == "order_now" and a["inventory_position"] == 0
    assert a["order_qty"] == math.ceil(level / 12) * 12


# -- the tool on the small demo -----------------------------------------------------------------
@pytest.fixture(scope="module")
def engine(demo_db: Path) -> Any:
    return connect(demo_db)


@pytest.fixture(scope="module")
def master(engine: Any) -> Any:
    return load_master_data(engine)


_RUNS: dict[str, ToolOutput] = {}


def _run(engine: Any, master: Any, language: str = "zh", role: str = "admin", **arguments: Any) -> ToolOutput:
    """The tool's output (one run per distinct call: several tests read the same answer)."""
    key = repr((id(engine), language, role, sorted(arguments.items())))
    if key not in _RUNS:
        context = ToolContext(engine, MODEL, Principal(role=role), TODAY, language, master)  # type: ignore[arg-type]
        _RUNS[key] = ReplenishmentTool().run(Arguments(**arguments), context)
    return _RUNS[key].model_copy(deep=True)


NUMBER = re.compile(r"[-+]?¥?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:万|亿|%|[KMB](?![A-Za-z]))?")


def unexplained(out: ToolOutput, language: str) -> list[str]:
    """Numbers of the text that are neither a formatted cell nor a formatted fact (nor a list number)."""
    text = out.text
    allowed = {str(i) for i in range(1, TOP_SHOWN + 1)}
    quoted: list[str] = []
    for row in out.rows:
        for column, value in zip(out.columns, row, strict=True):
            if column in COLUMN_FORMATS:
                allowed.update(NUMBER.findall(format_value(value, COLUMN_FORMATS[column], language)))
            elif column != "reason" and value is not None:
                quoted.append(format_value(value, None, language))
    for key, value in out.facts.items():
        formatted = format_value(value, FACT_FORMATS[key], language)
        (allowed.update(NUMBER.findall(formatted)) if FACT_FORMATS[key] else quoted.append(formatted))
    for phrase in sorted(set(quoted), key=len, reverse=True):
        text = text.replace(phrase, " ")
    return [n for n in NUMBER.findall(text) if n.lstrip("+-") not in allowed and n not in allowed]


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize(
    "arguments",
    [{}, {"actions": ["order_now"]}, {"actions": ["slow_mover"]}, {"category": "面膜", "limit": 5},
     {"actions": ["overstock", "watch"], "warehouse_id": "wh_sh"}],
)  # fmt: skip
def test_every_number_in_the_text_is_a_cell_or_a_fact(engine: Any, master: Any, language: str, arguments: dict) -> None:
    out = _run(engine, master, language, **arguments)
    assert out.rows, out.text
    assert unexplained(out, language) == []


def test_the_honesty_check_catches_a_made_up_number(engine: Any, master: Any) -> None:
    out = _run(engine, master, "en", limit=3)
    out.text += " Expect 4,321 stockouts."
    assert unexplained(out, "en") == ["4,321"]


def test_table_shape_order_and_counts(engine: Any, master: Any) -> None:
    out = _run(engine, master, "zh")
    assert all(c in out.columns for c in REQUIRED)
    table = pd.DataFrame(out.rows, columns=out.columns)
    assert len(table) == min(200, out.facts["pairs_total"]) == out.facts["rows_shown"]
    assert sum(out.facts[a] for a in policy.ACTIONS) == out.facts["pairs_total"]
    ranks = table["action"].map(policy.ACTIONS.index)
    assert ranks.is_monotonic_increasing
    first = table[table["action"] == "order_now"]
    assert first["days_of_cover"].fillna(np.inf).is_monotonic_increasing
    assert (first["inventory_position"] < first["reorder_point"]).all()
    assert ((first["order_qty"] > 0) & (first["order_qty"] % first["order_multiple"] == 0)).all()
    assert (table["inventory_position"] == table["on_hand_qty"] + table["in_transit_qty"]).all()
    assert out.period == (dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    assert out.metrics and all(m in MODEL.metrics for m in out.metrics)


def test_action_filters(engine: Any, master: Any) -> None:
    reorder = pd.DataFrame((o := _run(engine, master, "en", actions=["order_now"])).rows, columns=o.columns)
    assert set(reorder["action"]) == {"order_now"} and len(reorder) == o.facts["order_now"]
    slow = pd.DataFrame((s := _run(engine, master, "zh", actions=["slow_mover"])).rows, columns=s.columns)
    assert set(slow["action"]) == {"slow_mover"} and (slow["on_hand_qty"] > 0).all()
    recent = slow["last_sale_date"].dropna()
    assert (recent <= dt.date(2025, 12, 31) - dt.timedelta(days=90)).all()
    assert "滞销" in s.text and slow["inventory_value"].is_monotonic_decreasing


def test_scope_filters_by_category_name_in_either_language_and_warehouse(engine: Any, master: Any) -> None:
    zh = _run(engine, master, "zh", category="面膜", warehouse_id="wh_bj")
    en = _run(engine, master, "en", category="face mask", warehouse_id="wh_bj")
    assert zh.facts["pairs_total"] == en.facts["pairs_total"] > 0
    assert {r[zh.columns.index("category")] for r in zh.rows} == {"面膜"}
    assert {r[en.columns.index("warehouse_id")] for r in en.rows} == {"wh_bj"}
    assert "面膜" in zh.text and "Face mask" in en.text


def test_unknown_category_says_so(engine: Any, master: Any) -> None:
    out = _run(engine, master, "en", category="no such thing")
    assert out.rows == [] and out.facts["pairs_total"] == 0
    assert "no SKU x warehouse pair matches no such thing" in out.text and "Face mask" in out.text


def test_service_levels_raise_the_reorder_points(engine: Any, master: Any) -> None:
    base = pd.DataFrame((b := _run(engine, master, "en", limit=1000)).rows, columns=b.columns)
    high = pd.DataFrame((h := _run(engine, master, "en", limit=1000, service_levels={"c": 99})).rows, columns=h.columns)
    merged = base.merge(high, on=["sku_id", "warehouse_id"], suffixes=("", "_high"))
    c = merged[merged["abc_class"] == "C"]
    assert (c["service_level_high"] == 0.99).all() and (c["reorder_point_high"] >= c["reorder_point"]).all()
    assert (c["reorder_point_high"] > c["reorder_point"]).any()
    assert "99.00%" in h.text


def test_arguments_schema() -> None:
    assert Arguments(service_levels={"a": 99, "B": 0.9}).service_levels == {"A": 0.99, "B": 0.9}
    with pytest.raises(ValidationError):
        Arguments(service_levels={"D": 0.9})
    with pytest.raises(ValidationError):
        Arguments(actions=["buy"])  # type: ignore[list-item]
    with pytest.raises(ValidationError):
        Arguments(surprise=1)  # type: ignore[call-arg]
    schema = Arguments.model_json_schema()
    assert all(field.get("description") for field in schema["properties"].values())


@pytest.mark.parametrize("role", ["marketing", "store_manager"])
def test_roles_without_inventory_access_are_refused(engine: Any, master: Any, role: str) -> None:
    with pytest.raises(PolicyDeniedError):
        _run(engine, master, "zh", role=role)


def test_another_category_reuses_the_years_plan_and_answers_the_same(
    demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The year's history and every pair's plan are the same whatever the category: with the result cache, the
    second category's question reads no history again, and both answers are what an uncached assistant gives."""
    from agent.assistant import Assistant
    from tools.replenishment import tool as tool_module

    reads: list[dt.date] = []

    def counted(reader: Any, as_of: dt.date) -> Any:
        reads.append(as_of)
        return load_history(reader, as_of)

    monkeypatch.setattr(tool_module, "load_history", counted)
    cached = Assistant.open(demo_db, conversations=":memory:")
    uncached = Assistant.open(demo_db, conversations=":memory:", cache=False)
    try:
        questions = [f"给{member.name}做一份补货建议" for member in cached.master.members("category")[:2]]
        answers = [cached.ask(q) for q in questions]
        assert len(reads) == 1 and [a.status for a in answers] == ["answer", "answer"]
        assert answers[0].rows != answers[1].rows and answers[0].plan != answers[1].plan
        for question, answer in zip(questions, answers, strict=True):
            assert answer.model_dump(exclude={"cached", "data_version"}) == uncached.ask(question).model_dump(
                exclude={"cached", "data_version"}
            )
        assert len(reads) == 3  # without the cache every question reads the year
    finally:
        cached.close()
        uncached.close()
