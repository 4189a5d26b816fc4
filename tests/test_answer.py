"""The Answer object serialises to DESIGN.md's JSON; the runner turns refusals into answers."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from agent.answer import Answer, AnswerPeriod
from agent.metric_runner import run_metric_query
from semantic_layer.engine import EngineError, QueryResult
from semantic_layer.query import MetricQuery, Principal


class FakeEngine:
    dialect = "duckdb"

    def __init__(self, result: QueryResult | None = None) -> None:
        self.result, self.seen = result, []

    def execute(self, sql: str, *, row_limit: int = 10_000, timeout_s: float = 30.0) -> QueryResult:
        self.seen.append(sql)
        if self.result is None:
            raise EngineError("boom")
        return self.result

    def close(self) -> None:
        pass


QUERY = MetricQuery(metrics=["gmv"], period={"start": "2025-01-01", "end": "2025-01-31"})


def test_rows_serialise_dates_as_iso_and_decimals_as_numbers() -> None:
    answer = Answer(
        status="answer",
        text="x",
        language="en",
        rows=[[dt.date(2025, 1, 1), Decimal("12.50"), Decimal("3"), float("nan"), None, "tmall"]],
        period=AnswerPeriod(start=dt.date(2025, 1, 1), end=dt.date(2025, 1, 31)),
    )
    data = json.loads(answer.to_json())
    assert data["rows"] == [["2025-01-01", 12.5, 3, None, None, "tmall"]]
    assert data["period"] == {"start": "2025-01-01", "end": "2025-01-31"}
    assert data["plan"] is None and data["options"] == [] and data["chart"] is None


def test_runner_answers_with_text_definitions_and_chart() -> None:
    engine = FakeEngine(QueryResult(columns=["gmv"], rows=[(Decimal("1234.5"),)], truncated=False))
    answer = run_metric_query(QUERY, engine, language="en")
    assert answer.status == "answer" and answer.sql == engine.seen[0]
    assert answer.text == "2025-01-01 to 2025-01-31: GMV ¥1,234.50."
    assert answer.definitions[0].metric == "gmv" and answer.chart == {
        "type": "kpi",
        "x": None,
        "y": ["gmv"],
        "series": None,
    }
    zh = run_metric_query(QUERY, engine, language="zh")
    assert zh.text == "2025-01-01 至 2025-01-31,销售额 ¥1,234.50。"


def test_runner_refuses_without_running_anything() -> None:
    engine = FakeEngine()
    denied = run_metric_query(
        QUERY.model_copy(update={"metrics": ["dso"]}), engine, principal=Principal(role="marketing")
    )
    assert denied.status == "refusal" and "marketing" in denied.text and engine.seen == []
    cut = run_metric_query(QUERY.model_copy(update={"metrics": ["dio"], "dimensions": ["channel"]}), engine)
    assert cut.status == "refusal" and cut.options == ["sku", "category", "brand"]


def test_runner_reports_engine_errors() -> None:
    answer = run_metric_query(QUERY, FakeEngine())
    assert answer.status == "error" and answer.text == "boom" and answer.sql
