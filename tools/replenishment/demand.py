"""What the warehouse says about demand, stock and supply, read in a few aggregate SQL statements.

Demand is what customers wanted, not what was sold: on a day a SKU-warehouse ends with
``on_hand_qty = 0`` the sales it recorded are only what the stock could serve, so that day is
*censored* and left out of every demand statistic (it is neither a zero nor a low day). The
statistics are taken on the in-stock days only.

Seasonality, the weekly rhythm and promotions are one multiplicative daily index per category
and warehouse, estimated in SQL with a ratio estimator over in-stock days::

    index(c, w, d) = warehouse index(w, d) * category ratio(c, w, d)
    warehouse index(w, d) = sum of in-stock sales / sum of the same pairs' plain in-stock means

The warehouse part keeps one-day spikes (11.11) and dips; the category ratio (summer, winter,
gifting categories) is pooled over a centred week because a single category-day is noisy. Each
pair's rate is then the recency-weighted mean of its *deseasonalised* in-stock demand
``qty / index``, so a rate learned in November does not carry 11.11 into January.

Everything is aggregated in SQL, the model's ``replenishment.*`` reads (reads.yaml: tens of
thousands of rows come back for millions read); the rest is vectorised in pandas by the callers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tools.reads import Reader
from tools.replenishment import policy

#: Half-life (days) of the weights of the demand rate: eight weeks follows a product's life
#: cycle (launch ramp, decline) while still averaging a couple of hundred days of noise.
SHORT_HALF_LIFE = 56
#: Half-life for intermittent demand: a few sales a quarter cannot support an eight-week estimate.
LONG_HALF_LIFE = 182
#: A category-day index below this is treated as this (a day with almost no sales in stock
#: would otherwise blow up ``qty / index``).
INDEX_FLOOR = 0.2
#: Purchase orders placed this recently are left out of the lead-time sample: the slow ones
#: among them have not arrived yet, and keeping only the fast ones would bias lead times down.
LEAD_TIME_SETTLE_DAYS = 60
#: Distinct purchase-order quantities needed before their GCD is taken as the order multiple.
MIN_DISTINCT_QUANTITIES = 3
MAX_ROWS = 1_000_000
TIMEOUT_S = 60.0


@dataclass
class History:
    """One year of demand history ending ``as_of``, aggregated for the policy maths."""

    as_of: dt.date
    start: dt.date
    pairs: pd.DataFrame  # one row per active SKU x warehouse on as_of (the read replenishment.pairs)
    index: pd.DataFrame  # category, warehouse_id, day, num, den, idx
    channel_units: pd.DataFrame  # warehouse_id, channel, units
    promotions: pd.DataFrame  # channel (None = all), start_date, end_date
    promo_calendar_end: dt.date | None  # the last day the promotion calendar covers
    lead_times: pd.DataFrame  # supplier_id, quoted, quoted_sd, n, observed, observed_sd
    order_multiple: pd.Series  # by sku_id: GCD of its purchase-order quantities
    sql: str  # the main statement (the answer shows the last SQL that ran)


def year_start(as_of: dt.date) -> dt.date:
    """The first day of the year ending ``as_of`` (2024-12-31 -> 2024-01-01, leap years included)."""
    try:
        earlier = as_of.replace(year=as_of.year - 1)
    except ValueError:  # 29 February
        earlier = as_of.replace(year=as_of.year - 1, day=28)
    return earlier + dt.timedelta(days=1)


def latest_snapshot(reader: Reader, on_or_before: dt.date) -> dt.date | None:
    """The last inventory snapshot date not after ``on_or_before`` (None when there is none)."""
    value = _frame(reader, "replenishment.latest_snapshot", on_or_before=on_or_before)[0].iloc[0]["day"]
    return _as_date(value) if not pd.isna(value) else None


def load_history(reader: Reader, as_of: dt.date) -> History:
    """Read the year ending ``as_of``: per-pair censored demand statistics, the daily index,
    channel mix, promotion calendar, supplier lead times and order multiples (the model's
    ``replenishment.*`` reads: how in-stock days, the index and the weights are computed is there)."""
    start = year_start(as_of)
    index = _frame(reader, "replenishment.daily_index", start=start, as_of=as_of, floor=INDEX_FLOOR)[0]
    index["day"] = pd.to_datetime(index["day"])
    pairs, ran = _frame(
        reader, "replenishment.pairs", start=start, as_of=as_of, floor=INDEX_FLOOR, short=SHORT_HALF_LIFE,
        long=LONG_HALF_LIFE, slow=policy.SLOW_MOVER_DAYS,
    )  # fmt: skip
    for column in ("last_sale", "first_day"):
        pairs[column] = pd.to_datetime(pairs[column])
    channel_units = _frame(reader, "replenishment.channel_units", start=start, as_of=as_of)[0]
    promotions = _frame(reader, "replenishment.promotions", start=start)[0]
    calendar_end = _frame(reader, "replenishment.promotion_calendar_end")[0].iloc[0]["last_day"]
    lead_times = _frame(reader, "replenishment.lead_times", start=start, as_of=as_of, settle=LEAD_TIME_SETTLE_DAYS)[0]
    quantities = _frame(reader, "replenishment.order_quantities", as_of=as_of)[0]
    return History(
        as_of=as_of,
        start=start,
        pairs=pairs,
        index=index,
        channel_units=channel_units,
        promotions=promotions,
        promo_calendar_end=_as_date(calendar_end) if not pd.isna(calendar_end) else None,
        lead_times=lead_times,
        order_multiple=order_multiples(quantities),
        sql=ran,
    )


def order_multiples(quantities: pd.DataFrame) -> pd.Series:
    """Per SKU, the greatest common divisor of its distinct purchase-order quantities: the case
    pack the supplier ships in. Two quantities that are k1 and k2 packs share a larger divisor
    about 40% of the time (24 and 48 from a pack of 12), three about 17%, so fewer than
    ``MIN_DISTINCT_QUANTITIES`` distinct quantities say nothing reliable about the pack (one may be
    a minimum order or a habit) and the multiple is 1."""
    if quantities.empty:
        return pd.Series(dtype="int64", name="order_multiple")
    frame = quantities.drop_duplicates().sort_values(["sku_id", "quantity"], kind="stable")
    sku = frame["sku_id"].to_numpy()
    qty = frame["quantity"].to_numpy(dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, sku[1:] != sku[:-1]])
    distinct = np.diff(np.r_[starts, len(sku)])
    gcd = np.where(distinct >= MIN_DISTINCT_QUANTITIES, np.gcd.reduceat(qty, starts), 1)
    return pd.Series(np.maximum(gcd, 1), index=sku[starts], name="order_multiple")


def demand_statistics(pairs: pd.DataFrame) -> pd.DataFrame:
    """Per pair: deseasonalised rate and daily standard deviation (censored days excluded),
    average demand interval (ADI) and squared CV of demand sizes (Syntetos-Boylan), weekly CV.

    Smooth pairs use the eight-week weights; intermittent ones (ADI > 1.32) the half-year
    weights, because their rate is a few sales averaged over many empty days. A pair with no
    in-stock day at all falls back to its raw mean over the year (a lower bound) and is flagged.
    """
    out = pd.DataFrame(index=pairs.index)
    in_stock = pairs["days_in_stock"].to_numpy(dtype=float)
    demand_days = pairs["demand_days"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        adi = np.where(demand_days > 0, in_stock / demand_days, np.inf)
        size_mean = pairs["size_sum"].to_numpy(dtype=float) / demand_days
        size_var = pairs["size_sq"].to_numpy(dtype=float) / demand_days - size_mean**2
        cv2 = np.where(demand_days > 1, np.maximum(size_var, 0.0) / size_mean**2, 0.0)
        intermittent = adi > policy.ADI_CUTOFF
        rate, sd = _weighted(pairs, "s")
        rate_l, sd_l = _weighted(pairs, "l")
    rate = np.where(intermittent, rate_l, rate)
    sd = np.where(intermittent, sd_l, sd)
    censored = in_stock < 1
    raw = pairs["units_year"].to_numpy(dtype=float) / np.maximum(pairs["days_active"].to_numpy(dtype=float), 1.0)
    out["rate"] = np.where(censored | ~np.isfinite(rate), raw, rate)
    out["demand_sd"] = np.where(censored | ~np.isfinite(sd), np.sqrt(raw), sd)
    out["adi"] = adi
    out["cv2"] = cv2
    out["intermittent"] = intermittent
    out["censored_share"] = 1.0 - in_stock / np.maximum(pairs["days_active"].to_numpy(dtype=float), 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["weekly_cv"] = np.where(out["rate"] > 0, out["demand_sd"] / (out["rate"] * np.sqrt(7.0)), np.inf)
    return out


def _weighted(pairs: pd.DataFrame, suffix: str) -> tuple[np.ndarray, np.ndarray]:
    sw = pairs[f"sw_{suffix}"].to_numpy(dtype=float)
    mean = pairs[f"swy_{suffix}"].to_numpy(dtype=float) / sw
    var = pairs[f"swyy_{suffix}"].to_numpy(dtype=float) / sw - mean**2
    return mean, np.sqrt(np.maximum(var, 0.0))


def _frame(reader: Reader, read: str, **params: object) -> tuple[pd.DataFrame, str]:
    return reader.frame(read, row_limit=MAX_ROWS, timeout_s=TIMEOUT_S, what="replenishment", **params)


def _as_date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))
