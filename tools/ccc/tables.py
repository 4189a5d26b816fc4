"""The table and chart of each focus, from the frames a run gathered.

Overview: the trend, one row per bucket (``row_kind`` = the grain), then the whole period
(``row_kind`` = ``total``) and, when comparable, the equal-length previous period
(``previous``); the chart plots only the bucket rows (``row_filter``). Aging: one row per party,
the largest balance beyond the overdue threshold first, at most :data:`MAX_ROWS` rows.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from presentation.cells import display_name
from presentation.language import Language
from presentation.metric_format import format_bucket, format_period
from semantic_layer.query import Period
from semantic_layer.semantic_model import SemanticModel
from tools.base import labels_in
from tools.ccc.aging import BEYOND, BUCKET_COLUMNS
from tools.ccc.metrics import PARTS
from tools.ccc.report import BUCKET_NAMES, Gathered, plain

MAX_ROWS = 200
TREND_COLUMNS = ["period", "period_name", "period_end", "row_kind", *PARTS]
_AMOUNTS = ["balance", *BUCKET_COLUMNS, "overdue", BEYOND, "max_days_past_due", "open_documents"]
AR_COLUMNS = ["customer_id", "customer_name", "customer_type", "customer_type_name", "payment_terms_days", *_AMOUNTS]
AP_COLUMNS = ["supplier_id", "supplier_name", "payment_terms_days", "purchase_amount", *_AMOUNTS]
#: Each column's header, (zh, en); the cycle's parts are governed metrics and take the model's names.
_LABELS = {
    "period": ("期初", "period start"), "period_name": ("期间", "period"), "period_end": ("期末", "period end"),
    "row_kind": ("行类型", "row kind"), "customer_id": ("客户编码", "customer code"), "customer_name": ("客户", "customer"),
    "customer_type": ("客户类型编码", "customer type code"), "customer_type_name": ("客户类型", "customer type"),
    "supplier_id": ("供应商编码", "supplier code"), "supplier_name": ("供应商", "supplier"),
    "payment_terms_days": ("账期", "payment terms"), "purchase_amount": ("采购金额", "purchases"),
    "balance": ("余额", "balance"), "overdue": ("逾期金额", "overdue"),
    BEYOND: ("超过阈值的逾期", "overdue beyond threshold"), "max_days_past_due": ("最长逾期天数", "max days past due"),
    "open_documents": ("未结单据数", "open documents"),
}  # fmt: skip
#: How each amount column reads (a ``format_value`` format).
FORMATS: dict[str, str | None] = {
    "payment_terms_days": "days", "purchase_amount": "cny", "balance": "cny", **dict.fromkeys(BUCKET_COLUMNS, "cny"),
    "overdue": "cny", BEYOND: "cny", "max_days_past_due": "days", "open_documents": "count",
}  # fmt: skip
_KIND_SUFFIX = {
    "zh": {"total": "(全期)", "previous": "(上期)"},
    "en": {"total": " (whole period)", "previous": " (previous period)"},
}


def labels(language: Language) -> dict[str, str]:
    """Every column's header in ``language``: the aging buckets by their names, the rest from :data:`_LABELS`."""
    return {**labels_in(_LABELS, language), **BUCKET_NAMES[language]}


def row_kinds(model: SemanticModel, language: Language) -> dict[str, str]:
    """How a ``row_kind`` cell reads: a bucket row by its grain's name, the summary rows as what they cover."""
    kinds = {g.name: display_name(model, g.name, language) for g in model.time_dimension.grains}
    return kinds | {kind: suffix.strip(" ()（）") for kind, suffix in _KIND_SUFFIX[language].items()}


def trend_table(g: Gathered, language: Language) -> list[list[Any]]:
    """Rows of :data:`TREND_COLUMNS`: the buckets, the whole period, the previous period."""
    rows: list[list[Any]] = []
    if g.trend is not None and g.grain is not None:
        for record in g.trend.itertuples(index=False):
            start: dt.date = getattr(record, g.grain)
            end = min(_bucket_end(start, g.grain), g.period.end)
            name = format_bucket(start, g.grain, language)
            rows.append([start, name, end, g.grain, *(plain(getattr(record, m)) for m in PARTS)])
    total = g.totals.iloc[0]
    rows.append(_summary_row(g.period, "total", [total[m] for m in PARTS], language))
    if g.previous is not None:
        rows.append(_summary_row(g.previous, "previous", [total[f"{m}_previous"] for m in PARTS], language))
    return rows


def _summary_row(period: Period, kind: str, values: list[Any], language: Language) -> list[Any]:
    name = format_period(period.start, period.end, language) + _KIND_SUFFIX[language][kind]
    return [period.start, name, period.end, kind, *(plain(v) for v in values)]


def _bucket_end(start: dt.date, grain: str) -> dt.date:
    months = 3 if grain == "quarter" else 1
    index = start.month - 1 + months
    return dt.date(start.year + index // 12, index % 12 + 1, 1) - dt.timedelta(days=1)


def ar_table(g: Gathered, model: SemanticModel, language: Language) -> list[list[Any]]:
    """Rows of :data:`AR_COLUMNS`, customers by balance beyond the threshold, then overdue, then balance."""
    types = model.dimensions["customer_type"]

    def type_name(code: Any) -> Any:
        member = types.member(code) if isinstance(code, str) else None
        return code if member is None else (member.name_zh if language == "zh" else member.name_en)

    frame = g.receivables.assign(customer_type_name=g.receivables["customer_type"].map(type_name))
    return _rows(frame, AR_COLUMNS)


def ap_table(g: Gathered) -> list[list[Any]]:
    """Rows of :data:`AP_COLUMNS`, suppliers ordered like customers; purchase_amount is in the period."""
    bought = g.purchases.set_index("supplier_id")["purchase_amount"]
    frame = g.payables.assign(purchase_amount=g.payables["supplier_id"].map(bought).fillna(0.0))
    return _rows(frame, AP_COLUMNS)


def _rows(frame: pd.DataFrame, columns: list[str]) -> list[list[Any]]:
    return [[plain(v) for v in row] for row in frame[columns].head(MAX_ROWS).itertuples(index=False)]


def trend_chart(g: Gathered, model: SemanticModel, language: Language) -> dict[str, Any] | None:
    """A line per part of the cycle over the bucket rows (the summary rows are filtered out)."""
    if g.trend is None or g.grain is None:
        return None
    grain = next(x for x in model.time_dimension.grains if x.name == g.grain)
    title = f"现金转换周期按{grain.name_zh}趋势" if language == "zh" else f"Cash conversion cycle by {grain.name_en}"
    return {
        "type": "line",
        "x": "period",
        "x_label": "period_name",
        "y": list(PARTS),
        "series": None,
        "series_label": None,
        "row_filter": {"row_kind": g.grain},
        "title": title,
        "formats": dict.fromkeys(PARTS, "days"),
        "y_names": {m: model.metrics[m].name(language) for m in PARTS},
    }


def aging_chart(g: Gathered, side: str, language: Language) -> dict[str, Any]:
    """Stacked bars: each party's balance on the as-of day split into the aging buckets."""
    key, name = ("customer_id", "customer_name") if side == "ar" else ("supplier_id", "supplier_name")
    day = format_period(g.period.end, g.period.end, language)
    if language == "zh":
        title = f"{'应收' if side == 'ar' else '应付'}账龄(截至{day})"
    else:
        title = f"{'AR' if side == 'ar' else 'AP'} aging as of {day}"
    return {
        "type": "bar",
        "stacked": True,
        "x": key,
        "x_label": name,
        "y": list(BUCKET_COLUMNS),
        "series": None,
        "series_label": None,
        "title": title,
        "formats": dict.fromkeys(BUCKET_COLUMNS, "cny"),
        "y_names": dict(BUCKET_NAMES[language]),
    }
