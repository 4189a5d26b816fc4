"""The Answer object serialises to DESIGN.md's JSON; the runner names members, charts results and turns refusals
into answers."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

from sqlglot import exp

from agent.answer import Answer, AnswerPeriod
from agent.metric_runner import master_data_labeler, run_metric_query
from semantic_layer.engine import EngineError, QueryResult
from semantic_layer.query import MetricQuery, Principal
from semantic_layer.semantic_model import load_model
from tests.member_tables import master_data_of


class FakeEngine:
    dialect = "duckdb"

    def __init__(self, result: QueryResult | None = None) -> None:
        self.result, self.seen = result, []

    def execute(self, sql: str | exp.Expr, *, row_limit: int = 10_000, timeout_s: float = 30.0) -> QueryResult:
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
    # The engine is handed the compiler's AST (guarded as it is); the answer shows that AST's SQL.
    assert answer.status == "answer" and isinstance(engine.seen[0], exp.Select)
    assert answer.sql == engine.seen[0].sql(dialect="duckdb")
    assert answer.cached is False and answer.data_version is None  # the fake engine keeps no cache
    assert answer.text == (
        "January 2025, GMV ¥1,234.50. Definition: Sum of fact_sales.revenue over order lines with order_date in the period."
    )
    assert answer.definitions[0].metric == "gmv"
    assert answer.chart is None  # DESIGN.md: no chart for a single number
    zh = run_metric_query(QUERY, engine, language="zh")
    assert zh.text == "2025年1月,销售额 ¥1,234.50。口径: 订单日期在期间内的订单行销售金额之和 SUM(fact_sales.revenue)。"


BY_CHANNEL = QUERY.model_copy(update={"dimensions": ["channel"], "metrics": ["gmv", "gross_margin"]})
CHANNEL_ROWS = [("jd", Decimal("223225.00"), 0.2859), ("tmall", Decimal("513200.00"), 0.2702), ("other", None, None)]


def test_members_get_a_name_column_after_their_code_and_the_text_uses_names() -> None:
    engine = FakeEngine(QueryResult(columns=["channel", "gmv", "gross_margin"], rows=CHANNEL_ROWS, truncated=False))
    answer = run_metric_query(BY_CHANNEL, engine, language="en")
    assert answer.columns == ["channel", "channel_name", "gmv", "gross_margin"]
    assert [row[:2] for row in answer.rows] == [["jd", "JD"], ["tmall", "Tmall"], ["other", "other"]]
    assert answer.text.startswith("January 2025, by channel: 3 rows. GMV: Tmall ¥513.2K; JD ¥223.2K; other n/a.")
    assert answer.chart == {
        "type": "bar",
        "x": "channel",
        "x_label": "channel_name",
        "y": ["gmv", "gross_margin"],
        "series": None,
        "series_label": None,
        "title": "GMV and gross margin by channel",
        "formats": {"gmv": "cny", "gross_margin": "percent"},
        "y_names": {"gmv": "GMV", "gross_margin": "gross margin"},
    }
    zh = run_metric_query(BY_CHANNEL, engine, language="zh")
    assert (
        [row[1] for row in zh.rows] == ["京东", "天猫", "other"]
        and zh.chart
        and zh.chart["title"] == "各渠道销售额、毛利率"
    )


def test_a_labeler_names_what_the_model_does_not_know() -> None:
    query = QUERY.model_copy(update={"dimensions": ["sku"]})
    result = QueryResult(
        columns=["sku", "gmv"], rows=[("sku00001", Decimal("10")), (None, Decimal("2"))], truncated=False
    )
    plain = run_metric_query(query, FakeEngine(result))
    assert plain.columns == ["sku", "gmv"]  # no names known: no name column
    names = {"sku00001": "水润面膜10片装"}
    named = run_metric_query(query, FakeEngine(result), labels=lambda dim, code, lang: names.get(code))
    assert named.columns == ["sku", "sku_name", "gmv"]
    assert named.rows == [["sku00001", "水润面膜10片装", Decimal("10")], [None, None, Decimal("2")]]
    assert "水润面膜10片装 ¥10.00" in named.text and "sku00001" not in named.text


def test_a_time_series_charts_as_a_line_with_its_series_names() -> None:
    query = QUERY.model_copy(update={"grain": "month", "dimensions": ["channel_type"]})
    rows = [(dt.date(2025, 1, 1), "online", Decimal("5")), (dt.date(2025, 1, 1), "offline", Decimal("3"))]
    answer = run_metric_query(query, FakeEngine(QueryResult(["month", "channel_type", "gmv"], rows, False)))
    assert answer.columns == ["month", "channel_type", "channel_type_name", "gmv"]
    assert answer.chart is not None
    assert (answer.chart["type"], answer.chart["x"], answer.chart["x_label"]) == ("line", "month", None)
    assert (answer.chart["series"], answer.chart["series_label"]) == ("channel_type", "channel_type_name")
    assert answer.chart["title"] == "各线上/线下销售额按月趋势"


def test_master_data_labeler_prefers_the_model_then_master_data(tmp_path: Path) -> None:
    master = master_data_of(
        tmp_path,
        skus=[("sku00001", "水润面膜10片装", None, "面膜", "Face mask", "水之谧", "Aquamist")],
        stores=[("st_sh01", "上海南京路店", "Shanghai Nanjing Rd", "offline", "offline", "上海", "Shanghai",
                 "华东", "East China")],
    )  # fmt: skip
    label = master_data_labeler(master, load_model())
    assert label("sku", "sku00001", "zh") == "水润面膜10片装"
    assert label("sku", "sku00001", "en") == "水润面膜10片装"  # no English name: the Chinese one, not the code
    assert (label("category", "面膜", "en"), label("brand", "水之谧", "en")) == ("Face mask", "Aquamist")
    assert (label("store", "st_sh01", "en"), label("city", "上海", "en"), label("region", "华东", "zh")) == (
        "Shanghai Nanjing Rd", "Shanghai", "华东",
    )  # fmt: skip
    assert label("channel", "offline", "en") == "offline stores"  # the model's name, not master data's
    assert label("channel_type", "offline", "zh") == "线下"
    assert label("customer_type", "platform", "zh") == "平台"
    assert label("sku", "sku09999", "zh") is None and label("promotion", "p1", "zh") is None


def test_the_cli_table_shows_names_and_readable_values(demo_db: Path) -> None:
    from typer.testing import CliRunner

    from api.cli import app

    result = CliRunner().invoke(
        app, ["query", "-m", "gmv", "--by", "channel", "--compare", "yoy", "--db", str(demo_db)]
    )
    assert result.exit_code == 0
    assert "天猫" in result.stdout and "渠道" in result.stdout and "销售额(增长)" in result.stdout
    assert "万" in result.stdout and "期间 2025-12-01 至 2025-12-31" in result.stdout


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
