"""Price elasticity by category or SKU, and the price that maximises gross profit.

"面膜的价格弹性是多少?建议怎么定价?" -> ``ElasticityTool`` with ``category="面膜"``: the
elasticity with its confidence interval (``model``: a log-log demand model fitted by count PML
with SKU, life-cycle, seasonality and channel-promotion fixed effects, stockout days excluded),
and the gross-profit-maximising price kept within the prices actually observed (``pricing``).

Reads: the sales panel and SKU attributes by plain SQL (``data``), units, GMV and gross margin
through governed MetricQueries, and with ``include_promotions`` the governed promo_roi by
promotion. Inventory snapshots are read to drop stockout days, so the role must be allowed
inventory metrics too (``stockout_rate`` in ``reads``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from semantic_layer.query import Filter, Period
from tools.base import ToolContext, ToolOutput, labels_in, require
from tools.elasticity import data, model, narrate, table

MAX_ROWS = 200
OWN_ESTIMATE_WEIGHT = 0.5  # a SKU "has its own estimate" when its data carry at least this weight


class Arguments(BaseModel):
    """What to estimate and price."""

    model_config = ConfigDict(extra="forbid")

    category: str | None = Field(
        None, description="One product category as in dim_sku.category (e.g. 面膜, 精华); None = every category."
    )
    sku_ids: list[str] | None = Field(
        None, description="Only these SKUs (ids like sku00042); gives one row per SKU. None = all SKUs in scope."
    )
    level: Literal["category", "sku"] = Field(
        "category", description="category: one row per category; sku: one row per SKU (shrunk toward its category)."
    )
    start: dt.date | None = Field(None, description="First sales day used; None = the first day with sales.")
    end: dt.date | None = Field(None, description="Last sales day used; None = the day before today.")
    include_promotions: bool = Field(
        False, description="Also rank the promotions of the period by their governed promotion ROI (promo_roi)."
    )


class ElasticityTool:
    name: ClassVar[str] = "elasticity"
    reads: ClassVar[tuple[str, ...]] = ("units_sold", "gmv", "gross_margin", "stockout_rate")
    Arguments: ClassVar[type[BaseModel]] = Arguments

    def run(self, arguments: BaseModel, context: ToolContext) -> ToolOutput:
        args = Arguments.model_validate(arguments.model_dump())
        require(context, self.reads + (("promo_roi",) if args.include_promotions else ()))
        language = context.language
        span = data.sales_span(context, context.today)
        last_day = context.today - dt.timedelta(days=1)
        end = min(args.end or last_day, last_day)
        start = args.start or (span[0] if span else end)
        if start > end:
            return _empty(language, "empty_period", (start, end))
        if span is None:
            return _empty(language, "no_sales", (start, end))
        period = Period(start=start, end=end)

        skus = data.skus(context, period)
        category = _resolve_category(args.category, skus) if args.category else None
        if args.category and category is None:
            return _unknown_category(args.category, skus, language)
        level = "sku" if args.sku_ids else args.level
        scope = skus.index[skus["category"] == category] if category else skus.index
        if args.sku_ids:
            scope = scope.intersection(pd.Index(args.sku_ids))
            if scope.empty:
                return _empty(language, "unknown_skus", (start, end))

        filters = [Filter.model_validate({"dimension": "category", "members": [category]})] if category else []
        sales, _ = data.governed(context, ["units_sold", "gross_margin"], "sku", period, filters)
        margins, _ = data.governed(context, ["gross_margin"], "category", period, filters)
        promotions = _promotions(context, period) if args.include_promotions else None
        cells, sql = data.panel(context, period)
        cells["category"] = cells["sku_id"].map(skus["category"])
        fit = model.fit(cells) if len(cells) else None

        names = _category_names(skus, language)
        rows = pd.DataFrame(columns=table.SKU_COLUMNS if level == "sku" else table.CATEGORY_COLUMNS)
        own_estimates = 0
        if fit is not None:
            frame = table.sku_frame(skus.loc[scope], sales, fit.skus, fit.categories, period.days)
            if level == "sku":
                sku_names = skus["sku_name" if language == "zh" else "sku_name_en"]
                rows = table.sku_rows(frame, names, sku_names)
                own_estimates = int((frame["sku_weight"] >= OWN_ESTIMATE_WEIGHT).sum())
            else:
                rows = table.category_rows(frame, fit.categories, margins, names)

        facts: dict[str, Any] = {
            "rows_total": len(rows),
            "skus_with_own_estimate": own_estimates,
            "period_days": period.days,
        }
        shown = rows.head(MAX_ROWS)
        if promotions is not None:
            facts["promotions"] = _records(promotions)
        text = narrate.narrate(shown, level, language, facts, promotions)
        return ToolOutput(
            text=text,
            columns=list(shown.columns),
            rows=_records_as_rows(shown),
            chart=_chart(level, language) if not shown.empty else None,
            sql=sql,
            metrics=["units_sold", "gross_margin"] + (["promo_roi"] if promotions is not None else []),
            period=(period.start, period.end),
            facts=facts,
            labels=labels_in(table.LABELS, language),
            formats=dict(table.FORMATS),
            values={"pricing_rule": narrate.RULES[language]},
        )


def _resolve_category(name: str, skus: pd.DataFrame) -> str | None:
    """The category code for a Chinese code or an English name (any case)."""
    wanted = name.strip()
    pairs = skus[["category", "category_en"]].drop_duplicates()
    for code, english in pairs.itertuples(index=False):
        if wanted == code or (english and wanted.casefold() == str(english).casefold()):
            return str(code)
    return None


def _category_names(skus: pd.DataFrame, language: str) -> dict[str, str]:
    pairs = skus[["category", "category_en"]].drop_duplicates()
    return {c: (c if language == "zh" else (e or c)) for c, e in pairs.itertuples(index=False)}


def _promotions(context: ToolContext, period: Period) -> pd.DataFrame:
    """Promotions starting in the period with their governed ROI, best first."""
    roi, _ = data.governed(context, ["promo_roi"], "promotion", period)
    attributes = data.promotions(context, period)
    frame = attributes.join(roi["promo_roi"], how="left").reset_index()
    return frame.sort_values("promo_roi", ascending=False, na_position="last", kind="stable")


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _plain(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def _records_as_rows(frame: pd.DataFrame) -> list[list[Any]]:
    return [[_plain(v) for v in row] for row in frame.itertuples(index=False)]


def _plain(value: Any) -> Any:
    """JSON-friendly cell: numpy scalars to Python, NaN to None, timestamps to dates."""
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _chart(level: str, language: str) -> dict[str, Any]:
    """Bars of the elasticity with its confidence interval."""
    x = "sku_id" if level == "sku" else "category"
    return {
        "type": "bar",
        "x": x,
        "x_label": "sku_name" if level == "sku" else "category_name",
        "y": ["elasticity"],
        "error": {"low": "ci_low", "high": "ci_high"},
        "series": None,
        "series_label": None,
        "title": "价格弹性(含置信区间)" if language == "zh" else "Price elasticity (with confidence interval)",
        "formats": {"elasticity": "ratio"},
        "y_names": {"elasticity": "价格弹性" if language == "zh" else "price elasticity"},
    }


def _empty(language: str, reason: str, period: tuple[dt.date, dt.date]) -> ToolOutput:
    texts = {
        "no_sales": (
            "所选期间没有销售数据,无法估计价格弹性。",
            "There are no sales in the period to estimate a price elasticity from.",
        ),
        "empty_period": ("所选期间的开始日期晚于结束日期。", "The period starts after it ends."),
        "unknown_skus": (
            "没有找到所给的SKU(或它们不属于所选品类)。",
            "None of the given SKUs was found (in the chosen category).",
        ),
    }
    zh, en = texts[reason]
    return ToolOutput(text=zh if language == "zh" else en, columns=[], rows=[], period=period, facts={"rows_total": 0})


def _unknown_category(name: str, skus: pd.DataFrame, language: str) -> ToolOutput:
    options = sorted(skus["category"].unique())
    names = _category_names(skus, language)
    listed = ("、" if language == "zh" else ", ").join(names[c] for c in options)
    text = (
        f"没有名为“{name}”的品类。可选品类:{listed}。"
        if language == "zh"
        else f"There is no category called '{name}'. Categories: {listed}."
    )
    return ToolOutput(text=text, columns=[], rows=[], facts={"rows_total": 0, "categories": options})
