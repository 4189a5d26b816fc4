"""From a year of history to one recommendation per SKU x warehouse (all pairs at once).

The backtest and the benchmark call :func:`learn` and :func:`policy_at` directly: the first turns
the history into per-pair parameters (rate, spread, lead time, class, target, order multiple) and
a projected seasonal calendar; the second gives the reorder point for any review day, so a
policy learned once can be replayed over the following year.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tools.replenishment import policy
from tools.replenishment.demand import History, demand_statistics
from tools.replenishment.seasonality import ForecastCalendar, project

#: Weight (in purchase orders) of the supplier's quoted lead time against the observed ones.
QUOTED_WEIGHT = 5.0
#: Days of calendar beyond the review day that any protection interval can need.
CALENDAR_MARGIN = 120


@dataclass
class Learned:
    """Per-pair parameters (``params``, aligned with ``history.pairs``) and the forecast calendar."""

    history: History
    params: pd.DataFrame
    calendar: ForecastCalendar
    review_days: int


def learn(
    history: History,
    review_days: int,
    service_levels: Mapping[str, float] | None = None,
    horizon_days: int = 0,
) -> Learned:
    """Parameters of every pair; the calendar covers ``horizon_days`` of reviews after as_of."""
    pairs = history.pairs
    params = demand_statistics(pairs)
    params["abc_class"] = policy.abc_classes(pairs["sku_id"].to_numpy(), pairs["sku_revenue"].to_numpy())
    params["xyz_class"] = policy.xyz_classes(params["weekly_cv"].to_numpy())
    params["demand_pattern"] = policy.demand_patterns(params["adi"].to_numpy(), params["cv2"].to_numpy())
    params["service_level"] = policy.service_targets(params["abc_class"].to_numpy(), service_levels)
    lead = lead_times(history)
    params["lead_time_days"] = pairs["supplier_id"].map(lead["mean"]).fillna(lead["mean"].median()).to_numpy()
    params["lead_time_sd_days"] = pairs["supplier_id"].map(lead["sd"]).fillna(lead["sd"].median()).to_numpy()
    params["order_multiple"] = pairs["sku_id"].map(history.order_multiple).fillna(1).astype(float).to_numpy()
    first = history.as_of + dt.timedelta(days=1)
    calendar = project(history, first, horizon_days + CALENDAR_MARGIN)
    params["calendar_row"] = calendar.rows(pairs["category"].to_numpy(), pairs["warehouse_id"].to_numpy())
    return Learned(history=history, params=params, calendar=calendar, review_days=review_days)


def lead_times(history: History) -> pd.DataFrame:
    """Per supplier, lead-time mean and standard deviation: the observed purchase orders, shrunk
    towards the supplier's quoted figures by ``QUOTED_WEIGHT`` orders (quotes tend to be optimistic,
    so with a real order history the observed figures dominate)."""
    frame = history.lead_times.set_index("supplier_id")
    n = frame["n"].astype(float).fillna(0.0)
    quoted = frame["quoted"].astype(float)
    quoted_var = frame["quoted_sd"].astype(float) ** 2
    observed = frame["observed"].astype(float).fillna(quoted)
    observed_var = (frame["observed_sd"].astype(float) ** 2).fillna(quoted_var)
    mean = (n * observed + QUOTED_WEIGHT * quoted) / (n + QUOTED_WEIGHT)
    var = (n * observed_var + QUOTED_WEIGHT * quoted_var) / (n + QUOTED_WEIGHT)
    return pd.DataFrame({"mean": mean, "sd": np.sqrt(var)})


def policy_at(learned: Learned, offset: np.ndarray | int, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Reorder points of the pairs ``rows`` (default all) at a review ``offset`` days after as_of:
    the protection interval is the ``L + R`` days that follow the review."""
    p = learned.params if rows is None else learned.params.iloc[rows]
    lead = p["lead_time_days"].to_numpy()
    length = np.ceil(lead + learned.review_days).astype(np.int64)
    index_mean = learned.calendar.window_mean(p["calendar_row"].to_numpy(), offset, length)
    return policy.reorder_points(
        p["rate"].to_numpy(),
        p["demand_sd"].to_numpy(),
        index_mean,
        lead,
        p["lead_time_sd_days"].to_numpy(),
        learned.review_days,
        p["service_level"].to_numpy(),
        p["intermittent"].to_numpy(),
        p["order_multiple"].to_numpy(),
    )


def recommend(learned: Learned) -> pd.DataFrame:
    """The recommendation table of every pair on as_of (all columns, unsorted, unfiltered)."""
    h, p = learned.history, learned.params
    pairs = h.pairs
    targets = policy_at(learned, 0)
    on_hand = pairs["on_hand_qty"].to_numpy(dtype=float)
    in_transit = pairs["in_transit_qty"].to_numpy(dtype=float)
    position = on_hand + in_transit
    multiple = p["order_multiple"].to_numpy()
    order = policy.order_quantities(position, targets["reorder_point"], multiple)
    daily = targets["avg_daily_demand"]
    active_90d = (
        pairs["first_day"] <= pd.Timestamp(h.as_of - dt.timedelta(days=policy.SLOW_MOVER_DAYS - 1))
    ).to_numpy()
    action = policy.actions(
        on_hand,
        in_transit,
        targets["reorder_point"],
        daily,
        p["lead_time_days"].to_numpy(),
        multiple,
        pairs["units_90d"].to_numpy(dtype=float),
        active_90d,
    )
    unit_cost = pairs["unit_cost"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        cover = np.where(daily > 0, position / daily, np.nan)
    out = pd.DataFrame(
        {
            "sku_id": pairs["sku_id"],
            "sku_name": pairs["sku_name"],
            "sku_name_en": pairs["sku_name_en"],
            "category": pairs["category"],
            "category_en": pairs["category_en"],
            "brand": pairs["brand"],
            "warehouse_id": pairs["warehouse_id"],
            "warehouse_name": pairs["warehouse_name"],
            "supplier_id": pairs["supplier_id"],
            "supplier_name": pairs["supplier_name"],
            "abc_class": p["abc_class"],
            "xyz_class": p["xyz_class"],
            "demand_pattern": p["demand_pattern"],
            "on_hand_qty": on_hand.astype(np.int64),
            "in_transit_qty": in_transit.astype(np.int64),
            "inventory_position": position.astype(np.int64),
            "avg_daily_demand": np.round(daily, 2),
            "demand_sd": np.round(targets["demand_sd"], 2),
            "lead_time_days": np.round(p["lead_time_days"].to_numpy(), 1),
            "lead_time_sd_days": np.round(p["lead_time_sd_days"].to_numpy(), 1),
            "service_level": p["service_level"],
            "safety_stock": targets["safety_stock"].astype(np.int64),
            "reorder_point": targets["reorder_point"].astype(np.int64),
            "order_multiple": multiple.astype(np.int64),
            "order_qty": order.astype(np.int64),
            "unit_cost": np.round(unit_cost, 2),
            "order_value": np.round(order * unit_cost, 2),
            "inventory_value": np.round(on_hand * unit_cost, 2),
            "days_of_cover": np.round(cover, 1),
            "last_sale_date": pairs["last_sale"].dt.date.astype(object).where(pairs["last_sale"].notna(), None),
            "stockout_share": np.round(p["censored_share"].to_numpy(), 4),
            "action": action,
        }
    )
    return out
