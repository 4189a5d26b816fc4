"""The answer text of the cash-conversion-cycle tool, in Chinese or English, written from ``facts`` only.

Every number goes through :func:`presentation.metric_format.format_value` with the format of what it is
(days, CNY, percent, growth, count), and every one is a value of the facts (see
:mod:`tools.ccc.report`), so the test that extracts the numbers of a text finds each of them
there. Order: the headline (CCC and its parts, the change and what drove it), the trend's extremes,
the aging headline, the alerts, then the recommendations with the numbers behind them.
"""

from __future__ import annotations

from typing import Any

from presentation.language import Language, join_names
from presentation.metric_format import format_value

_PARTS = {
    "zh": {"ccc": "现金转换周期", "dio": "库存周转天数", "dso": "应收周转天数", "dpo": "应付周转天数"},
    "en": {"ccc": "cash conversion cycle (CCC)", "dio": "DIO", "dso": "DSO", "dpo": "DPO"},
}
_GRAIN = {"zh": {"month": "月", "quarter": "季度"}, "en": {"month": "month", "quarter": "quarter"}}


def narrate(facts: dict[str, Any], language: Language) -> str:
    """The text for ``facts`` of a run whose focus is ``facts["focus"]``."""
    writer = _Writer(facts, language)
    focus = facts["focus"]
    if focus == "ar_aging":
        parts = [writer.aging("ar"), writer.part_for_period("dso"), writer.overdue_customers(),
                 writer.recommendations({"collect"}), writer.aging_note("ar")]  # fmt: skip
    elif focus == "ap_aging":
        parts = [writer.aging("ap"), writer.overdue_suppliers(), writer.part_for_period("dpo"),
                 writer.recommendations({"renegotiate_terms"}), writer.aging_note("ap")]  # fmt: skip
    else:
        parts = [writer.cycle(), writer.trend(), writer.aging_headline(), writer.dio_alerts(),
                 writer.overdue_customers(), writer.recommendations(None), writer.trend_note()]  # fmt: skip
    return "\n".join(p for p in parts if p)


class _Writer:
    def __init__(self, facts: dict[str, Any], language: Language) -> None:
        self.f, self.zh, self.language = facts, language == "zh", language
        self.names = _PARTS[language]

    def v(self, value: Any, fmt: str) -> str:
        return format_value(value, fmt, self.language)

    def join(self, items: list[str], total: int | None = None) -> str:
        """``a、b、c`` / ``a, b and c``; with ``total`` above the items shown, ``a、b等`` / ``a, b and others``."""
        if total is not None and total > len(items):
            return "、".join(items) + "等" if self.zh else ", ".join(items) + " and others"
        return join_names(items, self.language)

    # -- overview ---------------------------------------------------------------------
    def cycle(self) -> str:
        f, n = self.f, self.names
        days = {m: self.v(f[m], "days") for m in ("ccc", "dio", "dso", "dpo")}
        if self.zh:
            text = (f"{f['period_name']}现金转换周期为 {days['ccc']}(库存周转天数 {days['dio']} + 应收周转天数 "
                    f"{days['dso']} - 应付周转天数 {days['dpo']})。")  # fmt: skip
        else:
            text = (f"In {f['period_name']} the {n['ccc']} was {days['ccc']}: DIO {days['dio']} + DSO {days['dso']} "
                    f"- DPO {days['dpo']}.")  # fmt: skip
        return text + " " + self.change() if not self.zh else text + self.change()

    def change(self) -> str:
        f = self.f
        if not f["comparable"]:
            return (
                "上期不在数据范围内,不做比较。"
                if self.zh
                else "The previous period is not in the data, so no comparison."
            )
        delta = f["ccc_change_days"]
        shown = self.v(abs(delta) if delta is not None else None, "days")
        previous = self.v(f["ccc_previous"], "days")
        if delta is None:
            return f"上期({f['previous_period_name']})无法计算。" if self.zh else "The previous period has no value."
        steady = shown == self.v(0.0, "days")
        if self.zh:
            move = "基本持平" if steady else ("变长 " if delta > 0 else "缩短 ") + shown
            text = f"比上期({f['previous_period_name']})的 {previous}{move}"
        else:
            move = "about the same" if steady else ("longer by " if delta > 0 else "shorter by ") + shown
            text = f"Versus {previous} in the previous period ({f['previous_period_name']}) it is {move}"
        parts = [self.part_move(m) for m in ("dio", "dso", "dpo")]
        driver = f.get("ccc_driver")
        if self.zh:
            text += ":其中" + "、".join(parts)
            return text + (f";主要由{self.names[driver]}拉动。" if driver and not steady else "。")
        text += " (" + ", ".join(parts) + ")"
        return text + (f", driven mostly by {self.names[driver]}." if driver and not steady else ".")

    def part_move(self, metric: str) -> str:
        delta = self.f[f"{metric}_change_days"]
        if delta is None:
            return f"{self.names[metric]}{'无法比较' if self.zh else ' n/a'}"
        shown = self.v(abs(delta), "days")
        if shown == self.v(0.0, "days"):  # a change that rounds away reads as none, not "减少 0.0 天"
            return f"{self.names[metric]}{'持平' if self.zh else ' flat'}"
        if self.zh:
            return f"{self.names[metric]}{'增加' if delta > 0 else '减少'} {shown}"
        return f"{self.names[metric]} {'up' if delta > 0 else 'down'} {shown}"

    def trend(self) -> str:
        f = self.f
        if "trend_high" not in f:
            return ""
        high, low, grain = f["trend_high"], f["trend_low"], _GRAIN[self.language][f["grain"]]
        if self.zh:
            return (f"按{grain}看,现金转换周期最长是{high['period_name']}的 {self.v(high['ccc'], 'days')},"
                    f"最短是{low['period_name']}的 {self.v(low['ccc'], 'days')}。")  # fmt: skip
        return (f"By {grain}, CCC was longest in {high['period_name']} ({self.v(high['ccc'], 'days')}) and "
                f"shortest in {low['period_name']} ({self.v(low['ccc'], 'days')}).")  # fmt: skip

    def aging_headline(self) -> str:
        f, ar, ap = self.f, self.f["ar"], self.f["ap"]
        over = self.v(f["headline_overdue_days"], "count")
        if self.zh:
            text = f"截至{f['as_of_name']},应收余额 {self.v(ar['balance'], 'cny')}"
            if ar["balance"]:
                text += (f",已逾期 {self.v(ar['overdue'], 'cny')}(占 {self.v(ar['overdue_share'], 'percent')}),"
                         f"逾期超过 {over} 天的占 {self.v(ar['overdue_over_60_share'], 'percent')}")  # fmt: skip
            text += f";应付余额 {self.v(ap['balance'], 'cny')}"
            if ap["balance"]:
                text += f",已逾期未付的占 {self.v(ap['overdue_share'], 'percent')}"
            return text + "。"
        text = f"On {f['as_of_name']} receivables stood at {self.v(ar['balance'], 'cny')}"
        if ar["balance"]:
            text += (f", {self.v(ar['overdue'], 'cny')} of it overdue ({self.v(ar['overdue_share'], 'percent')}) and "
                     f"{self.v(ar['overdue_over_60_share'], 'percent')} more than {over} days overdue")  # fmt: skip
        text += f"; payables stood at {self.v(ap['balance'], 'cny')}"
        if ap["balance"]:
            text += f", {self.v(ap['overdue_share'], 'percent')} of it overdue"
        return text + "."

    def dio_alerts(self) -> str:
        f = self.f
        count = f["dio_alert_count"]
        if count is None:
            return ""
        threshold = self.v(f["dio_rise_threshold"], "percent")
        if not count:
            if self.zh:
                return f"没有品类的库存周转天数比上期上升超过 {threshold}。"
            return f"No category's DIO rose by more than {threshold} vs the previous period."
        items = [
            f"{a['category_name']} {self.v(a['dio_previous'], 'days')} → {self.v(a['dio'], 'days')}"
            f"({self.v(a['dio_growth'], 'growth')})"
            if self.zh
            else f"{a['category_name']} {self.v(a['dio_previous'], 'days')} → {self.v(a['dio'], 'days')} "
            f"({self.v(a['dio_growth'], 'growth')})"
            for a in f["dio_alerts"]
        ]
        listed = self.join(items, count)
        if self.zh:
            return f"预警:{self.v(count, 'count')} 个品类的库存周转天数比上期上升超过 {threshold}:{listed}。"
        noun = "category's" if count == 1 else "categories'"
        return f"Alert: {self.v(count, 'count')} {noun} DIO rose by more than {threshold}: {listed}."

    def overdue_customers(self) -> str:
        f = self.f
        count, days = f["overdue_customer_count"], self.v(f["overdue_days"], "count")
        if not count:
            return (
                f"没有客户的欠款逾期超过 {days} 天。"
                if self.zh
                else f"No customer owes anything more than {days} days overdue."
            )
        items = []
        for c in f["overdue_customers"]:
            amount, worst = self.v(c["overdue_beyond_threshold"], "cny"), self.v(c["max_days_past_due"], "count")
            items.append(
                f"{c['customer_name']} {amount}(最长逾期 {worst} 天)"
                if self.zh
                else f"{c['customer_name']} {amount} (up to {worst} days overdue)"
            )
        listed = self.join(items, count)
        total, share = self.v(f["overdue_customers_amount"], "cny"), self.v(f["overdue_customers_share"], "percent")
        if self.zh:
            return (f"预警:{self.v(count, 'count')} 个客户有逾期超过 {days} 天的应收,合计 {total}"
                    f"(占应收余额 {share}):{listed}。")  # fmt: skip
        noun = "customer owes" if count == 1 else "customers owe"
        return (f"Alert: {self.v(count, 'count')} {noun} {total} more than {days} days overdue "
                f"({share} of receivables): {listed}.")  # fmt: skip

    def recommendations(self, kinds: set[str] | None) -> str:
        lines = [self.recommendation(r) for r in self.f["recommendations"] if kinds is None or r["kind"] in kinds]
        if not lines:
            return ""
        return ("建议:" if self.zh else "Recommendations:") + "\n" + "\n".join(f"· {line}" for line in lines)

    def recommendation(self, rec: dict[str, Any]) -> str:
        if rec["kind"] == "collect":
            return self.collect(rec)
        if rec["kind"] == "reduce_stock":
            return self.reduce_stock(rec)
        return self.renegotiate(rec)

    def collect(self, rec: dict[str, Any]) -> str:
        names = self.join([c["customer_name"] for c in rec["customers"]])
        days, amount = self.v(self.f["overdue_days"], "count"), self.v(rec["amount"], "cny")
        share, dso = self.v(rec["share"], "percent"), self.v(rec["dso"], "days")
        if self.zh:
            return (f"催收:优先向{names}催收逾期超过 {days} 天的 {amount}(占应收余额 {share}),"
                    f"收回即降低应收周转天数(本期 {dso})。")  # fmt: skip
        return (f"Collect: chase {names} first for the {amount} more than {days} days overdue ({share} of "
                f"receivables); every yuan collected lowers DSO (this period {dso}).")  # fmt: skip

    def reduce_stock(self, rec: dict[str, Any]) -> str:
        categories = self.join([c["category_name"] for c in rec["categories"]])
        if self.zh:
            text = f"压降库存:{categories}的库存周转天数上升最多,暂缓补货、清理慢销品"
        else:
            text = f"Reduce stock: DIO rose most in {categories}; pause replenishment and clear slow movers"
        if rec["skus"]:
            skus = [
                f"{s['sku_name']}({s['category_name']},增加 {self.v(s['inventory_increase'], 'cny')})"
                if self.zh
                else f"{s['sku_name']} ({s['category_name']}, up {self.v(s['inventory_increase'], 'cny')})"
                for s in rec["skus"]
            ]
            if self.zh:
                text += f";平均库存金额比上期增加最多的是 {self.join(skus)}"
            else:
                text += f"; the largest rises in average inventory value: {self.join(skus)}"
        return text + ("。" if self.zh else ".")

    def renegotiate(self, rec: dict[str, Any]) -> str:
        suppliers = [
            f"{s['supplier_name']}(本期采购 {self.v(s['purchase_amount'], 'cny')},账期 "
            f"{self.v(s['payment_terms_days'], 'days')})"
            if self.zh
            else f"{s['supplier_name']} (bought {self.v(s['purchase_amount'], 'cny')}, terms "
            f"{self.v(s['payment_terms_days'], 'days')})"
            for s in rec["suppliers"]
        ]
        weighted, target = (
            self.v(rec["weighted_terms_days"], "days"),
            self.v(rec["suppliers"][0]["target_terms_days"], "days"),
        )
        if self.zh:
            text = (f"谈账期:采购额最大的 {self.join(suppliers)} 账期短于按采购额加权的平均账期 {weighted};"
                    f"争取延长到 {target}(已有供应商给到)")  # fmt: skip
            if rec["dpo_gain_days_total"] is not None:
                text += (f",按本期采购额估算应付周转天数可增加约 {self.v(rec['dpo_gain_days_total'], 'days')}"
                         f"(本期 {self.v(rec['dpo'], 'days')})")  # fmt: skip
            return text + "。"
        text = (f"Renegotiate terms: the largest suppliers {self.join(suppliers)} give shorter terms than the "
                f"purchase-weighted average of {weighted}; ask for {target}, which other suppliers already give")  # fmt: skip
        if rec["dpo_gain_days_total"] is not None:
            text += (f". At this period's purchases that would add about "
                     f"{self.v(rec['dpo_gain_days_total'], 'days')} to DPO (this period {self.v(rec['dpo'], 'days')})")  # fmt: skip
        return text + "."

    def trend_note(self) -> str:
        f = self.f
        extra = (
            ("全期合计与上期各一行" if self.zh else "the whole period and the previous period")
            if f["comparable"]
            else ("全期合计一行" if self.zh else "the whole period")
        )
        if f.get("trend_rows") is None:
            return f"表中为{extra}。" if self.zh else f"The table shows {extra}."
        grain = _GRAIN[self.language][f["grain"]]
        rows = self.v(f["trend_rows"], "count")
        if self.zh:
            return f"表中为按{grain}趋势 {rows} 行,另加{extra}。"
        return f"The table shows {rows} rows by {grain}, then {extra}."

    # -- aging focus ------------------------------------------------------------------
    def aging(self, side: str) -> str:
        f, ledger = self.f, self.f[side]
        parties = self.v(ledger["parties"], "count")
        names = ledger["bucket_names"]
        buckets = [
            f"{names[b]} {self.v(ledger[b], 'cny')}({self.v(ledger[b + '_share'], 'percent')})"
            if self.zh
            else f"{names[b]} {self.v(ledger[b], 'cny')} ({self.v(ledger[b + '_share'], 'percent')})"
            for b in names
        ]
        if self.zh:
            kind, unit = ("应收", "个客户") if side == "ar" else ("应付", "个供应商")
            text = f"截至{f['as_of_name']},{kind}余额 {self.v(ledger['balance'], 'cny')}({parties} {unit})"
            return text + (":" + "、".join(buckets) + "。" if ledger["balance"] else "。")
        kind, unit = ("receivables", "customers") if side == "ar" else ("payables", "suppliers")
        text = f"On {f['as_of_name']} {kind} stood at {self.v(ledger['balance'], 'cny')} ({parties} {unit})"
        return text + (": " + ", ".join(buckets) + "." if ledger["balance"] else ".")

    def part_for_period(self, metric: str) -> str:
        f = self.f
        if self.zh:
            return f"{f['period_name']}的{self.names[metric]}为 {self.v(f[metric], 'days')}。"
        return f"{self.names[metric]} for {f['period_name']}: {self.v(f[metric], 'days')}."

    def overdue_suppliers(self) -> str:
        f = self.f
        count, days = f["overdue_supplier_count"], self.v(f["overdue_days"], "count")
        if not count:
            return f"没有逾期超过 {days} 天未付的应付。" if self.zh else f"No bill is more than {days} days overdue."
        top = f["overdue_suppliers"][0]
        amount, total = self.v(top["overdue_beyond_threshold"], "cny"), self.v(f["overdue_suppliers_amount"], "cny")
        if self.zh:
            return (f"逾期超过 {days} 天未付的应付合计 {total},涉及 {self.v(count, 'count')} 个供应商,"
                    f"最多的是{top['supplier_name']} {amount}:拖欠过久会影响供货和账期谈判。")  # fmt: skip
        return (f"{total} of bills are more than {days} days overdue, owed to {self.v(count, 'count')} suppliers, "
                f"most to {top['supplier_name']} ({amount}): paying that late strains supply and terms talks.")  # fmt: skip

    def aging_note(self, side: str) -> str:
        f = self.f
        parties, limit = f[side]["parties"], f["rows_shown_limit"]
        shown = self.v(min(parties, limit), "count")
        total = self.v(parties, "count")
        days = self.v(f["overdue_days"], "count")
        if self.zh:
            unit = "个客户" if side == "ar" else "个供应商"
            return f"表中按逾期超过 {days} 天的金额从高到低列出 {shown} / {total} {unit}。"
        unit = "customers" if side == "ar" else "suppliers"
        return f"The table lists {shown} of {total} {unit}, by the amount more than {days} days overdue."
