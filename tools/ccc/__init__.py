"""Cash conversion cycle (现金转换周期): CCC = DIO + DSO - DPO for a period and as a trend, AR and AP
aging on the period's last day, alerts, and what to do about it (collect, reduce stock, renegotiate terms).

How a run goes (``focus`` picks the table and the text; the reads are the same small set):

1. the period: the arguments', or the last full quarter, cut to the days with data;
2. governed metrics through MetricQuery (:mod:`tools.ccc.metrics`): the trend at the grain in one
   query, the period totals vs the equal-length previous period, DIO by category vs the previous
   period, and for the alerted categories DIO and average inventory value by SKU;
3. plain SELECTs (:mod:`tools.ccc.aging`, :mod:`tools.ccc.lookups`): the aging of receivables by
   customer and payables by supplier on the as-of day, purchase volume and terms by supplier;
4. pure picking (:mod:`tools.ccc.alerts`), facts (:mod:`tools.ccc.report`), table and chart
   (:mod:`tools.ccc.tables`) and text (:mod:`tools.ccc.narrate`).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel

from tools.base import ToolContext, ToolOutput, require
from tools.ccc import aging, alerts, lookups, metrics, narrate, report, tables
from tools.ccc.arguments import Arguments, resolve_period

__all__ = ["Arguments", "CashCycleTool"]

#: Alerted categories whose SKUs are examined for the stock recommendation.
SKU_CATEGORIES = report.NAMED


class CashCycleTool:
    """DIO, DSO, DPO and CCC (governed), their trend, AR/AP aging, alerts and recommendations."""

    name: ClassVar[str] = "ccc"
    #: The cycle and the balances behind it, plus what the recommendations read: average inventory
    #: value (which SKUs tie up money) and COGS (the DPO gain of longer terms).
    reads: ClassVar[tuple[str, ...]] = (
        "dio", "dso", "dpo", "ccc", "ar_balance", "ap_balance", "avg_ar_balance", "avg_ap_balance",
        "avg_inventory_value", "cogs",
    )  # fmt: skip
    Arguments: ClassVar[type[BaseModel]] = Arguments

    def run(self, arguments: BaseModel, context: ToolContext) -> ToolOutput:
        require(context, self.reads)
        args = arguments if isinstance(arguments, Arguments) else Arguments.model_validate(arguments.model_dump())
        gathered, sqls = gather(args, context)
        facts = report.facts(gathered, args.focus, context.model, context.language, tables.MAX_ROWS)
        text = narrate.narrate(facts, context.language)
        period = (gathered.period.start, gathered.period.end)
        labels = tables.labels(context.language)
        if args.focus == "ar_aging":
            return ToolOutput(
                text=text, columns=tables.AR_COLUMNS, rows=tables.ar_table(gathered, context.model, context.language),
                chart=tables.aging_chart(gathered, "ar", context.language), sql=sqls["ar_aging"],
                metrics=["dso", "ar_balance"], period=period, facts=facts, labels=labels, formats=tables.FORMATS,
            )  # fmt: skip
        if args.focus == "ap_aging":
            return ToolOutput(
                text=text, columns=tables.AP_COLUMNS, rows=tables.ap_table(gathered),
                chart=tables.aging_chart(gathered, "ap", context.language), sql=sqls["ap_aging"],
                metrics=["dpo", "ap_balance"], period=period, facts=facts, labels=labels, formats=tables.FORMATS,
            )  # fmt: skip
        return ToolOutput(
            text=text, columns=tables.TREND_COLUMNS, rows=tables.trend_table(gathered, context.language),
            chart=tables.trend_chart(gathered, context.model, context.language), sql=sqls.get("trend", sqls["totals"]),
            metrics=["ccc", "dio", "dso", "dpo"], period=period, facts=facts, labels=labels, formats=tables.FORMATS,
            values={"row_kind": tables.row_kinds(context.model, context.language)},
        )  # fmt: skip


def gather(args: Arguments, context: ToolContext) -> tuple[report.Gathered, dict[str, str]]:
    """Run every read of one analysis; returns the frames and the SQL of each main read."""
    data_start, data_end = lookups.coverage(context)
    period = resolve_period(args, context.today, data_start, data_end)
    comparable = metrics.comparable(period, data_start)
    sqls: dict[str, str] = {}
    trend = None
    if args.grain is not None and args.focus == "overview":
        run = metrics.trend(context, period, args.grain)
        trend, sqls["trend"] = run.frame, run.sql
    totals = metrics.totals(context, period, compare=comparable)
    sqls["totals"] = totals.sql
    receivables, sqls["ar_aging"] = aging.aging(context, aging.RECEIVABLES, period.end, args.overdue_days)
    payables, sqls["ap_aging"] = aging.aging(context, aging.PAYABLES, period.end, args.overdue_days)
    category_dio = skus = None
    if comparable and args.focus == "overview":
        category_dio = metrics.category_dio(context, period).frame
        rose = alerts.dio_rises(category_dio, args.dio_rise_threshold)
        if not rose.empty:
            categories = rose["category"].head(SKU_CATEGORIES).tolist()
            skus = metrics.sku_inventory(context, period, categories).frame
    gathered = report.Gathered(
        period=period,
        previous=metrics.previous_period(period) if comparable else None,
        grain=args.grain,
        dio_rise_threshold=args.dio_rise_threshold,
        overdue_days=args.overdue_days,
        totals=totals.frame,
        trend=trend,
        receivables=receivables,
        payables=payables,
        purchases=lookups.purchases(context, period),
        category_dio=category_dio,
        skus=skus,
        category_names=lookups.category_names(context),
    )
    if skus is not None:
        picked = alerts.stock_to_reduce(skus, args.dio_rise_threshold, limit=report.NAMED)
        gathered.sku_names = lookups.sku_names(context, picked["sku"].tolist())
    return gathered, sqls
