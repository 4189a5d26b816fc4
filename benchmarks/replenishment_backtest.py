"""Backtest of the replenishment policy: learn on 2024 only, replay 2025 day by day.

1. **Learn** with the tool's own code as of 2024-12-31 (history 2024-01-01..2024-12-31): every
   SKU x warehouse pair active that day gets its rate, spread, lead time, ABC class, target and
   order multiple, and the seasonal/promotion calendar is projected over 2025 from 2024's index
   and the promotion calendar (dim_promotion is a plan, known ahead). Nothing of 2025's sales,
   stock or lead times enters the policy.
2. **Demand** to replay, per pair and day of 2025: the observed sales on in-stock days. On a
   day the historical stock ran out (on_hand_qty = 0) the recorded sales are censored, so demand
   is imputed: a Poisson draw around the pair's local in-stock rate (deseasonalised in-stock
   demand over the surrounding 57 days, with the day's 2025 category x warehouse index put back;
   a whole-year rate, then the learned rate, when the pair was out of stock around that day),
   never below what was actually sold.
3. **Replay**, vectorised over all pairs: start from the real stock of 2024-12-31 and the real
   open purchase orders (arriving on their real receipt dates); each day demand arrives and is
   served from stock (unserved demand is lost, as the data's sales are); every ``review_days``
   days (staggered per pair) the inventory position is compared with the recommended reorder
   point for the coming protection interval, and an order up to it, rounded to the order multiple,
   arrives after a lead time drawn from that supplier's 2024 purchase orders (seeded).
4. **Report**: cycle service level (share of review cycles without lost demand) and fill rate
   (served / demanded units) per ABC class vs the target, after each pair's warm-up (until its
   first order can arrive, the stock is the old policy's); stockout rate (share of pair-days
   ending with on_hand 0, the governed definition) and days of inventory (average inventory value
   / daily COGS at unit cost, the governed dio formula) over the whole year, against the data's
   own 2025 figures from the governed metrics (MetricQuery) and on the same pairs.

    python benchmarks/replenishment_backtest.py --db case.duckdb [--seed 0] [--review-days 7]

Prints markdown.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd

from engines import connect
from semantic_layer.compiler import compile_query
from semantic_layer.engine import Engine
from semantic_layer.query import MetricQuery, Period, Principal
from semantic_layer.semantic_model import load_model
from tools.reads import Reader
from tools.replenishment import policy
from tools.replenishment.demand import load_history
from tools.replenishment.recommend import Learned, learn, policy_at

LEARN_AS_OF = dt.date(2024, 12, 31)
YEAR = Period(start=dt.date(2025, 1, 1), end=dt.date(2025, 12, 31))
DAYS = YEAR.days
LOCAL_DAYS = 57  # window of the local in-stock rate used to impute censored days
MIN_LOCAL = 7  # in-stock days the local window needs
CASE_BEFORE = {"dio": 78.0, "stockout_rate": 0.12}
CASE_AFTER = {"dio": 43.0, "stockout_rate": 0.042}


@dataclass
class Replay:
    demand: np.ndarray  # (pairs, days)
    sold: np.ndarray  # (pairs, days) historical sales
    censored: np.ndarray  # (pairs, days) historical on_hand_qty = 0
    arrivals: np.ndarray  # (pairs, days + margin) open POs of 2024-12-31 by arrival day
    lead_samples: dict[str, np.ndarray]
    hist_inventory_value: float  # same pairs, 2025: SUM(inventory_value)
    hist_cogs: float
    hist_order_lines: int


def _frame(engine: Engine, sql: str) -> pd.DataFrame:
    result = engine.execute(sql, row_limit=20_000_000, timeout_s=300)
    return pd.DataFrame(result.rows, columns=result.columns)


def _cells(frame: pd.DataFrame, pair_index: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row (pair) and column (day of 2025) of each record, and which records are replayed pairs."""
    keys = pd.MultiIndex.from_arrays([frame["sku_id"], frame["warehouse_id"]])
    rows = pair_index.reindex(keys).to_numpy()
    days = (pd.to_datetime(frame["day"]) - pd.Timestamp(YEAR.start)).dt.days.to_numpy()
    keep = ~np.isnan(rows)
    return rows[keep].astype(np.int64), days[keep], keep


def load_replay(engine: Engine, learned: Learned, rng: np.random.Generator) -> Replay:
    pairs = learned.history.pairs
    pair_index = pd.Series(np.arange(len(pairs)), index=pd.MultiIndex.from_frame(pairs[["sku_id", "warehouse_id"]]))
    n = len(pairs)
    y0, y1 = YEAR.start, YEAR.end
    sales = _frame(
        engine,
        f"""SELECT f.sku_id, st.warehouse_id, f.order_date AS day, SUM(f.quantity) AS qty
            FROM fact_sales f JOIN dim_store st ON st.store_id = f.store_id
            WHERE f.order_date BETWEEN DATE '{y0}' AND DATE '{y1}' GROUP BY 1, 2, 3""",
    )
    sold = np.zeros((n, DAYS))
    rows, days, keep = _cells(sales, pair_index)
    sold[rows, days] = sales["qty"].to_numpy(dtype=float)[keep]
    out = _frame(
        engine,
        f"""SELECT sku_id, warehouse_id, snapshot_date AS day FROM fact_inventory_daily
            WHERE on_hand_qty = 0 AND snapshot_date BETWEEN DATE '{y0}' AND DATE '{y1}'""",
    )
    censored = np.zeros((n, DAYS), dtype=bool)
    rows, days, _ = _cells(out, pair_index)
    censored[rows, days] = True

    index_2025 = load_history(Reader(engine, load_model()), y1).index
    demand = impute(learned, sold, censored, index_2025, rng)

    margin = 400
    arrivals = np.zeros((n, DAYS + margin))
    open_pos = _frame(
        engine,
        f"""SELECT sku_id, warehouse_id, received_date AS day, SUM(quantity) AS qty FROM fact_purchase_order
            WHERE order_date <= DATE '{LEARN_AS_OF}' AND received_date > DATE '{LEARN_AS_OF}'
              AND received_date <= DATE '{y1}' GROUP BY 1, 2, 3""",
    )
    rows, days, keep = _cells(open_pos, pair_index)
    np.add.at(arrivals, (rows, days), open_pos["qty"].to_numpy(dtype=float)[keep])

    leads = _frame(
        engine,
        f"""SELECT supplier_id, received_date - order_date AS lead FROM fact_purchase_order
            WHERE order_date BETWEEN DATE '{LEARN_AS_OF.replace(month=1, day=1)}' AND DATE '{LEARN_AS_OF}'
              AND received_date IS NOT NULL""",
    )
    lead_samples = {s: g["lead"].to_numpy(dtype=np.int64) for s, g in leads.groupby("supplier_id")}
    lead_samples[""] = leads["lead"].to_numpy(dtype=np.int64)

    totals = _frame(
        engine,
        f"""WITH inv AS (SELECT sku_id, warehouse_id, SUM(inventory_value) AS v FROM fact_inventory_daily
                          WHERE snapshot_date BETWEEN DATE '{y0}' AND DATE '{y1}' GROUP BY 1, 2),
                 cogs AS (SELECT f.sku_id, st.warehouse_id, SUM(f.cogs) AS c FROM fact_sales f
                          JOIN dim_store st ON st.store_id = f.store_id
                          WHERE f.order_date BETWEEN DATE '{y0}' AND DATE '{y1}' GROUP BY 1, 2),
                 po AS (SELECT sku_id, warehouse_id, COUNT(*) AS lines FROM fact_purchase_order
                        WHERE order_date BETWEEN DATE '{y0}' AND DATE '{y1}' GROUP BY 1, 2),
                 active AS (SELECT sku_id, warehouse_id FROM fact_inventory_daily WHERE snapshot_date = DATE '{LEARN_AS_OF}')
            SELECT SUM(inv.v) AS v, SUM(cogs.c) AS c, SUM(po.lines) AS lines FROM active
            LEFT JOIN inv USING (sku_id, warehouse_id) LEFT JOIN cogs USING (sku_id, warehouse_id)
            LEFT JOIN po USING (sku_id, warehouse_id)""",
    )
    return Replay(
        demand=demand,
        sold=sold,
        censored=censored,
        arrivals=arrivals,
        lead_samples=lead_samples,
        hist_inventory_value=float(totals["v"].iloc[0]),
        hist_cogs=float(totals["c"].iloc[0]),
        hist_order_lines=int(totals["lines"].iloc[0]),
    )


def impute(
    learned: Learned, sold: np.ndarray, censored: np.ndarray, index_2025: pd.DataFrame, rng: np.random.Generator
) -> np.ndarray:
    """Demand = sales on in-stock days; on censored days a Poisson draw around the local
    in-stock rate times the day's index, at least the units actually sold."""
    pairs = learned.history.pairs
    table = index_2025.pivot_table(index=["category", "warehouse_id"], columns="day", values="idx")
    table = table.reindex(columns=pd.date_range(YEAR.start, YEAR.end, freq="D")).fillna(1.0)
    keys = pd.MultiIndex.from_arrays([pairs["category"], pairs["warehouse_id"]])
    idx = table.reindex(keys).fillna(1.0).to_numpy()
    in_stock = ~censored
    y = np.where(in_stock, sold / idx, 0.0)
    half = LOCAL_DAYS // 2

    def centred(values: np.ndarray) -> np.ndarray:
        c = np.concatenate([np.zeros((len(values), 1)), np.cumsum(values, axis=1)], axis=1)
        lo = np.clip(np.arange(DAYS) - half, 0, DAYS)
        hi = np.clip(np.arange(DAYS) + half + 1, 0, DAYS)
        return c[:, hi] - c[:, lo]

    local_sum, local_n = centred(y), centred(in_stock.astype(float))
    year_rate = y.sum(axis=1) / np.maximum(in_stock.sum(axis=1), 1)
    learned_rate = learned.params["rate"].to_numpy()
    year_rate = np.where(in_stock.sum(axis=1) >= MIN_LOCAL, year_rate, learned_rate)
    rate = np.where(local_n >= MIN_LOCAL, local_sum / np.maximum(local_n, 1), year_rate[:, None])
    draw = rng.poisson(np.maximum(rate * idx, 0.0))
    return np.where(censored, np.maximum(sold, draw), sold)


@dataclass
class Outcome:
    """Per-pair totals of the replay. ``*_policy`` count only what happens once the policy's
    first order has arrived (before that the pair lives on the old policy's stock)."""

    served: np.ndarray  # units served, all days
    demanded: np.ndarray
    served_policy: np.ndarray
    demanded_policy: np.ndarray
    cycles: np.ndarray  # review cycles (between consecutive reviews), all
    cycles_short: np.ndarray  # ... with lost demand
    cycles_policy: np.ndarray
    cycles_short_policy: np.ndarray
    stockout_days: np.ndarray  # days ending with on_hand 0
    inventory_value: np.ndarray  # sum over days of on_hand * unit cost
    legacy_value: np.ndarray  # ... of the units left from 2024-12-31 (served first in, first out)
    cogs: np.ndarray
    h2_stockout_days: np.ndarray  # the same, July to December
    h2_inventory_value: np.ndarray
    h2_cogs: np.ndarray
    order_lines: int


def replay(learned: Learned, data: Replay, rng: np.random.Generator) -> Outcome:
    p = learned.params
    pairs = learned.history.pairs
    n = len(pairs)
    review = learned.review_days
    offset = rng.integers(0, review, size=n)
    cost = pairs["unit_cost"].to_numpy(dtype=float)
    multiple = p["order_multiple"].to_numpy()
    samples = [data.lead_samples.get(s, data.lead_samples[""]) for s in pairs["supplier_id"]]
    sizes = np.array([len(s) for s in samples])
    flat = np.concatenate(samples)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])

    on_hand = pairs["on_hand_qty"].to_numpy(dtype=float).copy()
    legacy = on_hand.copy()
    in_transit = data.arrivals.sum(axis=1)
    ours = np.zeros_like(data.arrivals)
    policy_from = np.full(n, DAYS + 1)  # day the first order of the policy arrives
    o = Outcome(**{f.name: np.zeros(n) for f in fields(Outcome) if f.name != "order_lines"}, order_lines=0)
    short = np.zeros(n, dtype=bool)
    counted = np.zeros(n, dtype=bool)  # the running cycle started under the policy
    started = np.zeros(n, dtype=bool)  # a cycle is running (the first review has passed)
    half = (dt.date(2025, 7, 1) - YEAR.start).days
    for t in range(DAYS):
        legacy += data.arrivals[:, t]
        on_hand += data.arrivals[:, t] + ours[:, t]
        in_transit -= data.arrivals[:, t] + ours[:, t]
        want = data.demand[:, t]
        served = np.minimum(on_hand, want)
        on_hand -= served
        legacy -= np.minimum(legacy, served)
        under = t >= policy_from
        o.served += served
        o.demanded += want
        o.served_policy += np.where(under, served, 0.0)
        o.demanded_policy += np.where(under, want, 0.0)
        short |= want > served
        empty = on_hand <= 0
        o.stockout_days += empty
        o.inventory_value += on_hand * cost
        o.legacy_value += legacy * cost
        o.cogs += served * cost
        if t >= half:
            o.h2_stockout_days += empty
            o.h2_inventory_value += on_hand * cost
            o.h2_cogs += served * cost

        due = np.flatnonzero((t - offset) % review == 0)
        closing = due[started[due]]
        o.cycles[closing] += 1
        o.cycles_short[closing] += short[closing]
        closing = due[counted[due]]
        o.cycles_policy[closing] += 1
        o.cycles_short_policy[closing] += short[closing]
        short[due] = False
        started[due] = True
        counted[due] = t + 1 >= policy_from[due]

        target = policy_at(learned, t + 1, due)["reorder_point"]
        qty = policy.order_quantities(on_hand[due] + in_transit[due], target, multiple[due])
        rows = due[qty > 0]
        if len(rows):
            lead = np.maximum(flat[starts[rows] + rng.integers(0, sizes[rows])], 1)
            np.add.at(ours, (rows, t + lead), qty[qty > 0])
            in_transit[rows] += qty[qty > 0]
            policy_from[rows] = np.minimum(policy_from[rows], t + lead)
            o.order_lines += len(rows)
    return o


def governed(engine: Engine, period: Period) -> dict[str, float]:
    query = MetricQuery.model_validate({"metrics": ["stockout_rate", "dio"], "period": period})
    compiled = compile_query(query, load_model(), Principal(), dialect=engine.dialect)
    row = engine.execute(compiled.sql, timeout_s=300).rows[0]
    return {"stockout_rate": float(row[0]), "dio": float(row[1])}


def backtest(engine: Engine, seed: int, review_days: int) -> tuple[Learned, Replay, Outcome]:
    """Learn as of 2024-12-31, load 2025's demand and replay it under the learned policy."""
    rng = np.random.default_rng(seed)
    learned = learn(load_history(Reader(engine, load_model()), LEARN_AS_OF), review_days, horizon_days=DAYS)
    data = load_replay(engine, learned, rng)
    return learned, data, replay(learned, data, rng)


def _ratio(num: float, den: float) -> float:
    return num / den if den else float("nan")


@dataclass
class ClassService:
    pairs: int
    target: float
    csl: float  # under the policy
    fill: float
    csl_all: float  # the whole year
    fill_all: float


def service_by_class(learned: Learned, o: Outcome) -> dict[str, ClassService]:
    """Per ABC class (and ``all``): cycle service level and fill rate, under the policy and overall."""
    p = learned.params
    out = {}
    for cls in ("A", "B", "C", "all"):
        rows = (p["abc_class"] == cls).to_numpy() if cls != "all" else np.ones(len(p), dtype=bool)
        out[cls] = ClassService(
            pairs=int(rows.sum()),
            target=float(p.loc[rows, "service_level"].iloc[0]) if cls != "all" and rows.any() else float("nan"),
            csl=1 - _ratio(o.cycles_short_policy[rows].sum(), o.cycles_policy[rows].sum()),
            fill=_ratio(o.served_policy[rows].sum(), o.demanded_policy[rows].sum()),
            csl_all=1 - _ratio(o.cycles_short[rows].sum(), o.cycles[rows].sum()),
            fill_all=_ratio(o.served[rows].sum(), o.demanded[rows].sum()),
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--review-days", type=int, default=7)
    args = parser.parse_args(argv)
    if not args.db.is_file():
        print(f"error: database not found: {args.db}", file=sys.stderr)
        return 2
    engine = connect(args.db)
    started = time.perf_counter()
    learned, data, outcome = backtest(engine, args.seed, args.review_days)
    elapsed = time.perf_counter() - started
    hist_all = governed(engine, YEAR)
    hist_2024 = governed(engine, Period(start=dt.date(2024, 1, 1), end=LEARN_AS_OF))
    print(report(learned, data, outcome, hist_all, hist_2024, args, elapsed))
    return 0


def report(
    learned: Learned,
    data: Replay,
    o: Outcome,
    hist_all: dict[str, float],
    hist_2024: dict[str, float],
    args: argparse.Namespace,
    elapsed_s: float,
) -> str:
    p = learned.params
    n = len(p)
    under = o.cycles_policy > 0
    lines = [
        f"# Replenishment backtest on `{args.db}` (learn 2024, replay 2025; seed {args.seed}, "
        f"review every {args.review_days} days)",
        "",
        f"{n:,} SKU x warehouse pairs active on {LEARN_AS_OF} replayed over {DAYS} days "
        f"(learn, load and replay in {elapsed_s:.1f} s). Historical stockout days of 2025 "
        f"({data.censored.mean():.1%} of pair-days) have imputed demand, adding "
        f"{data.demand.sum() / data.sold.sum() - 1:+.1%} to the recorded units. {under.sum():,} pairs placed "
        f"at least one order and ran under the policy after it arrived; the others lived on the stock of "
        f"2024-12-31 all year.",
        "",
        "## Service by ABC class vs target",
        "",
        "Cycle service level: share of review cycles without lost demand. Fill rate: served / demanded units. "
        "*Under the policy*: cycles and days after the pair's first order arrived; *all*: the whole year.",
        "",
        "| class | pairs | target | CSL under the policy | fill rate under the policy | CSL - target "
        "| fill - target | CSL, all | fill rate, all |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for cls, c in service_by_class(learned, o).items():
        gaps = (
            f"{c.target:.0%} | {c.csl:.2%} | {c.fill:.2%} | {(c.csl - c.target) * 100:+.1f} pt | "
            f"{(c.fill - c.target) * 100:+.1f} pt"
            if cls != "all"
            else f" | {c.csl:.2%} | {c.fill:.2%} | |"
        )
        lines.append(f"| {cls} | {c.pairs:,} | {gaps} | {c.csl_all:.2%} | {c.fill_all:.2%} |")

    pair_days = n * DAYS
    dio = _ratio(o.inventory_value.sum(), o.cogs.sum())
    legacy_dio = _ratio(o.legacy_value.sum(), o.cogs.sum())
    h2_dio = _ratio(o.h2_inventory_value.sum(), o.h2_cogs.sum())
    h2_days = DAYS - (dt.date(2025, 7, 1) - YEAR.start).days
    same_dio = _ratio(data.hist_inventory_value, data.hist_cogs)
    lines += [
        "",
        "## Stock over the whole of 2025",
        "",
        "| | stockout rate | days of inventory | fill rate | purchase-order lines |",
        "|---|---:|---:|---:|---:|",
        f"| case study, before | {CASE_BEFORE['stockout_rate']:.1%} | {CASE_BEFORE['dio']:.0f} | | |",
        f"| case study, after | {CASE_AFTER['stockout_rate']:.1%} | {CASE_AFTER['dio']:.0f} | | |",
        f"| data 2024, governed (all pairs) | {hist_2024['stockout_rate']:.2%} | {hist_2024['dio']:.1f} | | |",
        f"| data 2025, governed (all pairs) | {hist_all['stockout_rate']:.2%} | {hist_all['dio']:.1f} | | |",
        f"| data 2025, the {n:,} replayed pairs | {data.censored.mean():.2%} | {same_dio:.1f} | "
        f"{data.sold.sum() / data.demand.sum():.2%} | {data.hist_order_lines:,} |",
        f"| **recommended policy, replayed** | **{o.stockout_days.sum() / pair_days:.2%}** | **{dio:.1f}** | "
        f"{o.served.sum() / o.demanded.sum():.2%} | {o.order_lines:,} |",
        f"| ... of which stock left from 2024-12-31 | | {legacy_dio:.1f} | | |",
        f"| recommended policy, July-December | {o.h2_stockout_days.sum() / (n * h2_days):.2%} | {h2_dio:.1f} | | |",
        "",
        "Stockout rate: share of pair-days ending with on_hand 0 (the governed stockout_rate). Days of inventory: "
        "average inventory value / daily COGS at unit cost (the governed dio), so the rows split additively: the "
        "old policy's stock of 2024-12-31 (served first) can only be sold down in a replay, since clearing it "
        "(markdowns, returns, transfers: the tool's overstock and slow_mover actions) is not simulated. The "
        "historical fill rate is the recorded sales over the same imputed demand. Pairs launched during 2025 are "
        "not replayed (no 2024 history to learn from).",
    ]
    by_class = pd.DataFrame(
        {"abc": p["abc_class"], "value": o.inventory_value, "legacy": o.legacy_value, "cogs": o.cogs}
    )
    grouped = by_class.groupby("abc")[["value", "legacy", "cogs"]].sum()
    lines += [
        "",
        "| class | days of inventory | of which 2024 stock | share of inventory value |",
        "|---|---:|---:|---:|",
    ]
    for cls, row in grouped.iterrows():
        lines.append(
            f"| {cls} | {_ratio(row['value'], row['cogs']):.1f} | {_ratio(row['legacy'], row['cogs']):.1f} | "
            f"{row['value'] / grouped['value'].sum():.1%} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
