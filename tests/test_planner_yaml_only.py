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

TODAY = dt.date(2026, 1, 1)


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    target = tmp_path / "model"
    shutil.copytree(MODEL_DIR, target)
    return target


def planner_for(model: SemanticModel, demo_db: Path) -> EmbeddedPlanner:
    engine = connect(demo_db)
    try:
        master = load_master_data(engine, model=model)
    finally:
        engine.close()
    return EmbeddedPlanner(model, master)


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


def test_a_tools_own_trigger_phrase_routes_to_it(folder: Path, demo_db: Path) -> None:
    assert not isinstance(
        planner_for(load_model(), demo_db).plan("面膜该进多少货", Conversation(id="t"), Principal(), TODAY), ToolCall
    )
    _set_role(folder, "      replenish:\n", "      replenish:\n        - '该进多少货'\n")
    plan = planner_for(load_model(folder), demo_db).plan("面膜该进多少货", Conversation(id="t"), Principal(), TODAY)
    assert isinstance(plan, ToolCall) and plan.tool == "replenishment" and plan.arguments == {"category": "面膜"}


def test_the_dimensions_that_scope_a_tool_are_the_models(folder: Path, demo_db: Path) -> None:
    question = "上海仓需要补货吗"  # a warehouse named: replenishment looks at that warehouse only
    plan = planner_for(load_model(), demo_db).plan(question, Conversation(id="t"), Principal(), TODAY)
    assert isinstance(plan, ToolCall) and plan.arguments.get("warehouse_id") == "wh_sh"
    _set_role(folder, "      warehouse: {argument: warehouse_id}\n", "")
    # the model says the tool cannot be narrowed to a warehouse: the planner asks rather than run it wider
    plan = planner_for(load_model(folder), demo_db).plan(question, Conversation(id="t"), Principal(), TODAY)
    assert isinstance(plan, Clarify) and "上海嘉定仓" in plan.text
    assert [o.plan.arguments for o in plan.options if isinstance(o.plan, ToolCall)] == [{"actions": ["order_now"]}]


def test_the_breakdowns_and_metrics_a_tool_answers_are_the_models(folder: Path, demo_db: Path) -> None:
    asked = ("各渠道的补货建议", "补货建议和上个月的销售额")
    bundled = planner_for(load_model(), demo_db)
    assert all(isinstance(bundled.plan(q, Conversation(id="t"), Principal(), TODAY), Clarify) for q in asked)
    _set_role(
        folder,
        "    rows: [sku, category, warehouse, supplier]\n",
        "    rows: [sku, category, warehouse, supplier, channel]\n",
    )
    _set_role(
        folder,
        "    rows: [sku, category, warehouse, supplier, channel]\n",
        "    rows: [sku, category, warehouse, supplier, channel]\n    shows: [gmv]\n",
    )
    edited = planner_for(load_model(folder), demo_db)
    assert all(isinstance(edited.plan(q, Conversation(id="t"), Principal(), TODAY), ToolCall) for q in asked)


@pytest.mark.parametrize("command", [["ask", "面膜需要补货吗"], ["model", "check", "--json"]])
def test_a_broken_phrase_book_is_a_one_line_error_on_the_command_line(
    folder: Path, demo_db: Path, command: list[str]
) -> None:
    from typer.testing import CliRunner

    from api.cli import app

    _set_role(folder, "  elasticity:\n", "  pricing:\n")
    result = CliRunner().invoke(app, ["--model", str(folder), *command, "--db", str(demo_db)])
    assert result.exit_code in (1, 2) and isinstance(result.exception, SystemExit)  # an exit, not a crash
    assert "'pricing' is not an analysis tool" in result.output


def test_a_model_without_tool_phrases_routes_no_question_to_a_tool(folder: Path, demo_db: Path) -> None:
    book = folder / "planner" / "phrases.yaml"
    text = book.read_text(encoding="utf-8")
    book.write_text(text[: text.index("\ntools:\n") + 1], encoding="utf-8")
    planner = planner_for(load_model(folder), demo_db)
    for question in ("面膜需要补货吗", "面膜该怎么定价?", "分析一下现金转换周期"):
        assert not isinstance(planner.plan(question, Conversation(id="t"), Principal(), TODAY), ToolCall), question


@pytest.mark.parametrize(
    ("line", "new", "error"),
    [
        ("  elasticity:\n", "  pricing:\n", "'pricing' is not an analysis tool"),
        ("      price:\n", "      discount:\n", "cannot be asked \\['discount'\\]"),
        ("      brand: {argument: brand}\n", "      label: {argument: brand}\n", "label"),
        ("    rows: [category, sku]\n", "    rows: [category, product]\n", "product"),
        ("    shows: [ccc, dio,", "    shows: [ccc, cycle,", "cycle"),
        ("        - '价格弹性|", "        - '价格弹性(|", "not a valid pattern"),
    ],
)
def test_a_tool_phrase_the_model_cannot_use_fails_at_load(folder: Path, line: str, new: str, error: str) -> None:
    from agent.phrases import Phrases
    from semantic_layer.semantic_model import ModelError

    _set_role(folder, line, new)
    with pytest.raises(ModelError, match=error):
        Phrases.load(load_model(folder))


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
