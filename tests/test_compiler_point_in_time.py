"""Point-in-time metrics (stock on hand, AR/AP balances) are taken on the period's last day, per bucket
on each bucket's last day, and a new one is YAML only (DATA_CONTRACT.md, Additions 2026-12)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pytest

from semantic_layer.compiler import compile_query
from semantic_layer.query import MetricQuery, Period
from semantic_layer.semantic_model import MODEL_DIR, load_model
from tests.handwritten_sql import TOTALS
from tests.test_compiler_metrics import handwritten, same

POINT_IN_TIME = ["on_hand_units", "inventory_value_end", "in_transit_units", "ar_balance", "ap_balance"]


@pytest.fixture(scope="module")
def con(demo_db: Path) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(str(demo_db), read_only=True)
    yield connection
    connection.close()


def test_the_model_knows_which_metrics_are_snapshots() -> None:
    model = load_model()
    for metric in POINT_IN_TIME:
        assert model.metrics[metric].point_in_time and model.metrics[metric].additive
    for metric in ["gmv", "avg_inventory_value", "avg_ar_balance", "dso", "dio"]:
        assert not model.metrics[metric].point_in_time
    assert model.metrics["slow_moving_share"].point_in_time and not model.metrics["slow_moving_share"].additive


#: Each bucket's last day inside the period, per bucket (DuckDB's date_trunc weeks start on Monday).
BUCKET_ENDS = """
    SELECT CAST(date_trunc($grain, d.range) AS DATE), CAST(MAX(d.range) AS DATE)
    FROM range(CAST($start AS DATE), CAST($end AS DATE) + INTERVAL 1 DAY, INTERVAL 1 DAY) d GROUP BY 1"""


@pytest.mark.parametrize("grain", ["week", "month", "quarter"])
@pytest.mark.parametrize("metric", POINT_IN_TIME)
def test_each_bucket_is_read_on_its_last_day_inside_the_period(con, metric: str, grain: str) -> None:
    # Starts and ends mid-bucket: the last bucket is read on the period's end, not the bucket's.
    period = Period(start=dt.date(2024, 12, 20), end=dt.date(2025, 5, 14))
    rows = dict(con.execute(compile_query(MetricQuery(metrics=[metric], grain=grain, period=period)).sql).fetchall())
    ends = con.execute(BUCKET_ENDS, {"grain": grain, "start": period.start, "end": period.end}).fetchall()
    expected = {bucket: handwritten(con, TOTALS[metric], Period(start=day, end=day))[0][0] for bucket, day in ends}
    assert set(rows) == set(expected)
    assert all(same(rows[k], expected[k]) for k in expected), (rows, expected)


def test_dso_and_dpo_keep_their_average_balances(con) -> None:
    period = Period(start=dt.date(2025, 4, 1), end=dt.date(2025, 6, 30))
    row = con.execute(
        compile_query(MetricQuery(metrics=["dso", "avg_ar_balance", "ar_balance", "gmv"], period=period)).sql
    ).fetchone()
    dso, avg_ar, ar_end, gmv = row
    (want_avg,) = handwritten(con, TOTALS["avg_ar_balance"], period)[0]
    (want_end,) = handwritten(con, TOTALS["ar_balance"], period)[0]
    assert same(avg_ar, want_avg) and same(ar_end, want_end) and not same(avg_ar, ar_end)
    assert same(dso, float(avg_ar) / (float(gmv) / period.days))


def test_a_snapshot_compared_with_last_year_reads_last_years_end(con) -> None:
    period = Period(start=dt.date(2025, 7, 1), end=dt.date(2025, 9, 30))
    compiled = compile_query(
        MetricQuery(metrics=["on_hand_units"], dimensions=["warehouse"], period=period, compare="yoy")
    )
    rows = con.execute(compiled.sql).fetchall()
    want_now = dict(
        con.execute(
            "SELECT warehouse_id, SUM(on_hand_qty) FROM fact_inventory_daily WHERE snapshot_date = ? GROUP BY 1",
            [period.end],
        ).fetchall()
    )
    want_before = dict(
        con.execute(
            "SELECT warehouse_id, SUM(on_hand_qty) FROM fact_inventory_daily WHERE snapshot_date = ? GROUP BY 1",
            [dt.date(2024, 9, 30)],
        ).fetchall()
    )
    assert len(rows) == len(want_now) > 1
    for warehouse, now, before, growth in rows:
        assert (now, before) == (want_now[warehouse], want_before[warehouse])
        assert same(growth, now / before - 1)


def test_a_new_point_in_time_metric_is_yaml_only(con, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    shutil.copytree(MODEL_DIR, folder)
    (folder / "extra.yaml").write_text(
        "measures:\n"
        "  - {name: out_of_stock_skus_end, entity: fact_inventory_daily, over: period_end,\n"
        "     expr: 'COUNT(DISTINCT CASE WHEN on_hand_qty = 0 THEN sku_id END)'}\n"
        "metrics:\n"
        "  - {id: out_of_stock_skus, name_zh: 缺货SKU数, name_en: out-of-stock SKUs, synonyms: [缺货SKU数, OOS SKUs],\n"
        "     description_zh: 期末缺货SKU数, description_en: SKUs out of stock on the end, formula: out_of_stock_skus_end,\n"
        "     format: count, domain: inventory, owner: Supply Chain}\n",
        encoding="utf-8",
    )
    model = load_model(folder)
    assert model.metrics["out_of_stock_skus"].point_in_time
    period = Period(start=dt.date(2025, 1, 1), end=dt.date(2025, 2, 20))
    compiled = compile_query(MetricQuery(metrics=["out_of_stock_skus"], grain="month", period=period), model)
    got = dict(con.execute(compiled.sql).fetchall())
    sql = "SELECT COUNT(DISTINCT sku_id) FROM fact_inventory_daily WHERE snapshot_date = ? AND on_hand_qty = 0"
    assert got == {
        dt.date(2025, 1, 1): con.execute(sql, [dt.date(2025, 1, 31)]).fetchone()[0],
        dt.date(2025, 2, 1): con.execute(sql, [dt.date(2025, 2, 20)]).fetchone()[0],
    }
