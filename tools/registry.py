"""The analysis tools by name, imported only when called: statsmodels and scipy stay out of
`chatbi ask` for questions that only need a number.

Each tool declares here the phrases that ask for it (its triggers), so the planner holds no
tool vocabulary and a phrase added to a tool's declaration is askable at once. Triggers are
regular expressions on NFKC-normalised, case-folded text, grouped by what they ask of the tool
(replenishment's ``slow_list`` asks for the slow-mover action); ``\\b`` is an ASCII word boundary.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from tools.base import Tool


@dataclass(frozen=True)
class Entry:
    module: str
    cls: str
    triggers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: A filter the question names that scopes the tool: dimension -> (argument, takes several members).
    scope: Mapping[str, tuple[str, bool]] = field(default_factory=dict)
    #: How people ask for the tool, for the LLM planner's retrieval (the docstrings are English and technical).
    words: str = ""


_TOOLS: dict[str, Entry] = {
    "replenishment": Entry(
        "tools.replenishment",
        "ReplenishmentTool",
        {
            "replenish": (
                r"补货|补单|订货|进货|备货|下单建议|该下单|要下单|安全库存|再订货点|订货点|采购建议|采购量|该订多少|要订多少|断货风险",
                r"\breorder|\breplenish|\brestock|\bsafety stock\b|\border(?:ing)? now\b|\bwhat to order\b|\bshould we order\b|\bpurchase plan\b",
            ),
            "order_now": (
                r"现在|马上|立即|立刻|需要补|该补|要补|该下单|要下单|缺货风险|\bnow\b|\bimmediately\b|\burgent",
            ),
            "slow_list": (
                r"哪些.{0,12}(?:滞销|卖不动|动销差)|(?:滞销|卖不动)的?(?:sku|商品|产品|单品|货|品)(?!比例|占比|率|比重|的?(?:比例|占比))|滞销(?:品)?(?:清单|列表|名单)",
                r"\bwhich\b.{0,30}\b(?:slow[- ]moving|slow movers?|not selling|dead stock)|\bslow[- ]moving (?:skus|products|items)\b",
                r"\blist (?:of )?(?:the )?slow movers\b|\bdead stock list\b",
            ),
            "overstock": (
                r"积压|压货|库存过多|库存太多|超储|\boverstock|\btoo much stock\b|\bexcess (?:stock|inventory)\b",
            ),
        },
        scope={
            "category": ("category", False),
            "brand": ("brand", False),
            "sku": ("sku_ids", True),
            "warehouse": ("warehouse_id", False),
        },
        words="补货 补货建议 订货 进货 备货 下单 安全库存 订货点 restock reorder replenish what to order",
    ),
    "elasticity": Entry(
        "tools.elasticity",
        "ElasticityTool",
        {
            "price": (
                r"价格弹性|弹性|怎么定价|如何定价|定价建议|(?<!的)定价(?!是|多少)|该定多少钱|最优价格|建议价格|涨价|降价|调价",
                r"\belastic|\bpricing\b|\bprice (?:recommendation|optimi[sz]|point)|\boptimal price\b|\bwhat price\b"
                r"|\bhow (?:should|to) (?:we )?price\b|\braise (?:the )?price|\bcut (?:the )?price",
            ),
        },
        scope={"category": ("category", False), "sku": ("sku_ids", True)},
        words="价格弹性 定价 调价 涨价 降价 最优价格 pricing price elasticity optimal price",
    ),
    "ccc": Entry(
        "tools.ccc",
        "CashCycleTool",
        {
            "overview": (
                # an analysis asked for by name; "为什么变长了" is a metric question answered with the
                # components next to the cycle and the previous period (the semantic layer's, one row)
                r"(?:分析|诊断|解读|报告|复盘|怎么样|如何|情况).{0,20}(?:现金转换周期|现金周期|现金循环|资金周转|ccc)",
                r"(?:现金转换周期|现金周期|现金循环|资金周转|ccc).{0,20}(?:分析|诊断|解读|报告|复盘|怎么样|如何|情况)",
                r"\b(?:analy[sz]e|analysis|review|diagnos\w*|deep dive)\b.{0,40}\b(?:cash conversion cycle|cash cycle|ccc|working capital)\b",
                r"\b(?:cash conversion cycle|cash cycle|ccc|working capital)\b.{0,40}\b(?:analysis|review|diagnos\w*)\b",
            ),
            "ar_aging": (
                r"应收(?:账款)?账龄|账龄分析|应收.{0,4}逾期|逾期应收|逾期客户|谁欠|\b(?:ar|receivables?) aging\b|\baging (?:of )?(?:ar|receivables)\b"
                r"|\boverdue (?:customers|receivables|invoices)\b|\bwho owes\b",
            ),
            "ap_aging": (
                r"应付(?:账款)?账龄|应付.{0,4}逾期|\b(?:ap|payables?) aging\b|\baging (?:of )?(?:ap|payables)\b|\boverdue (?:bills|payables)\b",
            ),
        },
        words="现金转换周期 现金周期 营运资金 资金周转 账龄 应收账龄 应付账龄 working capital cash cycle aging",
    ),
}
NAMES = tuple(_TOOLS)


def scopes() -> dict[str, Mapping[str, tuple[str, bool]]]:
    """Each tool's arguments that members named in a question fill, by dimension."""
    return {name: entry.scope for name, entry in _TOOLS.items()}


def words(name: str) -> str:
    return _TOOLS[name].words


def triggers() -> dict[str, Mapping[str, tuple[str, ...]]]:
    """Each tool's trigger phrases, by what they ask of it."""
    return {name: entry.triggers for name, entry in _TOOLS.items()}


def load(name: str) -> Tool:
    """The tool called ``name``; KeyError if there is none."""
    entry = _TOOLS[name]
    tool: Tool = getattr(importlib.import_module(entry.module), entry.cls)()
    return tool
