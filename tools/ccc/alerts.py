"""Alerts and the targets of recommendations, as pure, vectorised functions over result frames.

Each takes the frames the governed queries and the aging return and picks rows; none reads data,
so the rules are tested on small synthetic frames. The rules:

- DIO alert: categories whose DIO grew by more than the threshold vs the previous period
  (``dio_growth`` is the compiler's current / previous - 1).
- Overdue alert / collect: parties with a balance more than ``overdue_days`` past due, largest first.
- Reduce stock: in the alerted categories, SKUs whose average inventory value grew most while their
  DIO rose past the threshold too (or they sold nothing at all): the money newly tied up.
- Renegotiate terms: suppliers with the largest purchase volume whose payment terms are shorter
  than the purchase-weighted average terms; the target is the longest terms any supplier already
  gives. Paying such a supplier ``extra`` days later raises the average AP balance by about
  ``extra x purchases per day``, so DPO (AP balance / COGS per day) rises by about
  ``extra x purchases / COGS`` over the same period: an estimate that assumes bills keep being
  paid on terms and purchases stay at this period's level.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tools.ccc.aging import BEYOND

TOP = 3


def dio_rises(category: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Categories whose DIO rose by more than ``threshold`` (a share), the largest rise first."""
    rose = category[category["dio_growth"] > threshold]
    return rose.sort_values(["dio_growth", "category"], ascending=[False, True], kind="stable").reset_index(drop=True)


def overdue_parties(aging: pd.DataFrame) -> pd.DataFrame:
    """Parties with any balance beyond the aging's threshold, the largest such balance first."""
    late = aging[aging[BEYOND] > 0]
    return late.sort_values([BEYOND, "balance"], ascending=False, kind="stable").reset_index(drop=True)


def stock_to_reduce(skus: pd.DataFrame, threshold: float, limit: int = TOP) -> pd.DataFrame:
    """The SKUs that tied up the most new inventory money while turning slower (see module doc).

    Input columns: sku, dio, dio_previous, dio_growth, avg_inventory_value, avg_inventory_value_previous.
    Adds ``inventory_increase`` (current - previous average inventory value).
    """
    frame = skus.assign(
        inventory_increase=skus["avg_inventory_value"] - skus["avg_inventory_value_previous"].fillna(0.0)
    )
    unsold = frame["dio"].isna() & (frame["avg_inventory_value"] > 0)
    slower = (frame["dio_growth"] > threshold) | unsold
    picked = frame[slower & (frame["inventory_increase"] > 0)]
    return picked.nlargest(limit, "inventory_increase", keep="first").reset_index(drop=True)


def terms_to_renegotiate(purchases: pd.DataFrame, cogs: float, limit: int = TOP) -> tuple[pd.DataFrame, float]:
    """Suppliers to ask for longer terms (see module doc) and the purchase-weighted average terms.

    Input columns: supplier_id, supplier_name, payment_terms_days, purchase_amount (in the period).
    Adds ``target_terms_days`` and ``dpo_gain_days`` (NaN without COGS).
    """
    bought = purchases[purchases["purchase_amount"] > 0]
    if bought.empty:
        return bought.assign(target_terms_days=[], dpo_gain_days=[]), float("nan")
    amount, terms = bought["purchase_amount"].to_numpy(), bought["payment_terms_days"].to_numpy()
    weighted = float(np.average(terms, weights=amount))
    short = bought[terms < weighted].sort_values(
        ["purchase_amount", "supplier_id"], ascending=[False, True], kind="stable"
    )
    short = short.head(limit).assign(target_terms_days=float(terms.max()))
    gain = (short["target_terms_days"] - short["payment_terms_days"]) * short["purchase_amount"]
    short = short.assign(dpo_gain_days=gain / cogs if cogs and np.isfinite(cogs) and cogs > 0 else np.nan)
    return short.reset_index(drop=True), weighted


def ccc_driver(changes: dict[str, float]) -> str | None:
    """Which part moved CCC most in the direction it moved (``changes``: dio, dso, dpo, ccc deltas).

    DPO counts with its sign flipped: a shorter DPO lengthens the cycle.
    """
    total = changes.get("ccc")
    if total is None or not np.isfinite(total) or total == 0:
        return None
    pushes = {"dio": changes["dio"], "dso": changes["dso"], "dpo": -changes["dpo"]}
    same_way = {k: v * np.sign(total) for k, v in pushes.items() if np.isfinite(v) and v * total > 0}
    return max(same_way, key=lambda k: same_way[k]) if same_way else None
