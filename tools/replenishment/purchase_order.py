"""The replenishment recommendation as purchase orders: one sheet per supplier, ready for a buyer to send.

Each line is a SKU x warehouse the recommendation orders (``order_qty`` > 0): how many case packs,
the units they hold, the unit cost and the line's cost, and the recommendation's reason. A summary
sheet comes first (one line per supplier) with the notes a buyer needs before sending: the master
data has suppliers and unit costs, but no case-pack size, so the pack is the one the tool infers
from past purchase-order quantities (their greatest common divisor, see demand.order_multiples).
"""

from __future__ import annotations

from typing import Any

from agent.answer import Answer
from tools.base import Sheet

#: Excel's limit on a sheet name, and the characters it refuses in one.
MAX_TITLE = 31
_BAD_TITLE = str.maketrans({c: " " for c in "[]:*?/\\"})

_HEADERS = {
    "zh": ["SKU 编码", "SKU", "仓库编码", "仓库", "箱规(件/箱)", "箱数", "件数", "单位成本", "金额", "原因"],
    "en": ["SKU code", "SKU", "warehouse code", "warehouse", "case pack (units)", "cases", "units", "unit cost",
           "cost", "reason"],
}  # fmt: skip
_FORMATS: list[str | None] = [None, None, None, None, "count", "count", "count", "cny", "cny", None]
_SUMMARY = {
    "zh": ("汇总", ["供应商编码", "供应商", "行数", "箱数", "件数", "金额"]),
    "en": ("Summary", ["supplier code", "supplier", "lines", "cases", "units", "cost"]),
}
_NOTES = {
    "zh": [
        "箱规按该 SKU 历史采购单数量的最大公约数推断：主数据中没有箱规字段，发送前请与供应商确认。",
        "金额 = 件数 × SKU 的单位成本（主数据）。",
    ],
    "en": [
        "Case pack inferred from the SKU's past purchase-order quantities (their greatest common divisor): "
        "the master data has no case-pack field; confirm it with the supplier before sending.",
        "Cost = units x the SKU's unit cost (master data).",
    ],
}
_NOTHING = {"zh": "本次建议没有需要下单的 SKU。", "en": "The recommendation orders nothing."}
_UNKNOWN_SUPPLIER = {"zh": "未知供应商", "en": "unknown supplier"}


def purchase_order_sheets(answer: Answer) -> list[Sheet]:
    """The summary sheet, then one sheet per supplier in order of cost (largest first)."""
    language = answer.language
    lines: dict[str, list[list[Any]]] = {}
    names: dict[str, str] = {}
    for values in answer.rows:
        row = dict(zip(answer.columns, values, strict=True))
        units = int(row["order_qty"] or 0)
        if units <= 0:
            continue
        pack = int(row["order_multiple"] or 1)
        supplier = row["supplier_id"] or ""
        names[supplier] = row["supplier_name"] or supplier or _UNKNOWN_SUPPLIER[language]
        cost = row["order_value"]
        lines.setdefault(supplier, []).append(
            [
                row["sku_id"],
                row["sku_name"],
                row["warehouse_id"],
                row["warehouse_name"],
                pack,
                units // pack,
                units,
                row["unit_cost"],
                cost,
                row["reason"],
            ]  # fmt: skip
        )
    order = sorted(lines, key=lambda s: (-sum(line[8] or 0 for line in lines[s]), s))
    title, headers = _SUMMARY[language]
    summary = [
        [
            s,
            names[s],
            len(lines[s]),
            sum(x[5] for x in lines[s]),
            sum(x[6] for x in lines[s]),
            round(sum(x[8] or 0 for x in lines[s]), 2),
        ]  # fmt: skip
        for s in order
    ]
    notes = _NOTES[language] if summary else [_NOTHING[language]]
    sheets = [Sheet(title=title, headers=headers, rows=summary, formats=[None, None, "count", "count", "count", "cny"],
                    notes=notes)]  # fmt: skip
    taken = {title}
    for supplier in order:
        sheets.append(
            Sheet(
                title=_title(names[supplier], taken), headers=_HEADERS[language], rows=lines[supplier], formats=_FORMATS
            )  # fmt: skip
        )
    return sheets


def _title(name: str, taken: set[str]) -> str:
    """A sheet name Excel accepts, unique in the workbook."""
    base = " ".join(name.translate(_BAD_TITLE).split())[:MAX_TITLE] or "-"
    title, n = base, 2
    while title in taken:
        suffix = f" ({n})"
        title, n = base[: MAX_TITLE - len(suffix)] + suffix, n + 1
    taken.add(title)
    return title
