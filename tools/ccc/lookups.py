"""Plain reads the recommendations need that are not governed metrics: which days have data,
each supplier's purchase volume and terms, and display names.

Each is one of the model's ``ccc.*`` reads (reads.yaml), bound with this module's values; the
semantic layer makes it the warehouse's for the asker (tools/reads.py).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from semantic_layer.engine import EngineError
from semantic_layer.query import Period
from tools.base import ToolContext
from tools.ccc.metrics import ROW_LIMIT, TIMEOUT_S


def _frame(context: ToolContext, read: str, **params: object) -> pd.DataFrame:
    return context.reader.frame(
        read, row_limit=ROW_LIMIT, timeout_s=TIMEOUT_S, what="the cash-cycle analysis", **params
    )[0]


def coverage(context: ToolContext) -> tuple[dt.date, dt.date]:
    """The first and last order days: the span over which DIO, DSO and DPO have both sides."""
    row = _frame(context, "ccc.coverage").iloc[0]
    if pd.isna(row["first_day"]):
        raise EngineError("there are no sales: there is no period to analyse")
    return row["first_day"], row["last_day"]


def purchases(context: ToolContext, period: Period) -> pd.DataFrame:
    """Per supplier: name, payment terms and the amount of purchase orders placed in ``period``."""
    frame = _frame(context, "ccc.purchases", low=period.start, high=period.end)
    frame["purchase_amount"] = frame["purchase_amount"].astype(float)
    frame["payment_terms_days"] = frame["payment_terms_days"].astype(float)
    return frame


def category_names(context: ToolContext) -> dict[str, str]:
    """Category code -> display name in the asker's language (the code is the Chinese name)."""
    if context.language == "zh":
        return {}
    frame = _frame(context, "ccc.category_names")
    return {r.category: r.category_en or r.category for r in frame.itertuples()}


def sku_names(context: ToolContext, sku_ids: list[str]) -> dict[str, str]:
    """SKU id -> name in the asker's language, for the few SKUs a recommendation names."""
    if not sku_ids:
        return {}
    frame = _frame(context, "ccc.sku_names", sku_ids=list(sku_ids))
    names = frame["sku_name" if context.language == "zh" else "sku_name_en"]
    return {sku: name or sku for sku, name in zip(frame["sku_id"], names, strict=True)}
