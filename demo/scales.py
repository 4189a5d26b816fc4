"""The sizes the demo can be built at, and the knobs that calibrate the simulated business.

The calibration knobs are tuned so that, at every scale, 2024 lands near the case's
"before" state (stockout rate 12%, DIO 78 days, gross margin 28.5%, CCC 56 days);
`benchmarks/demo_build.py` measures where each scale lands.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

DATA_START = date(2024, 1, 1)
DATA_END = date(2025, 12, 31)
REFERENCE_TODAY = date(2026, 1, 1)
# The simulation starts earlier so that stock, open purchase orders and open invoices
# at 2024-01-01 come from a running business rather than from an empty warehouse.
WARMUP_START = date(2023, 9, 1)


@dataclass(frozen=True)
class Scale:
    name: str
    n_sku: int
    demand_multiplier: float  # multiplies every store's demand: more order lines, same shape
    description: str


SCALES: dict[str, Scale] = {
    "small": Scale("small", 300, 1.0, "about 300 SKUs; builds in seconds, for tests"),
    "case": Scale("case", 6000, 1.0, "about 6,000 SKUs, 17 selling points, 2 years: millions of order lines"),
    "large": Scale("large", 6000, 13.0, "the case's shape with 10x the order lines, for benchmarks"),
}


@dataclass(frozen=True)
class Policy:
    """The retailer's (deliberately mediocre) replenishment policy, as the simulation runs it."""

    review_days: int = 21  # periodic review: each SKU-warehouse is looked at every three weeks
    rop_factor: float = 0.1  # reorder point = forecast * lead time * this: no safety stock
    cover_days: float = 115.0  # order enough for this many days of (censored) forecast sales
    forecast_alpha: float = 0.04  # EWMA over recorded sales, which stockouts censor
    min_order_units: int = 12  # minimum order quantity (one case): overstocks the slow tail


POLICY = Policy()
