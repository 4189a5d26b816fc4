"""The event calendar (DATA_CONTRACT.md, "Event periods"): windows from the model, the latest complete
one before today when no year is named, clear errors for years without dates, YAML-only additions."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pytest

from semantic_layer.compiler import compile_query
from semantic_layer.errors import QueryError, UnknownEventError
from semantic_layer.query import MetricQuery, Period
from semantic_layer.semantic_model import MODEL_DIR, ModelError, load_model

D = dt.date
TODAY = D(2026, 1, 1)  # the demo's reference day


def window(start: dt.date, end: dt.date) -> Period:
    return Period(start=start, end=end)


@pytest.mark.parametrize(
    ("text", "event_id", "latest", "in_2024"),
    [
        ("618", "mid_year_618", window(D(2025, 6, 1), D(2025, 6, 18)), window(D(2024, 6, 1), D(2024, 6, 18))),
        ("双11", "double11", window(D(2025, 11, 1), D(2025, 11, 11)), window(D(2024, 11, 1), D(2024, 11, 11))),
        ("双十一", "double11", window(D(2025, 11, 1), D(2025, 11, 11)), window(D(2024, 11, 1), D(2024, 11, 11))),
        ("Double 11", "double11", window(D(2025, 11, 1), D(2025, 11, 11)), window(D(2024, 11, 1), D(2024, 11, 11))),
        ("双12", "double12", window(D(2025, 12, 1), D(2025, 12, 12)), window(D(2024, 12, 1), D(2024, 12, 12))),
        ("春节", "spring_festival", window(D(2025, 1, 29), D(2025, 2, 4)), window(D(2024, 2, 10), D(2024, 2, 16))),
        ("Spring Festival", "spring_festival", window(D(2025, 1, 29), D(2025, 2, 4)),
         window(D(2024, 2, 10), D(2024, 2, 16))),
    ],
)  # fmt: skip
def test_contract_event_windows(text: str, event_id: str, latest: Period, in_2024: Period) -> None:
    model = load_model()
    event = model.find_event(text)
    assert event is not None and event.id == event_id
    assert model.event_window(event_id, None, TODAY) == latest
    assert model.event_window(event_id, 2024, TODAY) == in_2024 == event.window(2024)


def test_without_a_year_the_window_is_the_latest_complete_before_today() -> None:
    model = load_model()
    assert model.event_window("double11", None, D(2025, 11, 11)) == window(D(2024, 11, 1), D(2024, 11, 11))
    assert model.event_window("double11", None, D(2025, 11, 12)) == window(D(2025, 11, 1), D(2025, 11, 11))
    assert model.event_window("spring_festival", None, D(2025, 2, 4)) == window(D(2024, 2, 10), D(2024, 2, 16))


def test_a_year_without_dates_is_explained_and_unknown_events_too() -> None:
    model = load_model()
    assert model.event_window("spring_festival", 2019, TODAY) is None
    with pytest.raises(UnknownEventError) as caught:
        model.event_period("spring_festival", 2019, TODAY)
    assert caught.value.kind == "unknown_event" and caught.value.year == 2019 and isinstance(caught.value, QueryError)
    assert "2019" in str(caught.value) and "2024" in str(caught.value) and "events.yaml" in str(caught.value)
    assert model.event_window("brand_day", None, TODAY) is None
    with pytest.raises(UnknownEventError, match="unknown event 'brand_day'.*double11"):
        model.event_period("brand_day", None, TODAY)
    assert model.event_period("double12", 2025, TODAY) == window(D(2025, 12, 1), D(2025, 12, 12))


def test_double11_on_douyin_and_its_yoy_match_handwritten_sql(demo_db: Path) -> None:
    # The contract's example: "双11期间抖音的销售额" and its 同比.
    model = load_model()
    now = model.event_period("double11", None, TODAY)
    before = model.event_period("double11", now.start.year - 1, TODAY)
    query = MetricQuery(
        metrics=["gmv"],
        filters=[{"dimension": "channel", "members": ["douyin"]}],
        period=now,
        compare="yoy",
        compare_period=before,
    )
    sql = """SELECT SUM(s.revenue) FROM fact_sales s JOIN dim_store st ON st.store_id = s.store_id
             WHERE st.channel = 'douyin' AND s.order_date BETWEEN ? AND ?"""
    with duckdb.connect(str(demo_db), read_only=True) as con:
        gmv, previous, growth = con.execute(compile_query(query, model).sql).fetchone()
        (want_now,) = con.execute(sql, [D(2025, 11, 1), D(2025, 11, 11)]).fetchone()
        (want_before,) = con.execute(sql, [D(2024, 11, 1), D(2024, 11, 11)]).fetchone()
    assert (gmv, previous) == (want_now, want_before)
    assert growth == pytest.approx(float(want_now) / float(want_before) - 1)


@pytest.fixture()
def model_copy(tmp_path: Path) -> Path:
    target = tmp_path / "model"
    shutil.copytree(MODEL_DIR, target)
    return target


def test_a_customer_event_is_yaml_only(model_copy: Path) -> None:
    (model_copy / "brand_events.yaml").write_text(
        "events:\n"
        "  - {id: brand_day, name_zh: 品牌日, name_en: brand day, synonyms: [品牌日, 超级品牌日, brand day],\n"
        "     window: {start: '08-08', end: '08-10'}}\n"
        "  - {id: new_year_sale, name_zh: 跨年大促, name_en: new year sale, synonyms: [跨年大促],\n"
        "     window: {start: '12-28', end: '01-03'}}\n",
        encoding="utf-8",
    )
    model = load_model(model_copy)
    assert model.find_event("超级品牌日").id == "brand_day"
    assert model.event_window("brand_day", None, TODAY) == window(D(2025, 8, 8), D(2025, 8, 10))
    assert model.event_window("new_year_sale", None, TODAY) == window(D(2024, 12, 28), D(2025, 1, 3))
    assert model.event_window("new_year_sale", 2025, TODAY) == window(D(2025, 12, 28), D(2026, 1, 3))


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{id: x_day, name_zh: X, name_en: X, window: {start: '02-30', end: '03-01'}}", "events 'x_day': window.start"),
        ("{id: x_day, name_zh: X, name_en: X}", "events 'x_day': Value error, give a window"),
        ("{id: x_day, name_zh: X, name_en: X, dates: {2025: {start: 2024-12-30, end: 2025-01-02}}}",
         "events 'x_day': Value error, dates 2025: must start in 2025"),
        ("{id: x_day, name_zh: X, name_en: X, synonyms: [双十一], window: {start: '08-08', end: '08-08'}}",
         "events 'x_day': '双十一' also names event 'double11'"),
        ("{id: X-Day, name_zh: X, name_en: X, window: {start: '08-08', end: '08-08'}}", "events 'X-Day': id"),
    ],
)  # fmt: skip
def test_a_broken_event_names_file_entry_and_problem(model_copy: Path, entry: str, message: str) -> None:
    (model_copy / "zz_events.yaml").write_text(f"events:\n  - {entry}\n", encoding="utf-8")
    with pytest.raises(ModelError) as caught:
        load_model(model_copy)
    assert message in str(caught.value) and "zz_events.yaml" in str(caught.value)
