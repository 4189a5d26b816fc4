"""The replenishment tool: one recommendation per SKU x warehouse, the most urgent first.

"给面膜做一份补货建议" -> ``category="面膜"``; "which SKUs should we reorder now?" ->
``actions=["order_now"]``; "哪些SKU滞销?" -> ``actions=["slow_mover"]``. The whole range is always
computed (ABC classes rank a SKU against all others, the seasonal index pools every SKU of a
category); the arguments only choose which rows are shown.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from presentation.language import Language
from tools.base import ToolContext, ToolOutput, frame_cells, labels_in, require
from tools.replenishment import narrate, policy
from tools.replenishment.demand import latest_snapshot, load_history
from tools.replenishment.purchase_order import purchase_order_sheets
from tools.replenishment.recommend import learn, recommend

Action = Literal["order_now", "watch", "slow_mover", "overstock", "ok"]

COLUMNS = [
    "sku_id", "sku_name", "category", "warehouse_id", "warehouse_name", "abc_class", "xyz_class",
    "demand_pattern", "on_hand_qty", "in_transit_qty", "inventory_position", "avg_daily_demand", "demand_sd",
    "lead_time_days", "lead_time_sd_days", "service_level", "safety_stock", "reorder_point", "order_multiple",
    "order_qty", "order_value", "inventory_value", "days_of_cover", "stockout_share", "last_sale_date",
    "action", "reason", "supplier_id", "supplier_name", "unit_cost",
]  # fmt: skip
CHART_ROWS = 20
#: Each column's header, (zh, en): what the terminal, the bots, the widget and the exports show.
LABELS = {
    "sku_id": ("SKU 编码", "SKU code"), "sku_name": ("商品", "SKU"), "category": ("品类", "category"),
    "warehouse_id": ("仓库编码", "warehouse code"), "warehouse_name": ("仓库", "warehouse"),
    "abc_class": ("ABC 分类", "ABC class"), "xyz_class": ("XYZ 分类", "XYZ class"),
    "demand_pattern": ("需求模式", "demand pattern"), "on_hand_qty": ("在库数量", "on hand"),
    "in_transit_qty": ("在途数量", "in transit"), "inventory_position": ("库存位置", "inventory position"),
    "avg_daily_demand": ("日均需求", "avg daily demand"), "demand_sd": ("需求标准差", "demand SD"),
    "lead_time_days": ("提前期", "lead time"), "lead_time_sd_days": ("提前期标准差", "lead time SD"),
    "service_level": ("服务水平", "service level"), "safety_stock": ("安全库存", "safety stock"),
    "reorder_point": ("再订货点", "reorder point"), "order_multiple": ("订货倍数", "order multiple"),
    "order_qty": ("建议订货量", "order qty"), "order_value": ("订货金额", "order value"),
    "inventory_value": ("库存金额", "inventory value"), "days_of_cover": ("可售天数", "days of cover"),
    "stockout_share": ("缺货占比", "stockout share"), "last_sale_date": ("最近销售日", "last sale"),
    "action": ("建议", "action"), "reason": ("原因", "reason"), "supplier_id": ("供应商编码", "supplier code"),
    "supplier_name": ("供应商", "supplier"), "unit_cost": ("单位成本", "unit cost"),
}  # fmt: skip
#: How each numeric column reads (a ``format_value`` format); the others are text, codes and a date.
FORMATS: dict[str, str | None] = {
    "on_hand_qty": "count", "in_transit_qty": "count", "inventory_position": "count", "avg_daily_demand": "ratio",
    "demand_sd": "ratio", "lead_time_days": "days", "lead_time_sd_days": "days", "service_level": "percent",
    "safety_stock": "count", "reorder_point": "count", "order_multiple": "count", "order_qty": "count",
    "order_value": "cny", "inventory_value": "cny", "days_of_cover": "days", "stockout_share": "percent",
    "unit_cost": "cny",
}  # fmt: skip


class Arguments(BaseModel):
    """Which SKU x warehouse pairs to show, and the policy's knobs."""

    model_config = ConfigDict(extra="forbid")

    category: str | None = Field(
        default=None, description="A product category (dim_sku.category), e.g. '面膜' or 'Face mask'."
    )
    brand: str | None = Field(default=None, description="A brand (dim_sku.brand), e.g. '花间集'.")
    sku_ids: list[str] | None = Field(default=None, description="Only these SKUs (sku_id codes, e.g. ['sku00042']).")
    warehouse_id: str | None = Field(
        default=None, description="Only this warehouse (warehouse_id, e.g. 'wh_sh', or its name)."
    )
    actions: list[Action] | None = Field(
        default=None,
        description="Only rows with these actions: order_now (reorder now), watch (stock on hand will not last the "
        "lead time), slow_mover (no sales in 90 days, stock on hand), overstock, ok. None = all, most urgent first. "
        "'which SKUs should we reorder now' -> ['order_now']; '哪些SKU滞销' -> ['slow_mover'].",
    )
    service_levels: dict[str, float] | None = Field(
        default=None,
        description="Cycle service level target by ABC class, e.g. {'A': 0.99}; defaults A 0.98, B 0.95, C 0.90.",
    )
    review_days: int = Field(default=7, ge=1, le=90, description="Days between two ordering reviews of a SKU.")
    as_of: dt.date | None = Field(default=None, description="Decide with the data up to this day; default: yesterday.")
    limit: int = Field(default=200, ge=1, le=1000, description="At most this many rows in the table.")

    @field_validator("service_levels")
    @classmethod
    def _levels(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        """ABC keys in any case; a target written as a percentage (98) means 0.98."""
        if value is None:
            return None
        out: dict[str, float] = {}
        for key, level in value.items():
            name = key.strip().upper()
            if name not in ("A", "B", "C"):
                raise ValueError(f"service level classes are A, B and C, not {key!r}")
            target = level / 100.0 if 1.0 < level <= 100.0 else level
            if not 0.5 <= target < 1.0:
                raise ValueError(f"a service level is between 50% and 99.9%, not {level}")
            out[name] = target
        return out


class ReplenishmentTool:
    name: ClassVar[str] = "replenishment"
    reads: ClassVar[tuple[str, ...]] = ("units_sold", "avg_inventory_value", "stockout_rate")
    Arguments: ClassVar[type[BaseModel]] = Arguments
    #: What a terminal too narrow for the whole table shows first.
    key_columns: ClassVar[tuple[str, ...]] = ("sku_name", "warehouse_name", "action", "order_qty", "days_of_cover")
    #: The answer's XLSX download: purchase orders, one sheet per supplier.
    export_sheets = staticmethod(purchase_order_sheets)

    def run(self, arguments: BaseModel, context: ToolContext) -> ToolOutput:
        require(context, self.reads)
        args = Arguments.model_validate(arguments.model_dump())
        language = context.language
        wanted = args.as_of or context.today - dt.timedelta(days=1)
        as_of = latest_snapshot(context.reader, wanted)
        if as_of is None:
            text = (
                f"{wanted.isoformat()} 及之前没有库存快照。"
                if language == "zh"
                else f"No inventory snapshot on or before {wanted.isoformat()}."
            )
            return ToolOutput(
                text=text, columns=COLUMNS, rows=[], facts={"pairs_total": 0},
                labels=labels_in(LABELS, language), formats=FORMATS,
            )  # fmt: skip
        start, sql, table = context.remember(
            json.dumps(  # the asker too: a role that sees some rows reads only those (tools/reads.py)
                ["replenishment", as_of.isoformat(), args.review_days, args.service_levels,
                 context.principal.model_dump(mode="json")],
                sort_keys=True,
            ),  # fmt: skip
            lambda: _plan(context, as_of, args),
            lambda kept: frame_cells(kept[2]),
        )
        in_scope = _display_names(table[_scope_mask(table, args)], context, language)
        chosen = in_scope[in_scope["action"].isin(args.actions)] if args.actions else in_scope
        chosen = _prioritised(chosen).head(args.limit)
        matching = int(in_scope["action"].isin(args.actions).sum()) if args.actions else len(in_scope)
        facts = _facts(start, as_of, in_scope, len(chosen), matching, args)
        records = chosen.to_dict("records")
        for record in records:
            record["reason"] = narrate.reason(record, facts, language)
        if in_scope.empty:
            categories = table["category" if language == "zh" else "category_en"].drop_duplicates().tolist()
            text = narrate.nothing_matches(facts, _scope(args, in_scope, language), categories, language)
        else:
            text = narrate.summary(records, facts, _scope(args, in_scope, language), args.actions, language)
        return ToolOutput(
            text=text,
            columns=COLUMNS,
            rows=[[_cell(r[c]) for c in COLUMNS] for r in records],
            chart=_chart(language) if records else None,
            sql=sql,
            metrics=["units_sold", "stockout_rate"],
            period=(start, as_of),
            facts=facts,
            labels=labels_in(LABELS, language),
            formats=FORMATS,
            values={"action": narrate.ACTION_NAMES[language], "demand_pattern": narrate.PATTERN_NAMES[language]},
        )


def _plan(context: ToolContext, as_of: dt.date, args: Arguments) -> tuple[dt.date, str, pd.DataFrame]:
    """The year's history read and every pair's recommendation, before any scope: for one asker, the same for
    every category, brand, warehouse, action and language (seconds at case scale; what differs per question takes milliseconds)."""
    history = load_history(context.reader, as_of)
    return history.start, history.sql, recommend(learn(history, args.review_days, args.service_levels))


def _display_names(table: pd.DataFrame, context: ToolContext, language: Language) -> pd.DataFrame:
    if language == "en":
        table = table.assign(sku_name=table["sku_name_en"], category=table["category_en"])
        if context.master is not None:
            master = context.master
            names = {}
            for code in table["warehouse_id"].unique():
                member = master.member("warehouse", code)
                names[code] = (member.name_en or member.name) if member is not None else code
            table = table.assign(warehouse_name=table["warehouse_id"].map(names))
    return table


def _scope_mask(table: pd.DataFrame, args: Arguments) -> np.ndarray:
    mask = np.ones(len(table), dtype=bool)
    if args.category:
        wanted = args.category.strip().casefold()
        mask &= (
            (table["category"].str.casefold() == wanted) | (table["category_en"].str.casefold() == wanted)
        ).to_numpy()
    if args.brand:
        mask &= (table["brand"].str.casefold() == args.brand.strip().casefold()).to_numpy()
    if args.sku_ids:
        mask &= table["sku_id"].isin(args.sku_ids).to_numpy()
    if args.warehouse_id:
        wanted = args.warehouse_id.strip().casefold()
        mask &= (
            (table["warehouse_id"].str.casefold() == wanted) | (table["warehouse_name"].str.casefold() == wanted)
        ).to_numpy()
    return mask


def _prioritised(table: pd.DataFrame) -> pd.DataFrame:
    """Actions in the order a buyer acts on them; inside each, the most urgent or costly first:
    least cover first for order_now and watch (then class A before B before C, then the larger
    order), most stock value first for overstock and slow movers, fastest sellers first for ok."""
    action = table["action"]
    value_first = action.isin(["overstock", "slow_mover"]).to_numpy()
    first = np.where(value_first, -table["inventory_value"], table["days_of_cover"].fillna(np.inf))
    first = np.where(action == "ok", -table["avg_daily_demand"], first)
    keys = {
        "_rank": action.map({a: i for i, a in enumerate(policy.ACTIONS)}),
        "_first": first,
        "_class": table["abc_class"],
        "_value": -table["order_value"],
    }
    ordered = table.assign(**keys).sort_values([*keys, "sku_id", "warehouse_id"], kind="stable")
    return ordered.drop(columns=list(keys))


def _facts(
    start: dt.date, as_of: dt.date, scope: pd.DataFrame, shown: int, matching: int, args: Arguments
) -> dict[str, Any]:
    counts = scope["action"].value_counts()
    levels = {**policy.DEFAULT_SERVICE_LEVELS, **(args.service_levels or {})}
    return {
        "as_of": as_of,
        "history_start": start,
        "pairs_total": len(scope),
        "rows_shown": shown,
        "rows_matching": matching,
        **{a: int(counts.get(a, 0)) for a in policy.ACTIONS},
        "order_value_total": round(float(scope["order_value"].sum()), 2),
        "overstock_value": round(float(scope.loc[scope["action"] == "overstock", "inventory_value"].sum()), 2),
        "slow_mover_value": round(float(scope.loc[scope["action"] == "slow_mover", "inventory_value"].sum()), 2),
        "review_days": args.review_days,
        "service_level_a": levels["A"],
        "service_level_b": levels["B"],
        "service_level_c": levels["C"],
        "slow_mover_days": policy.SLOW_MOVER_DAYS,
        "overstock_cover_days": float(policy.OVERSTOCK_COVER_DAYS),
    }


def _scope(args: Arguments, table: pd.DataFrame, language: Language) -> str:
    """What the user narrowed to, in words: ``面膜、上海嘉定仓`` / ``Face mask, Shanghai Jiading DC``."""
    parts: list[str] = []
    if args.category and len(table):
        parts.append(str(table["category"].iloc[0]))
    elif args.category:
        parts.append(args.category)
    if args.brand:
        parts.append(args.brand)
    if args.sku_ids:
        names = table.drop_duplicates("sku_id")["sku_name"].tolist()
        parts.append(("、" if language == "zh" else ", ").join(names) if 0 < len(names) <= 3 else
                     ("所选 SKU" if language == "zh" else "the selected SKUs"))  # fmt: skip
    if args.warehouse_id:
        parts.append(str(table["warehouse_name"].iloc[0]) if len(table) else args.warehouse_id)
    return ("、" if language == "zh" else ", ").join(parts)


def _chart(language: Language) -> dict[str, Any]:
    """Bars of the first rows: inventory position against reorder point."""
    return {
        "type": "bar",
        "x": "sku_id",
        "x_label": "sku_name",
        "y": ["inventory_position", "reorder_point"],
        "series": None,
        "series_label": None,
        "max_rows": CHART_ROWS,
        "title": "库存位置与再订货点" if language == "zh" else "Inventory position vs reorder point",
        "formats": {"inventory_position": "count", "reorder_point": "count"},
        "y_names": (
            {"inventory_position": "库存位置", "reorder_point": "再订货点"}
            if language == "zh"
            else {"inventory_position": "inventory position", "reorder_point": "reorder point"}
        ),
    }


def _cell(value: Any) -> Any:
    """Plain Python values for the table (numpy scalars and NaN do not serialise as people expect)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and np.isnan(value):
        return None
    return value
