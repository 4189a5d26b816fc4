"""The planner learns its words from the model folder: a phrase, an event, a member's nickname or a
tool's trigger added there is askable at once, with no Python change (a customer's model folder works
the same as the demo's)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from agent.embedded_planner import EmbeddedPlanner
from agent.plan import Clarify, Conversation, QueryPlan, ToolCall
from engines import connect
from engines.members import load_master_data
from semantic_layer.query import MetricQuery, Period, Principal
from semantic_layer.semantic_model import MODEL_DIR, SemanticModel, load_model
from tools.registry import triggers

TODAY = dt.date(2026, 1, 1)


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    target = tmp_path / "model"
    shutil.copytree(MODEL_DIR, target)
    return target


def planner_for(model: SemanticModel, demo_db: Path, **kw: object) -> EmbeddedPlanner:
    engine = connect(demo_db)
    try:
        master = load_master_data(engine, model=model)
    finally:
        engine.close()
    return EmbeddedPlanner(model, master, **kw)  # type: ignore[arg-type]


def query_of(planner: EmbeddedPlanner, question: str) -> MetricQuery:
    plan = planner.plan(question, Conversation(id="t"), Principal(), TODAY)
    assert isinstance(plan, QueryPlan), plan
    return plan.query


def test_a_metric_phrase_in_the_models_phrase_book_is_read(folder: Path, demo_db: Path) -> None:
    book = folder / "planner" / "phrases.yaml"
    text = book.read_text(encoding="utf-8").replace(
        "metric_phrases:\n", "metric_phrases:\n  - metric: gmv\n    patterns:\n      - '进账(?:有)?多少'\n", 1
    )
    book.write_text(text, encoding="utf-8")
    planner = planner_for(load_model(folder), demo_db)
    assert query_of(planner, "上个月天猫进账有多少").metrics == ["gmv"]
    bundled = planner_for(load_model(), demo_db)
    assert not isinstance(bundled.plan("上个月天猫进账有多少", Conversation(id="t"), Principal(), TODAY), QueryPlan)


def test_an_event_added_in_yaml_is_a_period_and_its_yoy(folder: Path, demo_db: Path) -> None:
    (folder / "brand_events.yaml").write_text(
        "events:\n  - {id: brand_day, name_zh: 品牌日, name_en: brand day, synonyms: [超级品牌日],\n"
        "     window: {start: '08-08', end: '08-10'}}\n",
        encoding="utf-8",
    )
    planner = planner_for(load_model(folder), demo_db)
    query = query_of(planner, "超级品牌日期间天猫的销售额同比")
    assert query.period == Period(start=dt.date(2025, 8, 8), end=dt.date(2025, 8, 10))
    assert query.compare == "yoy"
    assert query.compare_period == Period(start=dt.date(2024, 8, 8), end=dt.date(2024, 8, 10))


def test_a_members_nickname_added_in_yaml_is_a_filter(folder: Path, demo_db: Path) -> None:
    dims = folder / "dimensions.yaml"
    dims.write_text(dims.read_text(encoding="utf-8").replace("sh仓, sh dc,", "sh仓, sh dc, 魔都仓,"), encoding="utf-8")
    planner = planner_for(load_model(folder), demo_db)
    query = query_of(planner, "魔都仓现在有多少件库存")
    assert query.metrics == ["on_hand_units"]
    assert [(f.dimension, f.members) for f in query.filters] == [("warehouse", ["wh_sh"])]


def test_a_synonym_shared_by_two_metrics_in_yaml_asks_which(folder: Path, demo_db: Path) -> None:
    metrics = folder / "metrics.yaml"
    text = metrics.read_text(encoding="utf-8")
    text = text.replace("synonyms: [销售额,", "synonyms: [业绩, 销售额,", 1).replace(
        "synonyms: [毛利,", "synonyms: [业绩, 毛利,", 1
    )
    metrics.write_text(text, encoding="utf-8")
    planner = planner_for(load_model(folder), demo_db)
    plan = planner.plan("上个月的业绩", Conversation(id="t"), Principal(), TODAY)
    assert isinstance(plan, Clarify)
    assert {o.plan.query.metrics[0] for o in plan.options if isinstance(o.plan, QueryPlan)} == {"gmv", "gross_profit"}


def test_a_tools_own_trigger_phrase_routes_to_it(demo_db: Path) -> None:
    declared = {tool: dict(asks) for tool, asks in triggers().items()}
    declared["replenishment"]["replenish"] = (*declared["replenishment"]["replenish"], r"该进多少货")
    planner = planner_for(load_model(), demo_db, tool_triggers=declared)
    plan = planner.plan("面膜该进多少货", Conversation(id="t"), Principal(), TODAY)
    assert isinstance(plan, ToolCall) and plan.tool == "replenishment" and plan.arguments == {"category": "面膜"}
    bundled = planner_for(load_model(), demo_db)
    assert not isinstance(bundled.plan("面膜该进多少货", Conversation(id="t"), Principal(), TODAY), ToolCall)


def test_customers_are_named_from_the_warehouse_through_the_model(demo_db: Path) -> None:
    planner = planner_for(load_model(), demo_db)
    query = query_of(planner, "2025年6月30日天猫结算账户的应收余额")
    assert query.metrics == ["ar_balance"]
    assert [(f.dimension, f.members) for f in query.filters] == [("customer", ["cus_tmall"])]


def _set_role(folder: Path, line: str, new: str) -> None:
    book = folder / "planner" / "phrases.yaml"
    text = book.read_text(encoding="utf-8")
    assert line in text
    book.write_text(text.replace(line, new, 1), encoding="utf-8")


def test_what_a_bare_ranking_lists_is_the_models_choice(folder: Path, demo_db: Path) -> None:
    assert query_of(planner_for(load_model(), demo_db), "上个月销量前3").dimensions == ["sku"]
    _set_role(folder, "  ranked_items: sku\n", "  ranked_items: category\n")
    assert query_of(planner_for(load_model(folder), demo_db), "上个月销量前3").dimensions == ["category"]


def test_the_dimension_a_shared_name_means_is_the_models_choice(folder: Path, demo_db: Path) -> None:
    # "上海" made a nickname of the Shanghai warehouse as well as the city: the phrase book says which
    dims = folder / "dimensions.yaml"
    dims.write_text(dims.read_text(encoding="utf-8").replace("sh仓, sh dc,", "sh仓, sh dc, 上海,"), encoding="utf-8")
    city_first = query_of(planner_for(load_model(folder), demo_db), "上海上个月的销售额")
    assert [(f.dimension, f.members) for f in city_first.filters] == [("city", ["上海"])]
    _set_role(
        folder,
        "city, region, category, brand, store, warehouse, sku]",
        "warehouse, city, region, category, brand, store, sku]",
    )
    warehouse_first = query_of(planner_for(load_model(folder), demo_db), "上海上个月的库存件数")
    assert [(f.dimension, f.members) for f in warehouse_first.filters] == [("warehouse", ["wh_sh"])]


def test_a_dimension_role_naming_no_dimension_fails_at_load(folder: Path) -> None:
    from agent.phrases import Phrases
    from semantic_layer.semantic_model import ModelError

    _set_role(folder, "  ranked_items: sku\n", "  ranked_items: product\n")
    with pytest.raises(ModelError, match="product"):
        Phrases.load(load_model(folder))


def test_how_a_filter_reads_in_the_answer_comes_from_the_model(folder: Path, demo_db: Path) -> None:
    from agent.assistant import Assistant

    dims = folder / "dimensions.yaml"
    dims.write_text(
        dims.read_text(encoding="utf-8").replace('filter_phrase: {zh: "{}渠道"', 'filter_phrase: {zh: "{}业务"', 1),
        encoding="utf-8",
    )
    engine = connect(demo_db)
    try:
        model = load_model(folder)
        assistant = Assistant(engine, model=model, planner=planner_for(model, demo_db))
        assert "(线上业务)" in assistant.ask("2025年12月线上的销售额").text
        assert "(线上、线下业务)" in assistant.ask("2025年12月线上和线下的销售额").text
    finally:
        engine.close()
