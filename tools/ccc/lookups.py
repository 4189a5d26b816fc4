"""Plain reads the recommendations need that are not governed metrics: which days have data,
each supplier's purchase volume and terms, and display names.

Every statement is one SELECT over the model's entities in DuckDB's dialect, with literals built by
sqlglot, never pasted; the semantic layer makes it the warehouse's (tools/reads.py).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlglot import exp

from semantic_layer.engine import EngineError
from semantic_layer.query import Period
from tools.base import ToolContext
from tools.ccc.metrics import ROW_LIMIT, TIMEOUT_S
from tools.reads import read_frame


def _frame(context: ToolContext, sql: str) -> pd.DataFrame:
    return read_frame(
        context.engine, context.model, sql, row_limit=ROW_LIMIT, timeout_s=TIMEOUT_S, what="the cash-cycle analysis"
    )[0]


def coverage(context: ToolContext) -> tuple[dt.date, dt.date]:
    """The first and last order days: the span over which DIO, DSO and DPO have both sides."""
    row = _frame(context, "SELECT MIN(order_date) AS first_day, MAX(order_date) AS last_day FROM fact_sales").iloc[0]
    if pd.isna(row["first_day"]):
        raise EngineError("fact_sales is empty: there is no period to analyse")
    return row["first_day"], row["last_day"]


def purchases(context: ToolContext, period: Period) -> pd.DataFrame:
    """Per supplier: name, payment terms and the amount of purchase orders placed in ``period``."""
    low, high = (exp.Literal.string(d.isoformat()).sql() for d in (period.start, period.end))
    sql = f"""
        SELECT s.supplier_id, s.supplier_name, s.payment_terms_days, SUM(p.amount) AS purchase_amount
        FROM fact_purchase_order p JOIN dim_supplier s ON s.supplier_id = p.supplier_id
        WHERE p.order_date BETWEEN CAST({low} AS DATE) AND CAST({high} AS DATE)
        GROUP BY s.supplier_id, s.supplier_name, s.payment_terms_days"""
    frame = _frame(context, sql)
    frame["purchase_amount"] = frame["purchase_amount"].astype(float)
    frame["payment_terms_days"] = frame["payment_terms_days"].astype(float)
    return frame


def category_names(context: ToolContext) -> dict[str, str]:
    """Category code -> display name in the asker's language (the code is the Chinese name)."""
    if context.language == "zh":
        return {}
    frame = _frame(context, "SELECT DISTINCT category, category_en FROM dim_sku")
    return {r.category: r.category_en or r.category for r in frame.itertuples()}


def sku_names(context: ToolContext, sku_ids: list[str]) -> dict[str, str]:
    """SKU id -> name in the asker's language, for the few SKUs a recommendation names."""
    if not sku_ids:
        return {}
    column = "sku_name" if context.language == "zh" else "sku_name_en"
    select = exp.select("sku_id", exp.column(column).as_("name")).from_("dim_sku")
    frame = _frame(context, select.where(exp.column("sku_id").isin(*sku_ids)).sql(dialect="duckdb"))
    return {r.sku_id: r.name or r.sku_id for r in frame.itertuples()}
