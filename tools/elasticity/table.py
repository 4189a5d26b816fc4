"""The rows the tool returns: one per category or one per SKU, with the pricing advice.

A SKU row prices the SKU at its own (shrunk) elasticity. A category row applies the category's
elasticity to each of its SKUs (each gets its own cost, current price and observed range) and
sums up: prices are averages weighted by the SKUs' current units, the gross-profit change is the
sum. The gross-profit change is per year: the period's units, scaled to 365 days, at the current
list price, moved along the fitted demand curve.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tools.elasticity import pricing

CATEGORY_COLUMNS = [
    "category",
    "category_name",
    "elasticity",
    "ci_low",
    "ci_high",
    "n_obs",
    "n_skus",
    "current_price",
    "recommended_price",
    "price_change",
    "price_low",
    "price_high",
    "unit_cost",
    "gross_margin",
    "units_per_year",
    "expected_gross_profit_change",
    "pricing_rule",
]
SKU_COLUMNS = [
    "sku_id",
    "sku_name",
    "category",
    "category_name",
    "elasticity",
    "ci_low",
    "ci_high",
    "category_elasticity",
    "sku_weight",
    "n_obs",
    "current_price",
    "recommended_price",
    "price_change",
    "price_low",
    "price_high",
    "unit_cost",
    "gross_margin",
    "units_per_year",
    "expected_gross_profit_change",
    "pricing_rule",
]
#: Each column's header, (zh, en).
LABELS = {
    "sku_id": ("SKU 编码", "SKU code"), "sku_name": ("商品", "SKU"), "category": ("品类编码", "category code"),
    "category_name": ("品类", "category"), "elasticity": ("价格弹性", "price elasticity"),
    "ci_low": ("置信下限", "CI low"), "ci_high": ("置信上限", "CI high"),
    "category_elasticity": ("品类弹性", "category elasticity"), "sku_weight": ("SKU 权重", "SKU weight"),
    "n_obs": ("观测数", "observations"), "n_skus": ("SKU 数", "SKUs"), "current_price": ("当前价格", "current price"),
    "recommended_price": ("建议价格", "recommended price"), "price_change": ("调价幅度", "price change"),
    "price_low": ("价格下限", "price floor"), "price_high": ("价格上限", "price ceiling"),
    "unit_cost": ("单位成本", "unit cost"), "gross_margin": ("毛利率", "gross margin"),
    "units_per_year": ("年销量", "units per year"),
    "expected_gross_profit_change": ("预计毛利变化(年)", "expected gross profit change (per year)"),
    "pricing_rule": ("定价规则", "pricing rule"),
}  # fmt: skip
#: How each numeric column reads (a ``format_value`` format).
FORMATS = {
    "elasticity": "ratio",
    "ci_low": "ratio",
    "ci_high": "ratio",
    "category_elasticity": "ratio",
    "sku_weight": "percent",
    "n_obs": "count",
    "n_skus": "count",
    "current_price": "cny",
    "recommended_price": "cny",
    "price_change": "growth",
    "price_low": "cny",
    "price_high": "cny",
    "unit_cost": "cny",
    "gross_margin": "percent",
    "units_per_year": "count",
    "expected_gross_profit_change": "cny",
}


def sku_frame(
    skus: pd.DataFrame, sales: pd.DataFrame, estimates: pd.DataFrame, categories: pd.DataFrame, days: int
) -> pd.DataFrame:
    """One row per SKU that sold in the period: attributes, governed sales, elasticities and prices.

    ``skus``: data.skus; ``sales``: governed units_sold / gross_margin by SKU; ``estimates`` and
    ``categories``: model.Fit.skus / .categories; ``days``: the period's length.
    """
    frame = skus.join(sales[["units_sold", "gross_margin"]], how="inner")
    frame = frame[frame["units_sold"] > 0].copy()
    frame["category_elasticity"] = frame["category"].map(categories["elasticity"])
    frame = frame.join(estimates[["elasticity", "ci_low", "ci_high", "sku_weight", "n_obs"]], how="left")
    # A SKU without cells of its own (too thin to enter the fit) takes its category's estimate.
    own = frame["elasticity"].notna()
    for column in ("elasticity", "ci_low", "ci_high"):
        frame[column] = frame[column].where(own, frame["category"].map(categories[column]))
    frame["sku_weight"] = frame["sku_weight"].fillna(0.0)
    frame["n_obs"] = frame["n_obs"].fillna(0).astype(int)
    frame["units_per_year"] = frame["units_sold"] * 365.0 / days
    frame["current_price"] = frame["list_price"]
    _price(frame, frame["elasticity"].to_numpy(float), frame["ci_high"].to_numpy(float))
    return frame


def _price(frame: pd.DataFrame, elasticity: np.ndarray, ci_high: np.ndarray) -> None:
    """Add recommended_price, pricing_rule, price_change and expected_gross_profit_change in place."""
    price, rule = pricing.recommend(
        elasticity, ci_high, frame["unit_cost"], frame["current_price"], frame["price_low"], frame["price_high"]
    )
    frame["recommended_price"] = np.round(price, 2)
    frame["pricing_rule"] = rule
    frame["price_change"] = frame["recommended_price"] / frame["current_price"] - 1
    frame["expected_gross_profit_change"] = pricing.gross_profit_change(
        frame["units_per_year"], frame["unit_cost"], frame["current_price"], frame["recommended_price"], elasticity
    )


def category_rows(
    frame: pd.DataFrame, categories: pd.DataFrame, margins: pd.DataFrame, names: dict[str, str]
) -> pd.DataFrame:
    """One row per category: its estimate, and its SKUs priced at the category's elasticity."""
    priced = frame.copy()
    _price(
        priced,
        priced["category_elasticity"].to_numpy(float),
        priced["category"].map(categories["ci_high"]).to_numpy(float),
    )
    weight = priced["units_per_year"]
    weighted = priced[["current_price", "recommended_price", "price_low", "price_high", "unit_cost"]].mul(
        weight, axis=0
    )
    weighted["weight"] = weight
    weighted["category"] = priced["category"]
    sums = weighted.groupby("category").sum()
    out = categories.loc[categories.index.intersection(sums.index)].copy()
    for column in ("current_price", "recommended_price", "price_low", "price_high", "unit_cost"):
        out[column] = (sums[column] / sums["weight"]).round(2)
    out["price_change"] = out["recommended_price"] / out["current_price"] - 1
    out["units_per_year"] = sums["weight"]
    out["expected_gross_profit_change"] = priced.groupby("category")["expected_gross_profit_change"].sum()
    out["gross_margin"] = margins["gross_margin"].reindex(out.index)
    out["pricing_rule"] = _category_rule(out["elasticity"].to_numpy(float), out["ci_high"].to_numpy(float))
    out["category_name"] = [names.get(c, c) for c in out.index]
    out = out.reset_index()
    return _sorted(out)[CATEGORY_COLUMNS]


def _category_rule(elasticity: np.ndarray, ci_high: np.ndarray) -> np.ndarray:
    """The rule the category's own elasticity calls for (its SKUs may individually hit a bound)."""
    rule = np.full(elasticity.shape, pricing.HOLD, dtype=object)
    usable = np.isfinite(elasticity) & (elasticity < 0) & (ci_high < 0)
    rule[usable & (elasticity < -1)] = pricing.OPTIMUM
    rule[usable & (elasticity >= -1)] = pricing.BOUNDED_INCREASE
    return rule


def sku_rows(frame: pd.DataFrame, names: dict[str, str], sku_names: pd.Series) -> pd.DataFrame:
    """One row per SKU, its own (shrunk) elasticity and price advice."""
    out = frame.copy()
    out["category_name"] = [names.get(c, c) for c in out["category"]]
    out["sku_name"] = sku_names.reindex(out.index)
    out = out.reset_index()
    return _sorted(out)[SKU_COLUMNS]


def _sorted(rows: pd.DataFrame) -> pd.DataFrame:
    """Largest expected gross-profit gain first; rows without advice last."""
    key = rows["expected_gross_profit_change"].fillna(-np.inf)
    return rows.assign(_key=key).sort_values("_key", ascending=False, kind="stable").drop(columns="_key")
