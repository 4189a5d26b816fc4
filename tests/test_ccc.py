"""The cash-conversion-cycle tool: governed numbers, aging, alerts, recommendations, honest text.

On the small demo: every dio/dso/dpo/ccc the tool reports equals a MetricQuery for the same
period and the hand-written contract SQL (tests/handwritten_sql.py); the aging buckets sum to the
governed balance on the as-of day and equal a hand-written bucketing. On a tiny synthetic
warehouse with planted answers: the alerts and recommendations pick what was planted. Every
number of every text is a formatted value of the rows or facts, in both languages.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from demo.schema import COLUMNS
from engines import connect
from presentation.metric_format import format_value
from semantic_layer.compiler import compile_query
from semantic_layer.engine import Engine
from semantic_layer.errors import PolicyDeniedError
from semantic_layer.query import MetricQuery, Period, Principal
from semantic_layer.semantic_model import load_model
from tests.handwritten_sql import TOTALS
from tools.base import ToolContext, ToolOutput
from tools.ccc import Arguments, CashCycleTool, alerts
from tools.ccc.aging import BUCKET_COLUMNS
from tools.ccc.arguments import resolve_period

MODEL = load_model()
PARTS = ("dio", "dso", "dpo", "ccc")
YEAR_2025 = Period(start=dt.date(2025, 1, 1), end=dt.date(2025, 12, 31))
TODAY = dt.date(2026, 1, 1)


@pytest.fixture(scope="module")
def engine(demo_db: Path) -> Iterator[Engine]:
    eng = connect(demo_db)
    yield eng
    eng.close()


def run_tool(engine: Engine, language: str = "zh", role: str = "admin", today: dt.date = TODAY, **args: Any):
    context = ToolContext(engine, MODEL, Principal(role=role), today, language)  # type: ignore[arg-type]
    return CashCycleTool().run(Arguments.model_validate(args), context)


def handwritten(engine: Engine, sql: str, period: Period) -> list[tuple]:
    """Hand-written contract SQL with the period's bounds as literals (run through the guarded engine)."""
    text = sql.replace("$start", f"DATE '{period.start}'").replace("$end", f"DATE '{period.end}'")
    return engine.execute(text, row_limit=10_000).rows


def governed(engine: Engine, **query: Any) -> pd.DataFrame:
    """A governed query run directly (compile + execute), to compare the tool with."""
    compiled = compile_query(MetricQuery.model_validate(query), MODEL)
    return pd.DataFrame(engine.execute(compiled.sql).rows, columns=compiled.columns)


def close(a: Any, b: Any) -> bool:
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)


def table(output: ToolOutput) -> pd.DataFrame:
    return pd.DataFrame(output.rows, columns=output.columns)


# -- governed numbers --------------------------------------------------------------------
def test_trend_is_the_governed_query_and_totals_match_handwritten_sql(engine: Engine) -> None:
    out = run_tool(engine, start="2025-01-01", end="2025-12-31", grain="month")
    rows = table(out)
    trend = rows[rows["row_kind"] == "month"].reset_index(drop=True)
    want = governed(engine, metrics=list(PARTS), grain="month", period=YEAR_2025)
    assert len(trend) == 12 and list(trend["period"]) == list(want["month"])
    for metric in PARTS:
        assert list(trend[metric]) == list(want[metric])  # the very same numbers, not a second formula
    total = rows[rows["row_kind"] == "total"].iloc[0]
    previous = rows[rows["row_kind"] == "previous"].iloc[0]
    assert (total["period"], total["period_end"]) == (YEAR_2025.start, YEAR_2025.end)
    prior = YEAR_2025.previous("pop")
    assert (previous["period"], previous["period_end"]) == (prior.start, prior.end)
    for metric in PARTS:
        ((whole,),) = handwritten(engine, TOTALS[metric], YEAR_2025)
        ((before,),) = handwritten(engine, TOTALS[metric], prior)
        assert close(total[metric], whole), metric
        assert close(previous[metric], before), metric
        assert close(out.facts[metric], whole) and close(out.facts[f"{metric}_previous"], before)
    march = trend.iloc[2]
    for metric in PARTS:
        ((value,),) = handwritten(engine, TOTALS[metric], Period(start=dt.date(2025, 3, 1), end=dt.date(2025, 3, 31)))
        assert close(march[metric], value), metric
    assert close(total["ccc"], total["dio"] + total["dso"] - total["dpo"])
    assert out.chart is not None and out.chart["type"] == "line" and out.chart["row_filter"] == {"row_kind": "month"}
    assert out.period == (YEAR_2025.start, YEAR_2025.end) and set(out.metrics) == set(PARTS)


def test_quarter_trend_matches_handwritten_sql_per_quarter(engine: Engine) -> None:
    rows = table(run_tool(engine, start="2025-01-01", end="2025-12-31", grain="quarter"))
    quarters = rows[rows["row_kind"] == "quarter"]
    assert len(quarters) == 4
    for row in quarters.itertuples():
        period = Period(start=row.period, end=row.period_end)
        for metric in PARTS:
            ((value,),) = handwritten(engine, TOTALS[metric], period)
            assert close(getattr(row, metric), value), (row.period, metric)


def test_default_period_is_the_last_full_quarter(engine: Engine) -> None:
    out = run_tool(engine)
    assert out.period == (dt.date(2025, 10, 1), dt.date(2025, 12, 31))
    kinds = list(table(out)["row_kind"])
    assert kinds == ["month", "month", "month", "total", "previous"]
    no_trend = run_tool(engine, grain=None)
    assert list(table(no_trend)["row_kind"]) == ["total", "previous"] and no_trend.chart is None


def test_resolve_period() -> None:
    start, end = dt.date(2024, 1, 1), dt.date(2025, 12, 31)

    def resolved(**args: Any) -> tuple[dt.date, dt.date]:
        period = resolve_period(Arguments.model_validate(args), TODAY, start, end)
        return period.start, period.end

    assert resolved() == (dt.date(2025, 10, 1), dt.date(2025, 12, 31))
    assert resolved(end="2025-08-15") == (dt.date(2025, 7, 1), dt.date(2025, 8, 15))
    assert resolved(start="2025-11-01") == (dt.date(2025, 11, 1), dt.date(2025, 12, 31))
    assert resolved(start="2023-06-01", end="2026-03-31") == (start, end)  # cut to the data
    with pytest.raises(ValueError):
        resolved(start="2026-02-01", end="2026-03-31")
    with pytest.raises(ValueError):
        Arguments(start=dt.date(2025, 2, 1), end=dt.date(2025, 1, 1))


def test_arguments_are_a_tool_schema() -> None:
    schema = Arguments.model_json_schema()
    assert set(schema["properties"]) == {"start", "end", "grain", "focus", "dio_rise_threshold", "overdue_days"}
    assert all(p.get("description") for p in schema["properties"].values())
    assert not schema.get("required")
    with pytest.raises(ValueError):
        Arguments.model_validate({"period": "2025"})


# -- aging ---------------------------------------------------------------------------------
AGING_HANDWRITTEN = """
    SELECT {key},
           CASE WHEN due_date >= $end THEN 'current'
                WHEN due_date >= CAST($end AS DATE) - 30 THEN 'overdue_1_30'
                WHEN due_date >= CAST($end AS DATE) - 60 THEN 'overdue_31_60'
                WHEN due_date >= CAST($end AS DATE) - 90 THEN 'overdue_61_90'
                ELSE 'overdue_over_90' END AS bucket,
           SUM(amount)
    FROM {table} WHERE {doc_date} <= $end AND COALESCE(paid_date, DATE '9999-12-31') > $end
    GROUP BY 1, 2"""


@pytest.mark.parametrize(
    ("focus", "key", "table_name", "doc_date", "metric"),
    [
        ("ar_aging", "customer_id", "fact_receivable", "invoice_date", "ar_balance"),
        ("ap_aging", "supplier_id", "fact_payable", "bill_date", "ap_balance"),
    ],
)
@pytest.mark.parametrize("as_of", [dt.date(2025, 9, 30), dt.date(2024, 6, 30)])
def test_aging_sums_to_the_balance_and_matches_handwritten_sql(
    engine: Engine, focus: str, key: str, table_name: str, doc_date: str, metric: str, as_of: dt.date
) -> None:
    out = run_tool(engine, focus=focus, end=as_of.isoformat())
    rows = table(out)
    assert out.period is not None and out.period[1] == as_of
    for row in rows.itertuples():
        assert close(sum(getattr(row, b) for b in BUCKET_COLUMNS), row.balance)
    day = Period(start=as_of, end=as_of)
    balance = governed(engine, metrics=[metric], period=day)[metric].iloc[0]
    assert close(rows["balance"].sum(), balance)  # the governed balance on the as-of day
    by_party = governed(engine, metrics=[metric], dimensions=[key.removesuffix("_id")], period=day)
    assert {r[0]: float(r[1]) for r in by_party.itertuples(index=False)} == pytest.approx(
        dict(zip(rows[key], rows["balance"], strict=True))
    )
    sql = AGING_HANDWRITTEN.format(key=key, table=table_name, doc_date=doc_date)
    want = {(party, bucket): float(amount) for party, bucket, amount in handwritten(engine, sql, day)}
    got = {
        (row[key], bucket): row[bucket] for _, row in rows.iterrows() for bucket in BUCKET_COLUMNS if row[bucket] != 0
    }
    assert got == pytest.approx(want)
    assert close(out.facts[focus[:2]]["balance"], balance)
    beyond = rows["overdue_beyond_threshold"]
    assert list(beyond) == sorted(beyond, reverse=True)  # most overdue first


def test_marketing_and_store_managers_are_refused(engine: Engine) -> None:
    with pytest.raises(PolicyDeniedError):
        run_tool(engine, role="marketing")
    context = ToolContext(engine, MODEL, Principal(role="store_manager", store_id="st01"), TODAY, "zh")
    with pytest.raises(PolicyDeniedError):
        CashCycleTool().run(Arguments(), context)


# -- alerts and recommendations: pure rules on tiny frames ------------------------------------
def test_alert_rules_on_frames() -> None:
    category = pd.DataFrame(
        {"category": ["面膜", "精华", "口红"], "dio": [30.0, 12.0, None], "dio_previous": [20.0, 10.0, 5.0],
         "dio_growth": [0.5, 0.2, None]}
    )  # fmt: skip
    assert list(alerts.dio_rises(category, 0.2)["category"]) == ["面膜"]  # +20% is not more than 20%
    skus = pd.DataFrame(
        {"sku": ["a", "b", "c", "d"], "dio": [40.0, 11.0, None, 50.0], "dio_previous": [20.0, 10.0, 30.0, 20.0],
         "dio_growth": [1.0, 0.1, None, 1.5], "avg_inventory_value": [500.0, 900.0, 300.0, 100.0],
         "avg_inventory_value_previous": [100.0, 100.0, 200.0, 400.0]}
    )  # fmt: skip
    picked = alerts.stock_to_reduce(skus, 0.2)
    assert list(picked["sku"]) == ["a", "c"]  # b turns fine, d holds less stock than before
    assert list(picked["inventory_increase"]) == [400.0, 100.0]
    purchases = pd.DataFrame(
        {"supplier_id": ["s1", "s2", "s3", "s4"], "supplier_name": ["甲", "乙", "丙", "丁"],
         "payment_terms_days": [30.0, 60.0, 30.0, 45.0], "purchase_amount": [6000.0, 3000.0, 1000.0, 0.0]}
    )  # fmt: skip
    terms, weighted = alerts.terms_to_renegotiate(purchases, cogs=18_300.0)
    assert weighted == pytest.approx(39.0)
    assert list(terms["supplier_id"]) == ["s1", "s3"]
    assert list(terms["dpo_gain_days"]) == pytest.approx([30 * 6000 / 18_300, 30 * 1000 / 18_300])
    assert alerts.ccc_driver({"dio": 5.0, "dso": 1.0, "dpo": 2.0, "ccc": 4.0}) == "dio"
    assert alerts.ccc_driver({"dio": 1.0, "dso": 1.0, "dpo": -3.0, "ccc": 5.0}) == "dpo"  # shorter DPO lengthens
    assert alerts.ccc_driver({"dio": -4.0, "dso": 1.0, "dpo": 0.0, "ccc": -3.0}) == "dio"
    assert alerts.ccc_driver({"dio": 0.0, "dso": 0.0, "dpo": 0.0, "ccc": 0.0}) is None


# -- a tiny synthetic warehouse with planted answers ------------------------------------------
SYNTHETIC_PERIOD = {"start": "2025-05-01", "end": "2025-06-30"}  # 61 days; previous: 2025-03-01..04-30
SYNTHETIC_TODAY = dt.date(2025, 7, 1)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """Three SKUs selling ¥200 (cost ¥100) a day each. Mask SKU a1 triples its stock from May, so
    面膜's DIO doubles (10 -> 20 days) and serum's stays at 10. 华东美妆经销商 owes two unpaid
    invoices (61 and 45 days overdue); 天猫 is current (one due on the as-of day, one paid on it).
    Suppliers: 甲 (30-day terms, the largest buyer), 乙 (60), 丙 (30)."""
    path = tmp_path_factory.mktemp("ccc") / "synthetic.duckdb"
    con = duckdb.connect(str(path))
    for name, columns in COLUMNS.items():
        con.execute(f"CREATE TABLE {name} ({', '.join(f'{c} {t}' for c, t in columns)})")
    con.execute("""INSERT INTO dim_sku VALUES
        ('a1', '水润面膜', 'Aqua mask', '面膜', 'Face mask', 'b', 'b', 's1', 100, 200, DATE '2024-01-01'),
        ('a2', '清透面膜', 'Clear mask', '面膜', 'Face mask', 'b', 'b', 's1', 100, 200, DATE '2024-01-01'),
        ('b1', '修护精华', 'Repair serum', '精华', 'Serum', 'b', 'b', 's2', 100, 200, DATE '2024-01-01')""")
    days = "range(DATE '2025-01-01', DATE '2025-07-01', INTERVAL 1 DAY) d(day)"
    con.execute(f"""INSERT INTO fact_sales
        SELECT row_number() OVER (), 1, CAST(day AS DATE), 'st1', sku, 1, 200, 200, 100, NULL, false
        FROM {days}, (VALUES ('a1'), ('a2'), ('b1')) s(sku)""")
    con.execute(f"""INSERT INTO fact_inventory_daily
        SELECT CAST(day AS DATE), 'wh1', sku, 10, 0,
               CASE WHEN sku = 'a1' AND day >= DATE '2025-05-01' THEN 3000 ELSE 1000 END
        FROM {days}, (VALUES ('a1'), ('a2'), ('b1')) s(sku)""")
    con.execute("""INSERT INTO dim_customer VALUES
        ('c1', '天猫结算账户', 'platform', 15), ('c2', '华东美妆经销商', 'distributor', 60)""")
    con.execute("""INSERT INTO fact_receivable VALUES
        ('i1', 'c2', DATE '2025-03-01', DATE '2025-04-30', 800, NULL),
        ('i2', 'c2', DATE '2025-05-01', DATE '2025-05-16', 200, NULL),
        ('i3', 'c1', DATE '2025-06-20', DATE '2025-07-05', 500, NULL),
        ('i4', 'c1', DATE '2025-06-15', DATE '2025-06-30', 100, NULL),
        ('i5', 'c1', DATE '2025-06-01', DATE '2025-06-16', 800, DATE '2025-06-10'),
        ('i6', 'c1', DATE '2025-06-05', DATE '2025-06-20', 50, DATE '2025-06-30')""")
    con.execute("""INSERT INTO dim_supplier VALUES
        ('s1', '甲供应商', 7, 1, 30), ('s2', '乙供应商', 14, 2, 60), ('s3', '丙供应商', 10, 2, 30)""")
    con.execute("""INSERT INTO fact_purchase_order VALUES
        ('p1', 's1', 'a1', 'wh1', DATE '2025-05-10', DATE '2025-05-17', DATE '2025-05-17', 60, 100, 6000),
        ('p2', 's2', 'b1', 'wh1', DATE '2025-05-10', DATE '2025-05-24', DATE '2025-05-24', 30, 100, 3000),
        ('p3', 's3', 'a2', 'wh1', DATE '2025-06-01', DATE '2025-06-11', DATE '2025-06-11', 10, 100, 1000),
        ('p4', 's2', 'b1', 'wh1', DATE '2025-03-10', DATE '2025-03-24', DATE '2025-03-24', 99, 100, 9900)""")
    con.execute("""INSERT INTO fact_payable VALUES
        ('b1', 's1', DATE '2025-06-01', DATE '2025-07-01', 900, NULL),
        ('b2', 's2', DATE '2025-04-01', DATE '2025-05-31', 1000, NULL)""")
    con.close()
    eng = connect(path)
    yield eng
    eng.close()


def test_synthetic_alerts_and_recommendations(synthetic: Engine) -> None:
    out = run_tool(synthetic, today=SYNTHETIC_TODAY, **SYNTHETIC_PERIOD)
    facts = out.facts
    assert facts["comparable"] and facts["previous_period_name"] == "2025-03-01 至 2025-04-30"
    assert facts["dio_previous"] == pytest.approx(10.0) and facts["dio"] == pytest.approx(5000 / 300)
    assert [(a["category"], a["dio_previous"], a["dio"]) for a in facts["dio_alerts"]] == [("面膜", 10.0, 20.0)]
    assert facts["ccc_driver"] == "dio"
    assert [c["customer_name"] for c in facts["overdue_customers"]] == ["华东美妆经销商"]
    assert facts["overdue_customers"][0]["overdue_beyond_threshold"] == 1000.0
    assert facts["overdue_customers"][0]["max_days_past_due"] == 61
    assert facts["ar"]["balance"] == 1600.0 and facts["ar"]["overdue_over_60_share"] == pytest.approx(800 / 1600)
    recs = facts["recommendations"]
    assert [r["kind"] for r in recs] == ["reduce_stock", "collect", "renegotiate_terms"]  # DIO drove it: first
    assert [(s["sku"], s["sku_name"], s["inventory_increase"]) for s in recs[0]["skus"]] == [("a1", "水润面膜", 2000.0)]
    assert recs[1]["amount"] == 1000.0
    terms = recs[2]
    assert [s["supplier_name"] for s in terms["suppliers"]] == ["甲供应商", "丙供应商"]
    assert terms["weighted_terms_days"] == pytest.approx(39.0)
    assert terms["suppliers"][0]["dpo_gain_days"] == pytest.approx(30 * 6000 / (300 * 61))
    assert "面膜" in out.text and "华东美妆经销商" in out.text and "甲供应商" in out.text
    english = run_tool(synthetic, language="en", today=SYNTHETIC_TODAY, **SYNTHETIC_PERIOD)
    assert "Face mask" in english.text and "Aqua mask" in english.text


def test_synthetic_aging_buckets_and_boundaries(synthetic: Engine) -> None:
    rows = table(run_tool(synthetic, focus="ar_aging", today=SYNTHETIC_TODAY, **SYNTHETIC_PERIOD))
    got = {r.customer_id: [getattr(r, b) for b in BUCKET_COLUMNS] for r in rows.itertuples()}
    # c1: due on the as-of day is current; paid on the as-of day is no longer open.
    assert got == {"c2": [0.0, 0.0, 200.0, 800.0, 0.0], "c1": [600.0, 0.0, 0.0, 0.0, 0.0]}
    assert list(rows["customer_type_name"]) == ["分销商", "平台"]
    ap = table(run_tool(synthetic, focus="ap_aging", today=SYNTHETIC_TODAY, **SYNTHETIC_PERIOD))
    by_supplier = {r.supplier_id: r for r in ap.itertuples()}
    assert by_supplier["s2"].overdue_1_30 == 1000.0 and by_supplier["s2"].overdue_beyond_threshold == 0.0  # 30 days
    assert by_supplier["s1"].current == 900.0 and by_supplier["s1"].purchase_amount == 6000.0
    strict = table(run_tool(synthetic, focus="ap_aging", overdue_days=29, today=SYNTHETIC_TODAY, **SYNTHETIC_PERIOD))
    assert strict["overdue_beyond_threshold"].max() == 1000.0


def test_no_comparison_before_the_data_starts(synthetic: Engine) -> None:
    out = run_tool(synthetic, today=SYNTHETIC_TODAY, start="2025-01-01", end="2025-03-31")
    assert not out.facts["comparable"] and out.facts["dio_alerts"] == []
    assert list(table(out)["row_kind"]) == ["month", "month", "month", "total"]
    assert "不做比较" in out.text


# -- the text states only numbers of the rows and facts -----------------------------------------
NUMBER = re.compile(r"[-+]?¥?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:万|亿|%|[KMB](?![A-Za-z]))?")
FORMATS = ("cny", "percent", "days", "growth", "ratio")


def leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for item in value.values():
            yield from leaves(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from leaves(item)
    else:
        yield value


def unexplained(out: ToolOutput, language: str) -> list[str]:
    """Numbers of the text that are no formatted value of a cell or fact (names and dates taken out first)."""
    values = [*leaves(out.facts), *leaves(out.rows)]
    quoted = sorted({v.isoformat() if isinstance(v, dt.date) else v for v in values if isinstance(v, str | dt.date)},
                    key=len, reverse=True)  # fmt: skip
    text = out.text
    for item in quoted:
        text = text.replace(item, " ")
    allowed: set[str] = set()
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        formats = (*FORMATS, "count") if isinstance(value, int) else FORMATS
        for fmt in formats:
            for shown in (value, abs(value)):
                allowed.update(NUMBER.findall(format_value(shown, fmt, language)))
    return [n for n in NUMBER.findall(text) if n not in allowed]


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize(
    "args",
    [
        {"start": "2025-01-01", "end": "2025-12-31"},
        {"start": "2025-04-01", "end": "2025-09-30", "grain": "quarter", "dio_rise_threshold": 0.05, "overdue_days": 0},
        {"focus": "ar_aging", "end": "2025-09-30"},
        {"focus": "ap_aging"},
    ],
    ids=["year", "quarters-low-thresholds", "ar", "ap"],
)
def test_text_numbers_are_rows_or_facts(engine: Engine, language: str, args: dict[str, Any]) -> None:
    out = run_tool(engine, language=language, **args)
    assert out.text and not unexplained(out, language), out.text
    assert out.text.count("\n") >= 2


@pytest.mark.parametrize("language", ["zh", "en"])
def test_synthetic_text_numbers_are_rows_or_facts(synthetic: Engine, language: str) -> None:
    out = run_tool(synthetic, language=language, today=SYNTHETIC_TODAY, **SYNTHETIC_PERIOD)
    assert not unexplained(out, language), out.text
    assert format_value(out.facts["ccc"], "days", language) in out.text
    assert format_value(1000.0, "cny", language) in out.text  # the planted overdue amount


def test_the_honesty_check_catches_an_invented_number(engine: Engine) -> None:
    out = run_tool(engine, focus="ap_aging")
    forged = out.model_copy(update={"text": out.text + "另有 ¥123.45万 待核。"})
    assert unexplained(forged, "zh") == ["¥123.45万"]
