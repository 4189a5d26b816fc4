"""AR and AP aging on an as-of day: each party's open balance split by days past due.

A document is open on day d as the contract defines a balance (``doc_date <= d`` and
``paid_date IS NULL OR paid_date > d``), so the buckets of all parties sum to the governed
balance on d (``ar_balance`` / ``ap_balance`` over the one-day period [d, d]). Buckets are by
``d - due_date``: not yet due (``current``), then 1-30, 31-60, 61-90 and over 90 days overdue.
One grouped SELECT per ledger does all of it (the model's reads ``ccc.ar_aging`` and
``ccc.ap_aging``); the threshold for the overdue alert is one more CASE column, so no per-party
loop exists.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from tools.base import ToolContext
from tools.ccc.metrics import ROW_LIMIT, TIMEOUT_S


@dataclass(frozen=True)
class Bucket:
    column: str
    low: int | None  # days past due, inclusive; None = no lower bound
    high: int | None  # inclusive; None = no upper bound


BUCKETS = (
    Bucket("current", None, 0),
    Bucket("overdue_1_30", 1, 30),
    Bucket("overdue_31_60", 31, 60),
    Bucket("overdue_61_90", 61, 90),
    Bucket("overdue_over_90", 91, None),
)
BUCKET_COLUMNS = tuple(b.column for b in BUCKETS)
#: The aging reads' bound parameters (``<column>_low`` / ``<column>_high``): the reads take their
#: bounds from BUCKETS, so a bound changed here cannot disagree with the SQL.
BOUNDS = {
    f"{b.column}_{side}": bound
    for b in BUCKETS
    for side, bound in (("low", b.low), ("high", b.high))
    if bound is not None
}
#: The headline share: the balance more than this many days past due (whole buckets beyond it).
HEADLINE_DAYS = 60
#: The part of the balance more than ``overdue_days`` past due (the alert's threshold).
BEYOND = "overdue_beyond_threshold"


#: The model's aging reads (reads.yaml), one per ledger: receivables by customer, payables by supplier.
RECEIVABLES = "ccc.ar_aging"
PAYABLES = "ccc.ap_aging"


def aging(context: ToolContext, ledger: str, as_of: dt.date, beyond_days: int) -> tuple[pd.DataFrame, str]:
    """The aging frame (one row per party, most overdue first) and the SQL that produced it.

    Columns: the party's key and columns, ``balance``, the bucket columns, ``overdue`` (everything
    past due), ``overdue_beyond_threshold``, ``max_days_past_due``, ``open_documents``. The read
    sums each bucket of ``BUCKETS`` (``bucket_<column>``) between the bounds it is given from there.
    """
    frame, sql = context.reader.frame(
        ledger,
        row_limit=ROW_LIMIT,
        timeout_s=TIMEOUT_S,
        what="the aging analysis",
        as_of=as_of,
        beyond_days=beyond_days,
        **BOUNDS,
    )
    frame = frame.rename(columns={f"bucket_{c}": c for c in BUCKET_COLUMNS})
    money = ["balance", *BUCKET_COLUMNS, "overdue", BEYOND]
    frame[money] = frame[money].astype(float)
    frame = frame.sort_values([BEYOND, "overdue", "balance"], ascending=False, kind="stable")
    return frame.reset_index(drop=True), sql


def summary(frame: pd.DataFrame) -> dict[str, float]:
    """Totals over all parties: balance, each bucket and its share, overdue, beyond the threshold and
    more than 60 days past due, with their shares. (More than 60 days *past due*: the governed
    ``ar_over_60_share`` counts 60 days from the invoice date instead, a different number.)"""
    totals = {c: float(frame[c].sum()) for c in ("balance", *BUCKET_COLUMNS, "overdue", BEYOND)}
    balance = totals["balance"]
    over_60 = sum(totals[b.column] for b in BUCKETS if b.low is not None and b.low > HEADLINE_DAYS)
    totals["overdue_over_60"] = over_60
    totals["overdue_share"] = totals["overdue"] / balance if balance else float("nan")
    totals["overdue_over_60_share"] = over_60 / balance if balance else float("nan")
    totals["beyond_threshold_share"] = totals[BEYOND] / balance if balance else float("nan")
    for column in BUCKET_COLUMNS:
        totals[f"{column}_share"] = totals[column] / balance if balance else float("nan")
    return totals
