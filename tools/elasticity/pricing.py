"""The price that maximises gross profit under a constant elasticity, kept to what the data support.

With demand ``q = q0 * (p / p0) ** e`` and unit cost ``c``, gross profit ``(p - c) * q`` peaks at
``p* = c * e / (1 + e)`` when ``e < -1`` (a markup over cost that shrinks as demand gets more
elastic). The fitted curve is only evidence between the lowest and highest prices the SKU actually
sold at (and its current price), so ``p*`` is clamped to that range. When ``-1 <= e < 0`` gross
profit rises with price without limit on the fitted curve: there is no interior optimum, and the
honest advice is a bounded increase to test (at most ``BOUNDED_STEP_MAX``, at least
``BOUNDED_STEP_MIN``, within the observed range when it reaches that far). An elasticity whose
confidence interval reaches zero or above (the data do not establish that demand falls with
price) gives no advice.

All functions are vectorised over SKUs (numpy arrays in, arrays out).
"""

from __future__ import annotations

import numpy as np

BOUNDED_STEP_MAX = 0.10
BOUNDED_STEP_MIN = 0.05

OPTIMUM = "optimum"  # p* inside the observed price range
OPTIMUM_AT_BOUND = "optimum_at_bound"  # p* outside it: the nearest observed price
BOUNDED_INCREASE = "bounded_increase"  # inelastic: no interior optimum, a bounded test increase
HOLD = "hold"  # no usable elasticity (missing, or its interval reaches zero) or no observed prices


def recommend(
    elasticity: np.ndarray,
    ci_high: np.ndarray,
    unit_cost: np.ndarray,
    current: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Recommended prices and the rule that produced each (one of the module's rule names);
    ``ci_high`` is the upper end of the elasticity's confidence interval, ``low``/``high`` the
    lowest and highest prices observed."""
    e = np.asarray(elasticity, dtype=float)
    upper = np.asarray(ci_high, dtype=float)
    cost = np.asarray(unit_cost, dtype=float)
    now = np.asarray(current, dtype=float)
    low = np.asarray(low, dtype=float)
    high = np.asarray(high, dtype=float)
    usable = (
        np.isfinite(e) & (e < 0) & (upper < 0) & np.isfinite(now) & (now > 0) & np.isfinite(low) & np.isfinite(high)
    )
    elastic = usable & (e < -1)
    inelastic = usable & ~elastic

    with np.errstate(divide="ignore", invalid="ignore"):
        optimum = cost * e / (1 + e)
    # The current price counts as observed: clamping must never move the price away from p*.
    clamped = np.clip(optimum, np.minimum(low, now), np.maximum(high, now))
    step = np.minimum(now * (1 + BOUNDED_STEP_MAX), np.maximum(high, now * (1 + BOUNDED_STEP_MIN)))

    price = np.where(elastic, clamped, np.where(inelastic, step, now))
    rule = np.full(e.shape, HOLD, dtype=object)
    rule[elastic] = np.where(np.isclose(clamped, optimum)[elastic], OPTIMUM, OPTIMUM_AT_BOUND)
    rule[inelastic] = BOUNDED_INCREASE
    return price, rule


def gross_profit_change(
    units: np.ndarray, unit_cost: np.ndarray, current: np.ndarray, new: np.ndarray, elasticity: np.ndarray
) -> np.ndarray:
    """Change in gross profit from moving ``current`` to ``new`` on the fitted demand curve,
    for ``units`` sold at the current price (zero where the price does not change)."""
    units = np.asarray(units, dtype=float)
    cost = np.asarray(unit_cost, dtype=float)
    now = np.asarray(current, dtype=float)
    new = np.asarray(new, dtype=float)
    e = np.asarray(elasticity, dtype=float)
    moved = np.isfinite(e) & (now > 0) & (new != now)
    with np.errstate(divide="ignore", invalid="ignore"):
        after = (new - cost) * (new / now) ** e
    return np.where(moved, units * (after - (now - cost)), 0.0)
