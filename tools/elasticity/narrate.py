"""The answer text, in Chinese or English: the headline estimate(s), then the top price advice.

Every number is a cell of the returned rows or a value of ``facts``, written with
``format_value`` in the column's format, so the text and the table agree digit for digit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from presentation.metric_format import format_value
from tools.elasticity import pricing
from tools.elasticity.table import FORMATS

TOP = 3
SHORT_PERIOD_DAYS = 180  # below this the life-cycle and seasonal controls leave little price variation

_CONTROLS = {
    "zh": "已剔除缺货日,并控制了促销、季节、渠道和商品生命周期",
    "en": "stockout days excluded; promotions, seasonality, channel and product life cycle controlled for",
}
RULES = {
    "zh": {
        pricing.OPTIMUM: "毛利最优价",
        pricing.OPTIMUM_AT_BOUND: "毛利最优价取历史成交价端点",
        pricing.BOUNDED_INCREASE: "缺乏弹性,小幅提价",
        pricing.HOLD: "不调价",
    },
    "en": {
        pricing.OPTIMUM: "gross-profit optimum",
        pricing.OPTIMUM_AT_BOUND: "optimum capped at an observed price",
        pricing.BOUNDED_INCREASE: "inelastic, bounded increase",
        pricing.HOLD: "no change",
    },
}


def _f(value: Any, column: str, language: str) -> str:
    """A cell as the table column reads (numpy scalars as the Python numbers they are)."""
    return format_value(value.item() if isinstance(value, np.generic) else value, FORMATS.get(column), language)


def _join(items: list[str], language: str) -> str:
    return "、".join(items) if language == "zh" else ", ".join(items)


def narrate(
    rows: pd.DataFrame,
    level: str,
    language: str,
    facts: dict[str, Any],
    promotions: pd.DataFrame | None = None,
) -> str:
    """The text for ``rows`` (already sorted, possibly cut to the rows shown)."""
    if rows.empty:
        text = (
            "所选范围内没有足够的销售和价格变化来估计价格弹性。"
            if language == "zh"
            else "There are not enough sales and price changes in the selection to estimate a price elasticity."
        )
    elif level == "sku":
        text = _skus(rows, language, facts)
    elif len(rows) == 1:
        text = _one_category(rows.iloc[0], language)
    else:
        text = _categories(rows, language, facts)
    if not rows.empty and facts.get("period_days", SHORT_PERIOD_DAYS) < SHORT_PERIOD_DAYS:
        days = _f(facts["period_days"], "n_obs", language)
        text += (
            f"注意:所用数据只有 {days} 天,弹性估计不稳定,建议用至少半年的数据。"
            if language == "zh"
            else f" Note: the estimate rests on {days} days of data and is unstable; use at least half a year."
        )
    if facts.get("rows_total", 0) > len(rows):
        total, shown = _f(facts["rows_total"], "n_obs", language), _f(len(rows), "n_obs", language)
        text += (
            f"共 {total} 行,表中列出前 {shown} 行。"
            if language == "zh"
            else f" There are {total} rows; the table shows the first {shown}."
        )
    if promotions is not None:
        text += _promotions(promotions, language)
    return text


def _spans_unit(row: pd.Series) -> bool:
    """Whether the interval includes both elastic and inelastic values."""
    return bool(row["ci_low"] < -1 < row["ci_high"])


def _one_category(row: pd.Series, language: str) -> str:
    name = row["category_name"]
    e, low, high = (_f(row[c], c, language) for c in ("elasticity", "ci_low", "ci_high"))
    n_obs, n_skus = _f(row["n_obs"], "n_obs", language), _f(row["n_skus"], "n_skus", language)
    if language == "zh":
        text = f"{name}的价格弹性为 {e}(置信区间 {low} 至 {high}),基于 {n_skus} 个SKU的 {n_obs} 个观测单元;{_CONTROLS['zh']}。"
    else:
        text = (
            f"The price elasticity of {name} is {e} (confidence interval {low} to {high}), from {n_obs} "
            f"observation cells of {n_skus} SKUs; {_CONTROLS['en']}."
        )
    text += _advice(row, language)
    if _spans_unit(row) and row["pricing_rule"] != pricing.HOLD:
        text += (
            "注意:置信区间跨过单位弹性,富有弹性还是缺乏弹性尚不确定,调价宜小步测试。"
            if language == "zh"
            else " Note: the interval spans unit elasticity, so whether demand is elastic is uncertain; move in small steps."
        )
    return text


def _advice(row: pd.Series, language: str) -> str:
    """What to do with the category's price, by the rule that applies."""
    rule = row["pricing_rule"]
    columns = ("current_price", "recommended_price", "price_change", "expected_gross_profit_change")
    cur, rec, chg, gp = (_f(row[c], c, language) for c in columns)
    low, high = _f(row["price_low"], "price_low", language), _f(row["price_high"], "price_high", language)
    margin = _f(row["gross_margin"], "gross_margin", language)
    if rule in (pricing.OPTIMUM, pricing.OPTIMUM_AT_BOUND) and abs(row["price_change"]) < 0.0005:
        if language == "zh":
            return f"需求富有弹性;按毛利最大化并限在历史成交价区间内,各SKU的现价已是最优或已在区间边界,建议维持现价 {cur};当前毛利率 {margin}。"
        return (
            f" Demand is elastic; pricing for maximum gross profit within the prices actually seen leaves every SKU "
            f"where it is (at its optimum or at the edge of those prices): keep the average price at {cur}; the "
            f"current gross margin is {margin}."
        )
    if rule in (pricing.OPTIMUM, pricing.OPTIMUM_AT_BOUND):
        if language == "zh":
            return (
                f"需求富有弹性,按毛利最大化为各SKU定价(不超出各自的历史成交价区间,品类平均 {low} 至 {high}):"
                f"均价从 {cur} 调到 {rec}({chg}),预计年毛利变化 {gp};当前毛利率 {margin}。"
            )
        return (
            f" Demand is elastic. Pricing each SKU for maximum gross profit, kept within the prices it actually sold "
            f"at (category average {low} to {high}), moves the average price from {cur} to {rec} ({chg}), an "
            f"expected gross profit change of {gp} a year; the current gross margin is {margin}."
        )
    if rule == pricing.BOUNDED_INCREASE:
        if language == "zh":
            return (
                "需求缺乏弹性:提价时销量降幅小于提价幅度,毛利随价格上升,没有区间内的最优价。"
                f"建议小幅提价,均价从 {cur} 到 {rec}({chg})并观察销量,预计年毛利变化 {gp};当前毛利率 {margin}。"
            )
        return (
            " Demand is inelastic: units fall by less than the price rises, so gross profit keeps growing with "
            f"price and there is no interior optimum. Suggest a bounded increase of the average price from {cur} "
            f"to {rec} ({chg}) and watch the volume; expected gross profit change {gp} a year; the current gross "
            f"margin is {margin}."
        )
    if language == "zh":
        return "置信区间包含零或以上,数据不能确认销量随价格下降,暂不建议调价。"
    return " The interval reaches zero, so the data do not establish that demand falls with price: no change advised."


def _categories(rows: pd.DataFrame, language: str, facts: dict[str, Any]) -> str:
    estimated = rows[rows["pricing_rule"] != pricing.HOLD]  # the estimates whose interval excludes zero
    if estimated.empty:
        return (
            "所有品类的弹性置信区间都包含零或以上,数据不足以确认价格效应,暂不建议调价。"
            if language == "zh"
            else "No category's elasticity interval excludes zero: the data do not establish a price effect; no change advised."
        )
    most = estimated.loc[estimated["elasticity"].idxmin()]
    least = estimated.loc[estimated["elasticity"].idxmax()]
    count = _f(facts["rows_total"], "n_obs", language)
    lo, hi = _f(most["elasticity"], "elasticity", language), _f(least["elasticity"], "elasticity", language)
    gains = rows[(rows["expected_gross_profit_change"] > 0)].head(TOP)
    uncertain = [r["category_name"] for _, r in rows.iterrows() if _spans_unit(r) and r["pricing_rule"] != pricing.HOLD]
    hold = rows.loc[rows["pricing_rule"] == pricing.HOLD, "category_name"].tolist()

    def item(r: pd.Series) -> str:
        rule = RULES[language][r["pricing_rule"]]
        cur = _f(r["current_price"], "current_price", language)
        rec = _f(r["recommended_price"], "recommended_price", language)
        chg = _f(r["price_change"], "price_change", language)
        gp = _f(r["expected_gross_profit_change"], "expected_gross_profit_change", language)
        e = _f(r["elasticity"], "elasticity", language)
        if language == "zh":
            return f"{r['category_name']}(弹性 {e},{rule})均价 {cur} → {rec}({chg}),年毛利 {gp}"
        return f"{r['category_name']} (elasticity {e}, {rule}) average price {cur} to {rec} ({chg}), gross profit {gp} a year"

    if language == "zh":
        text = (
            f"{count} 个品类中,置信区间不含零的价格弹性在 {lo} 至 {hi} 之间,最敏感的是{most['category_name']}({lo}),"
            f"最不敏感的是{least['category_name']}({hi});{_CONTROLS['zh']}。"
        )
        if not gains.empty:
            text += "调价后年毛利提升最多的是:" + ";".join(item(r) for _, r in gains.iterrows()) + "。"
        if uncertain:
            text += f"{_join(uncertain, language)}的置信区间跨过单位弹性,宜小步测试。"
        if hold:
            text += f"{_join(hold, language)}的弹性不显著或不可用,暂不调价。"
        return text
    text = (
        f"Of {count} categories, the significant price elasticities range from {lo} to {hi}: {most['category_name']} is the "
        f"most price-sensitive ({lo}), {least['category_name']} the least ({hi}); {_CONTROLS['en']}."
    )
    if not gains.empty:
        text += " Largest gross profit gains from repricing: " + "; ".join(item(r) for _, r in gains.iterrows()) + "."
    if uncertain:
        text += f" {_join(uncertain, language)}: the interval spans unit elasticity, so move in small steps."
    if hold:
        text += f" {_join(hold, language)}: elasticity not significant or not available, no change advised."
    return text


def _skus(rows: pd.DataFrame, language: str, facts: dict[str, Any]) -> str:
    count = _f(facts["rows_total"], "n_obs", language)
    own = _f(facts["skus_with_own_estimate"], "n_obs", language)
    gains = rows[rows["expected_gross_profit_change"] > 0].head(TOP)

    def item(r: pd.Series) -> str:
        e = _f(r["elasticity"], "elasticity", language)
        cur = _f(r["current_price"], "current_price", language)
        rec = _f(r["recommended_price"], "recommended_price", language)
        chg = _f(r["price_change"], "price_change", language)
        gp = _f(r["expected_gross_profit_change"], "expected_gross_profit_change", language)
        rule = RULES[language][r["pricing_rule"]]
        if language == "zh":
            return f"{r['sku_name']}(弹性 {e},{rule}){cur} → {rec}({chg}),年毛利 {gp}"
        return f"{r['sku_name']} (elasticity {e}, {rule}) {cur} to {rec} ({chg}), gross profit {gp} a year"

    if language == "zh":
        text = (
            f"{count} 个SKU的价格弹性按经验贝叶斯向所属品类的估计收缩:数据少或价格变化少的SKU取品类弹性,"
            f"其中 {own} 个SKU自身数据的权重过半;{_CONTROLS['zh']}。"
        )
        if not gains.empty:
            text += "调价后年毛利提升最多的是:" + ";".join(item(r) for _, r in gains.iterrows()) + "。"
        return text
    text = (
        f"Elasticities of {count} SKUs, shrunk toward their category's estimate by empirical Bayes (SKUs with "
        f"little data or little price variation take the category's value; {own} SKUs carry more than half "
        f"weight on their own data); {_CONTROLS['en']}."
    )
    if not gains.empty:
        text += " Largest gross profit gains from repricing: " + "; ".join(item(r) for _, r in gains.iterrows()) + "."
    return text


def _promotions(promotions: pd.DataFrame, language: str) -> str:
    ranked = promotions[promotions["promo_roi"].notna()]
    if ranked.empty:
        return "所选期间没有可计算ROI的促销。" if language == "zh" else " No promotion in the period has a ROI."
    best, worst = ranked.iloc[0], ranked.iloc[-1]
    count = _f(len(promotions), "n_obs", language)
    b, w = (format_value(float(r["promo_roi"]), "ratio", language) for r in (best, worst))
    if language == "zh":
        return f"{count} 个促销的促销ROI:最高的是{best['promo_name']}({b}),最低的是{worst['promo_name']}({w})。"
    return (
        f" Promotion ROI of {count} promotions: highest {best['promo_name']} ({b}), lowest {worst['promo_name']} ({w})."
    )
