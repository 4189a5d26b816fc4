"""Tables derived from the simulated days: purchase orders, receivables, payables,
promotions, traffic and marketing.

Receivables follow the money: platforms settle each shop's week of sales, distributors are
invoiced monthly for the franchise stores they run. Payables follow the goods: one bill per
received purchase order, due on the supplier's payment terms. Some pay late, a few very
late, and whatever is unpaid on 2025-12-31 stays open.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from demo.calendar import Calendar
from demo.catalog import CHANNELS, CUSTOMERS, PLATFORM_CUSTOMER, STORES, Catalog
from demo.scales import DATA_END, DATA_START, WARMUP_START
from demo.simulate import SimulationResult

DAY0 = pd.Timestamp(WARMUP_START)
END = pd.Timestamp(DATA_END)
START = pd.Timestamp(DATA_START)

# Late payment profiles: (share on time +- a few days, share a few weeks late, share very late).
PLATFORM_LATENESS = (0.87, 0.11, 0.02)
DISTRIBUTOR_LATENESS = (0.5, 0.38, 0.12)
SUPPLIER_LATENESS = (0.70, 0.25, 0.05)

CONVERSION = {"tmall": 0.022, "jd": 0.025, "douyin": 0.014, "xiaohongshu": 0.018, "offline": 0.13}
COST_PER_ENGAGEMENT = {"tmall": 10.5, "jd": 11.0, "douyin": 7.2, "xiaohongshu": 8.0, "offline": 14.0}
MARKETING_SHARE_OF_GMV = {"tmall": 0.06, "jd": 0.05, "douyin": 0.09, "xiaohongshu": 0.12, "offline": 0.02}
PROMO_ROI_MEDIAN = 1.6


def _date(day: np.ndarray) -> pd.DatetimeIndex:
    return DAY0 + pd.to_timedelta(day, unit="D")


def _pay_delay(rng: np.random.Generator, n: int, profile: tuple[float, float, float], scale: float) -> np.ndarray:
    kind = rng.choice(3, size=n, p=profile)
    on_time = np.round(rng.normal(0, 2, n))
    late = rng.integers(5, int(25 * scale) + 6, n)
    very_late = rng.integers(int(45 * scale), int(160 * scale), n)
    return np.choose(kind, [on_time, late, very_late]).astype(np.int64)


def _settle(paid: pd.DatetimeIndex, doc_date: pd.DatetimeIndex) -> pd.Series:
    """A document is paid no earlier than it is issued; a payment after the data ends is unknown."""
    paid = pd.DatetimeIndex(np.maximum(paid.to_numpy(), doc_date.to_numpy()))
    return pd.Series(paid.date, dtype="object").where(paid <= END, None)


def purchase_orders(rng: np.random.Generator, cat: Catalog, sim: SimulationResult) -> pd.DataFrame:
    order = _date(sim.po_day)
    received = _date(sim.po_day + sim.po_lead)
    lead_mean = cat.suppliers["lead_time_days"].to_numpy()[cat.supplier_index[sim.po_sku]]
    frame = pd.DataFrame(
        {
            "supplier_id": cat.skus["supplier_id"].to_numpy()[sim.po_sku],
            "sku_id": cat.skus["sku_id"].to_numpy()[sim.po_sku],
            "warehouse_id": np.array(sim.warehouse_ids)[sim.po_warehouse],
            "order_date": order.date,
            "expected_date": _date(sim.po_day + np.ceil(lead_mean).astype(np.int64)).date,
            "received_date": pd.Series(received.date, dtype="object").where(received <= END, None),
            "quantity": sim.po_qty,
            "unit_cost": cat.unit_cost[sim.po_sku],
            "amount": np.round(sim.po_qty * cat.unit_cost[sim.po_sku], 2),
            "_received": received,
        }
    )
    return frame


def visible_purchase_orders(pos: pd.DataFrame) -> pd.DataFrame:
    """The purchase orders the data window can see: placed in it, or still arriving in it."""
    seen = pos[(pd.to_datetime(pos["order_date"]) >= START) | (pos["_received"] >= START)]
    return _number(seen.drop(columns="_received"), "po_id", "po", ["order_date", "warehouse_id", "sku_id"])


def payables(rng: np.random.Generator, cat: Catalog, pos: pd.DataFrame) -> pd.DataFrame:
    received = pos[pos["_received"] <= END]
    bills = received.groupby(["supplier_id", "_received"], as_index=False)["amount"].sum()
    terms = cat.suppliers.set_index("supplier_id")["payment_terms_days"]
    bill_date = pd.DatetimeIndex(bills["_received"])
    due = bill_date + pd.to_timedelta(terms.loc[bills["supplier_id"]].to_numpy(), unit="D")
    paid = due + pd.to_timedelta(_pay_delay(rng, len(bills), SUPPLIER_LATENESS, 0.8), unit="D")
    out = pd.DataFrame(
        {
            "supplier_id": bills["supplier_id"],
            "bill_date": bill_date.date,
            "due_date": due.date,
            "amount": bills["amount"].round(2),
            "paid_date": _settle(paid, bill_date),
        }
    )
    return _number(_visible(out, "bill_date"), "bill_id", "bill", ["bill_date", "supplier_id"])


def receivables(rng: np.random.Generator, cal: Calendar, sim: SimulationResult) -> pd.DataFrame:
    dates = cal.dates
    gmv = pd.DataFrame(sim.store_gmv_cents / 100.0, index=dates, columns=[s.store_id for s in STORES])
    parts = []
    week_end = dates + pd.to_timedelta((6 - dates.day_of_week) % 7, unit="D")
    for channel, customer in PLATFORM_CUSTOMER.items():
        cols = [s.store_id for s in STORES if s.channel == channel]
        weekly = gmv[cols].sum(axis=1).groupby(week_end).sum()
        parts.append(pd.DataFrame({"customer_id": customer, "invoice_date": weekly.index, "amount": weekly.to_numpy()}))
    month_end = dates + pd.offsets.MonthEnd(0)
    for customer in CUSTOMERS.loc[CUSTOMERS.customer_type == "distributor", "customer_id"]:
        cols = [s.store_id for s in STORES if s.operator == customer]
        monthly = gmv[cols].sum(axis=1).groupby(month_end).sum()
        parts.append(
            pd.DataFrame({"customer_id": customer, "invoice_date": monthly.index, "amount": monthly.to_numpy()})
        )
    inv = pd.concat(parts, ignore_index=True)
    inv = inv[(inv["invoice_date"] <= END) & (inv["amount"] > 0)].reset_index(drop=True)

    terms = CUSTOMERS.set_index("customer_id")
    invoice_date = pd.DatetimeIndex(inv["invoice_date"])
    due = invoice_date + pd.to_timedelta(terms.loc[inv["customer_id"], "payment_terms_days"].to_numpy(), unit="D")
    is_dist = (terms.loc[inv["customer_id"], "customer_type"] == "distributor").to_numpy()
    delay = np.where(
        is_dist,
        _pay_delay(rng, len(inv), DISTRIBUTOR_LATENESS, 1.0),
        _pay_delay(rng, len(inv), PLATFORM_LATENESS, 0.6),
    )
    paid = due + pd.to_timedelta(delay, unit="D")
    out = pd.DataFrame(
        {
            "customer_id": inv["customer_id"],
            "invoice_date": invoice_date.date,
            "due_date": due.date,
            "amount": inv["amount"].round(2),
            "paid_date": _settle(paid, invoice_date),
        }
    )
    return _number(_visible(out, "invoice_date"), "invoice_id", "inv", ["invoice_date", "customer_id"])


def _visible(docs: pd.DataFrame, date_col: str) -> pd.DataFrame:
    """Documents the data window can see: issued in it, or still unpaid when it opens."""
    issued = pd.to_datetime(docs[date_col])
    paid = pd.to_datetime(docs["paid_date"])
    return docs[(issued >= START) | paid.isna() | (paid >= START)]


def _number(docs: pd.DataFrame, id_col: str, prefix: str, order: list[str]) -> pd.DataFrame:
    docs = docs.sort_values(order, kind="stable").reset_index(drop=True)
    docs.insert(0, id_col, [f"{prefix}{i + 1:07d}" for i in range(len(docs))])
    return docs


def promotions(rng: np.random.Generator, cal: Calendar, sim: SimulationResult) -> pd.DataFrame:
    """Promotions that touch the data window. A campaign's cost (platform fees, samples,
    ads) is set so that its return lands around the case's ROI of 1.6, with a spread."""
    rows = []
    for i, p in enumerate(cal.promotions):
        if pd.Timestamp(p.end) < START:
            continue
        profit = sim.promo_profit_cents[i] / 100.0
        roi = PROMO_ROI_MEDIAN * float(rng.lognormal(0.0, 0.35))
        cost = max(round(max(profit, 0.0) / roi, -2), 500.0)
        rows.append((p.promo_id, p.promo_name, p.channel, p.start, p.end, p.discount_pct, cost))
    return pd.DataFrame(
        rows, columns=["promo_id", "promo_name", "channel", "start_date", "end_date", "discount_pct", "cost"]
    )


def traffic(rng: np.random.Generator, cal: Calendar, sim: SimulationResult) -> pd.DataFrame:
    first = cal.first_data_day
    orders = sim.store_orders[first:]
    conv = np.array([CONVERSION[s.channel] for s in STORES])
    rate = conv[None, :] * rng.lognormal(0.0, 0.12, orders.shape)
    visitors = np.round(orders / rate).astype(np.int64) + rng.integers(1, 20, orders.shape)
    days, stores = np.meshgrid(np.arange(orders.shape[0]), np.arange(orders.shape[1]), indexing="ij")
    return pd.DataFrame(
        {
            "date": cal.dates[first:][days.ravel()].date,
            "store_id": np.array([s.store_id for s in STORES])[stores.ravel()],
            "visitors": visitors.ravel(),
        }
    )


def marketing(rng: np.random.Generator, cal: Calendar, sim: SimulationResult) -> pd.DataFrame:
    first = cal.first_data_day
    gmv = sim.store_gmv_cents[first:] / 100.0
    rows = []
    for channel in CHANNELS:
        cols = [i for i, s in enumerate(STORES) if s.channel == channel]
        channel_gmv = gmv[:, cols].sum(axis=1)
        # Spend leads sales: budgets ramp up in the week before a sales day.
        lead = pd.Series(channel_gmv).rolling(7, min_periods=1).mean().shift(-5).bfill().ffill().to_numpy()
        spend = np.round(lead * MARKETING_SHARE_OF_GMV[channel] * rng.lognormal(0, 0.2, len(lead)), 2)
        cpe = COST_PER_ENGAGEMENT[channel] * rng.lognormal(0, 0.1, len(lead))
        engagements = np.maximum(np.round(spend / cpe), 0).astype(np.int64)
        impressions = (engagements * rng.uniform(25, 60, len(lead))).astype(np.int64)
        rows.append(
            pd.DataFrame(
                {
                    "date": cal.dates[first:].date,
                    "channel": channel,
                    "spend": spend,
                    "impressions": impressions,
                    "engagements": engagements,
                }
            )
        )
    return pd.concat(rows, ignore_index=True).sort_values(["date", "channel"], kind="stable").reset_index(drop=True)
