"""The words of a replenishment answer, in Chinese or English.

Every number written here goes through :func:`presentation.metric_format.format_value` with the
format of the column (``COLUMN_FORMATS``) or fact (``FACT_FORMATS``) it comes from, so the
text quotes exactly what the table and the facts hold.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from presentation.language import Language
from presentation.metric_format import format_value

COLUMN_FORMATS: dict[str, str] = {
    "on_hand_qty": "count",
    "in_transit_qty": "count",
    "inventory_position": "count",
    "avg_daily_demand": "ratio",
    "demand_sd": "ratio",
    "lead_time_days": "days",
    "lead_time_sd_days": "days",
    "service_level": "percent",
    "safety_stock": "count",
    "reorder_point": "count",
    "order_multiple": "count",
    "order_qty": "count",
    "order_value": "cny",
    "inventory_value": "cny",
    "days_of_cover": "days",
    "stockout_share": "percent",
}
FACT_FORMATS: dict[str, str | None] = {
    "as_of": None,
    "history_start": None,
    "pairs_total": "count",
    "rows_matching": "count",
    "rows_shown": "count",
    "order_now": "count",
    "watch": "count",
    "overstock": "count",
    "slow_mover": "count",
    "ok": "count",
    "order_value_total": "cny",
    "overstock_value": "cny",
    "slow_mover_value": "cny",
    "review_days": "count",
    "service_level_a": "percent",
    "service_level_b": "percent",
    "service_level_c": "percent",
    "slow_mover_days": "count",
    "overstock_cover_days": "days",
}
#: Rows whose reason the text repeats.
TOP_SHOWN = 3
#: Above this share of stockout days in the history, the reason warns that demand may be understated.
CENSORED_WARNING = 0.5

ACTION_NAMES = {
    "zh": {"order_now": "立即补货", "watch": "关注", "overstock": "积压", "slow_mover": "滞销", "ok": "正常"},
    "en": {"order_now": "order now", "watch": "watch", "overstock": "overstock", "slow_mover": "slow mover",
           "ok": "fine"},
}  # fmt: skip
#: The demand patterns of policy.demand_pattern (Syntetos-Boylan), as a cell reads them.
PATTERN_NAMES = {
    "zh": {"smooth": "平稳", "erratic": "波动", "intermittent": "间歇", "lumpy": "间歇且波动", "none": "无需求"},
    "en": {"smooth": "smooth", "erratic": "erratic", "intermittent": "intermittent", "lumpy": "lumpy",
           "none": "no demand"},
}  # fmt: skip


def cell(row: dict[str, Any], column: str, language: Language) -> str:
    return format_value(row[column], COLUMN_FORMATS.get(column), language)


def fact(facts: dict[str, Any], key: str, language: Language) -> str:
    return format_value(facts[key], FACT_FORMATS[key], language)


def reason(row: dict[str, Any], facts: dict[str, Any], language: Language) -> str:
    """Why this row got its action, with the numbers that decided it."""

    def c(column: str) -> str:
        return cell(row, column, language)

    def f(key: str) -> str:
        return fact(facts, key, language)

    zh = language == "zh"
    action = row["action"]
    if action == "order_now":
        text = (
            f"库存位置 {c('inventory_position')} 低于再订货点 {c('reorder_point')}（日均需求 {c('avg_daily_demand')}，"
            f"提前期 {c('lead_time_days')}，安全库存 {c('safety_stock')}），建议订 {c('order_qty')} 件（{c('order_value')}）"
            if zh
            else f"position {c('inventory_position')} is below the reorder point {c('reorder_point')} (demand "
            f"{c('avg_daily_demand')}/day, lead time {c('lead_time_days')}, safety stock {c('safety_stock')}); "
            f"order {c('order_qty')} units ({c('order_value')})"
        )
        if row["order_multiple"] > 1:
            text += f"，按每 {c('order_multiple')} 件取整" if zh else f" in multiples of {c('order_multiple')}"
        if row["on_hand_qty"] <= 0:
            text = ("已缺货；" if zh else "out of stock; ") + text
    elif action == "watch":
        text = (
            f"在库 {c('on_hand_qty')} 件撑不过提前期 {c('lead_time_days')}（日均需求 {c('avg_daily_demand')}），"
            f"依赖在途 {c('in_transit_qty')} 件按时到货"
            if zh
            else f"{c('on_hand_qty')} on hand will not last the {c('lead_time_days')} lead time at "
            f"{c('avg_daily_demand')}/day; relies on {c('in_transit_qty')} in transit arriving on time"
        )
    elif action == "overstock":
        text = (
            f"库存位置 {c('inventory_position')} 件可售 {c('days_of_cover')}，超过 {f('overstock_cover_days')} "
            f"且高于再订货点 {c('reorder_point')}；在库金额 {c('inventory_value')}"
            if zh
            else f"position {c('inventory_position')} covers {c('days_of_cover')}, more than "
            f"{f('overstock_cover_days')} and above the reorder point {c('reorder_point')}; "
            f"{c('inventory_value')} on hand"
        )
    elif action == "slow_mover":
        last = row["last_sale_date"]
        when = (
            (
                f"最近一次销售在 {format_value(last, None, language)}"
                if zh
                else f"last sale {format_value(last, None, language)}"
            )
            if last is not None
            else ("一年内没有销售" if zh else "no sale in the past year")
        )
        text = (
            f"近 {f('slow_mover_days')} 天没有销量，在库 {c('on_hand_qty')} 件（{c('inventory_value')}），{when}"
            if zh
            else f"no units sold in {f('slow_mover_days')} days with {c('on_hand_qty')} on hand "
            f"({c('inventory_value')}); {when}"
        )
    elif row["avg_daily_demand"] <= 0:
        text = (
            ("没有需求，也没有库存" if zh else "no demand and no stock")
            if row["inventory_position"] <= 0
            else (
                f"没有需求预测，库存位置 {c('inventory_position')} 件"
                if zh
                else f"no demand forecast; position {c('inventory_position')}"
            )
        )
    else:
        text = (
            f"库存位置 {c('inventory_position')} 不低于再订货点 {c('reorder_point')}，可售 {c('days_of_cover')}"
            if zh
            else f"position {c('inventory_position')} is at or above the reorder point {c('reorder_point')}, "
            f"{c('days_of_cover')} of cover"
        )
    share = row["stockout_share"]
    if share is not None and not math.isnan(share) and share > CENSORED_WARNING:
        text += (
            f"（过去一年 {c('stockout_share')} 的天数缺货，需求可能被低估）"
            if zh
            else f" ({c('stockout_share')} of the past year's days were out of stock: demand may be understated)"
        )
    return text


def summary(
    rows: list[dict[str, Any]], facts: dict[str, Any], scope: str, actions: Sequence[str] | None, language: Language
) -> str:
    """Headline counts, the first recommendations with their reasons, the size of the table and the method."""
    zh = language == "zh"

    def f(key: str) -> str:
        return fact(facts, key, language)

    names = ACTION_NAMES[language]
    where = f"{scope}" if scope else ("全部商品" if zh else "all products")
    if zh:
        head = (
            f"截至 {f('as_of')}，{where}共 {f('pairs_total')} 个 SKU×仓库组合：{names['order_now']} {f('order_now')} 个"
            f"（建议采购金额 {f('order_value_total')}），{names['watch']} {f('watch')} 个，"
            f"{names['overstock']} {f('overstock')} 个（在库 {f('overstock_value')}），"
            f"{names['slow_mover']} {f('slow_mover')} 个（在库 {f('slow_mover_value')}），{names['ok']} {f('ok')} 个。"
        )
    else:
        head = (
            f"As of {f('as_of')}, {where}: {f('pairs_total')} SKU x warehouse pairs, {f('order_now')} to "
            f"{names['order_now']} (orders worth {f('order_value_total')}), {f('watch')} to {names['watch']}, "
            f"{f('overstock')} overstocked ({f('overstock_value')} on hand), {f('slow_mover')} slow movers "
            f"({f('slow_mover_value')} on hand), {f('ok')} fine."
        )
    parts = [head]
    if rows:
        label = _label(actions, language)
        top = [f"{i}. {r['sku_name']}（{r['warehouse_name']}）：{r['reason']}" if zh
               else f"{i}. {r['sku_name']} ({r['warehouse_name']}): {r['reason']}"
               for i, r in enumerate(rows[:TOP_SHOWN], 1)]  # fmt: skip
        parts.append((f"{label}排在最前的：" if zh else f"First {label}:") + "\n" + "\n".join(top))
        parts.append(
            f"表中按优先级列出 {f('rows_shown')} 行，共 {f('rows_matching')} 行符合条件。"
            if zh
            else f"The table lists {f('rows_shown')} of the {f('rows_matching')} matching rows, most urgent first."
        )
    else:
        parts.append("没有符合条件的行。" if zh else "No row matches.")
    parts.append(
        f"方法：缺货日的销量被库存截断，按删失处理（不当作零需求）；需求含季节、周内节奏与促销日历；"
        f"每 {f('review_days')} 天盘点，目标服务水平 A {f('service_level_a')} / B {f('service_level_b')} / "
        f"C {f('service_level_c')}，间歇性需求按负二项分布计算。"
        if zh
        else f"Method: sales on stockout days are censored by the stock, so those days are left out of demand "
        f"(not counted as zero); demand carries seasonality, the weekly rhythm and the promotion calendar; review "
        f"every {f('review_days')} days, service targets A {f('service_level_a')} / B {f('service_level_b')} / "
        f"C {f('service_level_c')}; intermittent demand uses a negative binomial."
    )
    return "\n".join(parts)


def nothing_matches(facts: dict[str, Any], scope: str, categories: list[str], language: Language) -> str:
    """No pair in the scope the user asked for: say so, and which categories there are."""
    as_of = fact(facts, "as_of", language)
    if language == "zh":
        return f"截至 {as_of}，没有符合条件（{scope}）的 SKU×仓库组合。可选品类：{'、'.join(categories)}。"
    return f"As of {as_of}, no SKU x warehouse pair matches {scope}. Categories: {', '.join(categories)}."


def _label(actions: Sequence[str] | None, language: Language) -> str:
    if not actions:
        return "建议" if language == "zh" else "recommendations"
    names = ACTION_NAMES[language]
    return ("、" if language == "zh" else " / ").join(names[a] for a in actions)
