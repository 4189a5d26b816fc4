"""Honest answers on the small demo: the scope a role imposes is always named, and a result cut by the
row limit is described as such, with the size of the whole result counted by the same compiled query."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.assistant import Assistant
from agent.metric_runner import count_rows
from semantic_layer.compiler import compile_query
from semantic_layer.engine import EngineError
from semantic_layer.query import MetricQuery, Principal

MANAGER = Principal(role="store_manager", store_id="st_sh01")


@pytest.fixture(scope="module")
def assistant(demo_db: Path) -> Iterator[Assistant]:
    opened = Assistant.open(demo_db)
    yield opened
    opened.close()


def store_name(assistant: Assistant, language: str) -> str:
    member = assistant.master.member("store", "st_sh01")
    assert member is not None
    return member.name if language == "zh" else (member.name_en or member.name)


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("全公司上个月的销售额", "zh"),
        ("所有门店的订单数", "zh"),
        ("上个月各门店的销售额", "zh"),
        ("上个月各渠道的毛利率", "zh"),
        ("company-wide GMV last month", "en"),
        ("GMV by channel last month", "en"),
    ],
)
def test_a_store_manager_is_told_the_answer_is_for_their_store(
    assistant: Assistant, question: str, language: str
) -> None:
    answer = assistant.ask(question, principal=MANAGER)
    assert answer.status == "answer" and answer.language == language
    words = "仅限您的门店: " if language == "zh" else "your store only: "
    assert words + store_name(assistant, language) in answer.text
    assert answer.text.count(words) == 1


def test_a_store_filter_the_manager_asked_for_is_not_said_twice(assistant: Assistant) -> None:
    answer = assistant.ask("我们店上个月的销售额", principal=MANAGER)
    assert answer.text.count(store_name(assistant, "zh")) == 1


def test_roles_without_a_row_filter_get_no_scope_note(assistant: Assistant) -> None:
    for role in ("admin", "marketing"):
        answer = assistant.ask("全公司上个月的销售额", principal=Principal(role=role))
        assert answer.status == "answer" and "仅限" not in answer.text


QUESTION = "2024年1月1日到2025年12月31日每天每个SKU每个门店的销售额"


def test_a_truncated_result_counts_the_whole_and_describes_the_rows_shown(assistant: Assistant) -> None:
    answer = assistant.ask(QUESTION)
    assert answer.status == "answer" and len(answer.rows) == 10_000
    hand_written = (  # one row per day x SKU x store that sold
        "SELECT COUNT(*) FROM (SELECT DISTINCT order_date, sku_id, store_id FROM fact_sales"
        " WHERE order_date BETWEEN DATE '2024-01-01' AND DATE '2025-12-31') AS sold"
    )
    [(total,)] = assistant.engine.execute(hand_written).rows
    assert total > 10_000
    assert f"结果共 {total:,} 行,超过行数上限,只返回了前 10,000 行,以上只描述这些行。" in answer.text
    assert "只看已返回的前 10,000 行" in answer.text and "共 10,000 行" not in answer.text
    assert "按周汇总" in answer.text and "少拆分" in answer.text


def test_the_count_wraps_the_compiled_query_and_gives_up_quietly(assistant: Assistant) -> None:
    query = MetricQuery.model_validate(
        {"metrics": ["gmv"], "dimensions": ["channel"], "period": {"start": "2025-12-01", "end": "2025-12-31"}}
    )
    compiled = compile_query(query, assistant.model, MANAGER)
    ran = assistant.engine.execute(compiled.sql)
    assert count_rows(compiled, assistant.engine) == len(ran.rows) == 1

    class Failing:
        dialect = "duckdb"

        def execute(self, *args: Any, **kwargs: Any) -> Any:
            raise EngineError("DuckDB: out of memory")

    assert count_rows(compiled, Failing()) is None  # type: ignore[arg-type]
