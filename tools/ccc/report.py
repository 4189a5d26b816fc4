"""The findings of one run as ``facts``: the plain, JSON-ready values the text is written from.

The narration reads nothing but these facts, so every number it states is a value here; the only
arithmetic is the change vs the previous period (``*_change_days``), shares of a balance and the
DPO estimate of :func:`tools.ccc.alerts.terms_to_renegotiate`, each named as what it is. Lists
(alerts, recommendation targets) keep the few items the text names; their full counts sit next
to them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from presentation.language import Language
from presentation.metric_format import format_bucket, format_period
from semantic_layer.query import Period
from semantic_layer.semantic_model import SemanticModel
from tools.ccc import aging, alerts
from tools.ccc.metrics import PARTS

#: Alerts and recommendation targets named in facts (and so in the text).
NAMED = 3
BUCKET_NAMES = {
    "zh": {"current": "未到期", "overdue_1_30": "逾期1-30天", "overdue_31_60": "逾期31-60天",
           "overdue_61_90": "逾期61-90天", "overdue_over_90": "逾期90天以上"},
    "en": {"current": "not yet due", "overdue_1_30": "1-30 days overdue", "overdue_31_60": "31-60 days overdue",
           "overdue_61_90": "61-90 days overdue", "overdue_over_90": "over 90 days overdue"},
}  # fmt: skip
#: The recommendation that acts on each part of the cycle.
ACTS_ON = {"dso": "collect", "dio": "reduce_stock", "dpo": "renegotiate_terms"}


@dataclass
class Gathered:
    """Everything the reads returned for one run, with the arguments that shaped them."""

    period: Period
    previous: Period | None  # None: the previous period is not wholly inside the data
    grain: str | None
    dio_rise_threshold: float
    overdue_days: int
    totals: pd.DataFrame  # one row: TOTALS (+ _previous, _growth when previous is set)
    trend: pd.DataFrame | None
    receivables: pd.DataFrame  # aging by customer on period.end
    payables: pd.DataFrame  # aging by supplier on period.end
    purchases: pd.DataFrame  # by supplier, in period
    category_dio: pd.DataFrame | None  # None without a previous period
    skus: pd.DataFrame | None  # SKUs of the alerted categories
    category_names: dict[str, str] = field(default_factory=dict)
    sku_names: dict[str, str] = field(default_factory=dict)


def plain(value: Any) -> Any:
    """A JSON-ready scalar: numpy scalars unwrapped, NaN and infinities as None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def records(frame: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    return [{c: plain(v) for c, v in zip(columns, row, strict=True)} for row in frame[columns].itertuples(index=False)]


def facts(g: Gathered, focus: str, model: SemanticModel, language: Language, rows_limit: int) -> dict[str, Any]:
    """All facts of a run: the period and its totals, both agings, alerts and recommendations."""
    out: dict[str, Any] = {
        "focus": focus,
        "grain": g.grain,
        "dio_rise_threshold": g.dio_rise_threshold,
        "overdue_days": g.overdue_days,
        "headline_overdue_days": aging.HEADLINE_DAYS,
        "rows_shown_limit": rows_limit,
    }
    out |= period_facts(g, language)
    out["ar"] = aging_facts(g.receivables, language)
    out["ap"] = aging_facts(g.payables, language)
    out |= overdue_customer_facts(g, model, language)
    out |= overdue_supplier_facts(g)
    out |= dio_alert_facts(g)
    out["recommendations"] = recommendations(g, out)
    return out


def period_facts(g: Gathered, language: Language) -> dict[str, Any]:
    """The period, its totals, the change vs the previous period and which part drove it."""
    row = g.totals.iloc[0]
    out: dict[str, Any] = {
        "period_name": format_period(g.period.start, g.period.end, language),
        "period_start": g.period.start.isoformat(),
        "period_end": g.period.end.isoformat(),
        "as_of_name": format_period(g.period.end, g.period.end, language),
        "comparable": g.previous is not None,
        **{m: plain(row[m]) for m in (*PARTS, "avg_ar_balance", "avg_ap_balance", "cogs")},
    }
    if g.previous is not None:
        out["previous_period_name"] = format_period(g.previous.start, g.previous.end, language)
        changes = {m: float(row[m] - row[f"{m}_previous"]) for m in PARTS}
        out |= {f"{m}_previous": plain(row[f"{m}_previous"]) for m in PARTS}
        out |= {f"{m}_change_days": plain(changes[m]) for m in PARTS}
        out["ccc_driver"] = alerts.ccc_driver(changes)
    if g.trend is not None and g.grain is not None:
        out["trend_rows"] = len(g.trend)
        valued = g.trend.dropna(subset=["ccc"]).reset_index(drop=True)
        if len(valued) >= 2:
            for key, at in (("trend_high", valued["ccc"].idxmax()), ("trend_low", valued["ccc"].idxmin())):
                bucket = valued.loc[at]
                name = format_bucket(bucket[g.grain], g.grain, language)
                out[key] = {"period_name": name, "ccc": plain(bucket["ccc"])}
    return out


def aging_facts(frame: pd.DataFrame, language: Language) -> dict[str, Any]:
    """Totals of one aging over all its parties, with the bucket names the text uses."""
    return {
        **{k: plain(v) for k, v in aging.summary(frame).items()},
        "parties": len(frame),
        "bucket_names": BUCKET_NAMES[language],
    }


def overdue_customer_facts(g: Gathered, model: SemanticModel, language: Language) -> dict[str, Any]:
    """Customers with balances more than ``overdue_days`` past due: count, amount, the largest few."""
    late = alerts.overdue_parties(g.receivables)
    balance = float(g.receivables["balance"].sum())
    amount = float(late[aging.BEYOND].sum())
    named = records(late.head(NAMED), ["customer_id", "customer_name", "customer_type", aging.BEYOND,
                                       "max_days_past_due", "balance"])  # fmt: skip
    for item in named:
        item["customer_type_name"] = _member_name(model, "customer_type", item["customer_type"], language)
    return {
        "overdue_customer_count": len(late),
        "overdue_customers_amount": amount,
        "overdue_customers_share": amount / balance if balance else None,
        "overdue_customers": named,
    }


def overdue_supplier_facts(g: Gathered) -> dict[str, Any]:
    """Suppliers we owe more than ``overdue_days`` past due: paying that late strains supply."""
    late = alerts.overdue_parties(g.payables)
    return {
        "overdue_supplier_count": len(late),
        "overdue_suppliers_amount": float(late[aging.BEYOND].sum()),
        "overdue_suppliers": records(
            late.head(NAMED), ["supplier_id", "supplier_name", aging.BEYOND, "max_days_past_due"]
        ),
    }


def _member_name(model: SemanticModel, dimension: str, code: str | None, language: Language) -> str | None:
    member = model.dimensions[dimension].member(code) if code else None
    if member is None:
        return code
    return member.name_zh if language == "zh" else member.name_en


def dio_alert_facts(g: Gathered) -> dict[str, Any]:
    """Categories whose DIO rose past the threshold (None: no previous period to compare with)."""
    if g.category_dio is None:
        return {"dio_alert_count": None, "dio_alerts": []}
    rose = alerts.dio_rises(g.category_dio, g.dio_rise_threshold)
    named = records(rose.head(NAMED), ["category", "dio", "dio_previous", "dio_growth"])
    for item in named:
        item["category_name"] = g.category_names.get(item["category"], item["category"])
    return {"dio_alert_count": len(rose), "dio_alerts": named}


def recommendations(g: Gathered, found: dict[str, Any]) -> list[dict[str, Any]]:
    """Collect, reduce stock, renegotiate terms: those with a target, the one acting on what
    lengthened the cycle first."""
    recs: list[dict[str, Any]] = []
    if found["overdue_customers"]:
        recs.append(
            {
                "kind": "collect",
                "customers": found["overdue_customers"],
                "amount": found["overdue_customers_amount"],
                "share": found["overdue_customers_share"],
                "dso": found["dso"],
            }
        )
    if found["dio_alerts"]:
        recs.append({"kind": "reduce_stock", "categories": found["dio_alerts"], "skus": _stock_skus(g)})
    terms, weighted = alerts.terms_to_renegotiate(g.purchases, found["cogs"] or float("nan"))
    if not terms.empty:
        suppliers = records(terms, ["supplier_id", "supplier_name", "purchase_amount", "payment_terms_days",
                                    "target_terms_days", "dpo_gain_days"])  # fmt: skip
        gains = [s["dpo_gain_days"] for s in suppliers if s["dpo_gain_days"] is not None]
        recs.append(
            {
                "kind": "renegotiate_terms",
                "suppliers": suppliers,
                "weighted_terms_days": plain(weighted),
                "dpo": found["dpo"],
                "dpo_gain_days_total": sum(gains) if gains else None,
            }
        )
    first = ACTS_ON.get(found.get("ccc_driver") or "")
    return sorted(recs, key=lambda r: r["kind"] != first)


def _stock_skus(g: Gathered) -> list[dict[str, Any]]:
    if g.skus is None:
        return []
    picked = alerts.stock_to_reduce(g.skus, g.dio_rise_threshold, limit=NAMED)
    named = records(picked, ["sku", "category", "inventory_increase", "avg_inventory_value", "dio", "dio_previous"])
    for item in named:
        item["sku_name"] = g.sku_names.get(item["sku"], item["sku"])
        item["category_name"] = g.category_names.get(item["category"], item["category"])
    return named
